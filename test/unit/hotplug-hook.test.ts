/**
 * dom0-scripts/hotplug/vif-post.d/00-vifq.hook, sourced the way Xen's vif-bridge sources it
 * (`call_hooks vif post`: `. hook` in a bash with `set -e` and `trap sigerr ERR`). It sends one
 * JSON line to the control socket, and it never fails the hotplug: no socket, a stale socket, a
 * service that never answers, each returns to the caller at once (or within its 3 s bound) and
 * the caller's next line runs. Both clients are exercised: python3, and node alone on PATH (the
 * lab's dom0 has node but no python3).
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, statSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const hook = fileURLToPath(new URL('../../dom0-scripts/hotplug/vif-post.d/00-vifq.hook', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'vifq-hook-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** PATH with only node and timeout: the lab's dom0 (no python3). */
const nodeOnly = join(dir, 'bin-node');
mkdirSync(nodeOnly);
symlinkSync(process.execPath, join(nodeOnly, 'node'));
symlinkSync('/usr/bin/timeout', join(nodeOnly, 'timeout'));
/** PATH with the system's python3 (not a pyenv shim, which takes seconds to start), node and timeout. */
const withPython = join(dir, 'bin-python');
mkdirSync(withPython);
symlinkSync('/usr/bin/python3', join(withPython, 'python3'));
symlinkSync(process.execPath, join(withPython, 'node'));
symlinkSync('/usr/bin/timeout', join(withPython, 'timeout'));
const logFile = join(dir, 'hotplug.log');

interface Run { code: number | null; stdout: string; stderr: string; ms: number }

/** Source the hook like xen-hotplug-common.sh's call_hooks, then print AFTER. */
function sourceHook(env: Record<string, string>, path = withPython): Promise<Run> {
  const script = `set -e
sigerr() { echo "HOTPLUG FAILED" >&2; exit 1; }
trap sigerr ERR
log() { echo "log: $*" >> "$LOGFILE"; }
command=\${TEST_COMMAND}; type_if=vif; dev=\${TEST_DEV}
for f in "$HOOK"; do if [ -x "$f" ]; then . "$f"; fi; done
echo "AFTER dev=$dev command=$command"`;
  const t0 = Date.now();
  return new Promise((resolve) => {
    // the hook adds only /usr/local/bin to PATH, which has neither python3 nor node here
    execFile('/bin/bash', ['-c', script], { env: { PATH: path, HOOK: hook, LOGFILE: logFile, ...env }, timeout: 10_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

async function listen(path: string, onLine: (line: string, sock: Socket) => void): Promise<Server> {
  const srv = createServer((sock) => {
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) { onLine(buf.slice(0, i), sock); buf = buf.slice(i + 1); }
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => srv.listen(path, r));
  return srv;
}

t.test('the hook is executable (call_hooks sources only executable *.hook files) and valid bash', async (t) => {
  t.ok((statSync(hook).mode & 0o111) !== 0, 'mode has x bits');
  const r = await new Promise<number | null>((res) => execFile('/bin/bash', ['-n', hook], (e) => res(e ? 1 : 0)));
  t.equal(r, 0, 'bash -n');
});

for (const client of ['python3', 'node'] as const) {
  t.test(`${client}: one nudge line for the vif, answered, and the hotplug script carries on`, async (t) => {
    const sock = join(dir, `ctl-${client}.sock`);
    const lines: string[] = [];
    const srv = await listen(sock, (line, s) => { lines.push(line); s.write('{"id":1,"result":{"ok":true}}\n'); });
    t.teardown(() => srv.close());
    const r = await sourceHook({ TEST_COMMAND: 'online', TEST_DEV: 'vif7.0', VIFQ_CONTROL_SOCKET: sock },
      client === 'node' ? nodeOnly : undefined);
    t.equal(r.code, 0, `exit 0 (stderr: ${r.stderr})`);
    t.match(r.stdout, /AFTER dev=vif7\.0 command=online/, 'the caller\'s next line ran, its variables intact');
    t.same(lines.map((l) => JSON.parse(l) as unknown), [{ id: 1, method: 'nudge', params: { vif: 'vif7.0', reason: 'hotplug' } }]);
    t.ok(r.ms < 3500, `bounded by the hook's 3 s timeout: ${r.ms} ms`);
  });
}

t.test('the vif name is JSON-encoded by the client, not by the shell', async (t) => {
  const sock = join(dir, 'ctl-quote.sock');
  const lines: string[] = [];
  const srv = await listen(sock, (line, s) => { lines.push(line); s.end('{"id":1,"result":{}}\n'); });
  t.teardown(() => srv.close());
  const name = 'we"ird\\$(x)';
  const r = await sourceHook({ TEST_COMMAND: 'online', TEST_DEV: name, VIFQ_CONTROL_SOCKET: sock });
  t.equal(r.code, 0);
  t.same(lines.map((l) => JSON.parse(l) as { params: { vif: string } }).map((m) => m.params.vif), [name]);
});

t.test('never fails the hotplug', async (t) => {
  const missing = await sourceHook({ TEST_COMMAND: 'online', TEST_DEV: 'vif1.0', VIFQ_CONTROL_SOCKET: join(dir, 'none.sock') });
  t.equal(missing.code, 0, 'no control socket (vifqd not running): exit 0');
  t.match(missing.stdout, /AFTER/);
  t.notMatch(missing.stderr, /HOTPLUG FAILED/);

  const stale = join(dir, 'stale.sock');
  const srv = await listen(stale, () => {});
  await new Promise<void>((r) => srv.close(() => r()));
  // node removes the socket file on close; leave a stale socket file like a killed vifqd would
  const py = await new Promise<number | null>((res) => execFile('python3', ['-c', `import socket; s=socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(stale)})`], (e) => res(e ? 1 : 0)));
  t.equal(py, 0, 'a stale socket file is in place');
  const refused = await sourceHook({ TEST_COMMAND: 'online', TEST_DEV: 'vif1.0', VIFQ_CONTROL_SOCKET: stale });
  t.equal(refused.code, 0, 'a stale socket (connection refused): exit 0');
  t.match(refused.stdout, /AFTER/);
  t.match(readFileSync(logFile, 'utf8'), /log: debug vifq: nudge for vif1\.0 .* failed/, 'logged through the hotplug scripts\' log at debug');

  for (const client of ['python3', 'node'] as const) {
    const mute = join(dir, `mute-${client}.sock`);
    const lines: string[] = [];
    const m = await listen(mute, (line) => { lines.push(line); });
    const hung = await sourceHook({ TEST_COMMAND: 'online', TEST_DEV: 'vif2.0', VIFQ_CONTROL_SOCKET: mute }, client === 'node' ? nodeOnly : undefined);
    m.close();
    t.equal(hung.code, 0, `${client}: a service that never answers: exit 0`);
    t.match(hung.stdout, /AFTER/);
    t.ok(hung.ms < 3500, `${client}: bounded: ${hung.ms} ms`);
    t.equal(lines.length, 1, `${client}: the line was delivered`);
  }

  const file = join(dir, 'not-a-socket');
  writeFileSync(file, '');
  const notSock = await sourceHook({ TEST_COMMAND: 'online', TEST_DEV: 'vif1.0', VIFQ_CONTROL_SOCKET: file });
  t.equal(notSock.code, 0, 'a regular file where the socket should be: exit 0');
});

t.test('only for a vif coming online: offline/remove send nothing', async (t) => {
  const sock = join(dir, 'ctl-off.sock');
  const lines: string[] = [];
  const srv = await listen(sock, (line, s) => { lines.push(line); s.write('{}\n'); });
  t.teardown(() => srv.close());
  for (const c of ['offline', 'remove', 'add']) {
    const r = await sourceHook({ TEST_COMMAND: c, TEST_DEV: 'vif3.0', VIFQ_CONTROL_SOCKET: sock });
    t.equal(r.code, 0, c);
    t.match(r.stdout, new RegExp(`AFTER dev=vif3\\.0 command=${c}`));
  }
  t.same(lines, []);
});
