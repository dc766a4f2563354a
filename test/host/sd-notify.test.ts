/**
 * sd_notify through the addon against a real AF_UNIX SOCK_DGRAM socket (bound by a python3
 * helper, the way systemd binds $NOTIFY_SOCKET), at a path and at an abstract address. The
 * helper asks for SO_PASSCRED, so it also checks what NotifyAccess=main checks: the sender's pid
 * is ours. No root needed. The last test runs a real Type=notify unit through systemd-run when
 * systemd is PID 1 and we are root; otherwise it is skipped with the reason.
 */
import t from 'tap';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { SdNotifyError, SystemdNotifier, loadSdNotifySender } from '../../src/service/sd-notify.js';
import { VifqError } from '../../src/errors.js';

interface Datagram { data: string; pid: number }

/** Binds ADDR ('@name' = abstract), prints "bound", then one JSON line per datagram with the sender's pid. */
const RECEIVER = `
import json, socket, struct, sys
addr = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind('\\0' + addr[1:] if addr.startswith('@') else addr)
print('bound', flush=True)
while True:
    data, anc, flags, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
    pid = -1
    for level, typ, cd in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
            pid = struct.unpack('iII', cd[:12])[0]
    print(json.dumps({'data': data.decode(), 'pid': pid}), flush=True)
`;

const python = spawnSync('python3', ['--version']).status === 0;
const noAddon = loadSdNotifySender() ? false : 'the native addon is not built (npm run build:native)';
const skip = !python ? 'python3 is not installed' : noAddon;

class Receiver {
  readonly received: Datagram[] = [];
  private waiters: Array<() => void> = [];
  private constructor(readonly child: ChildProcessWithoutNullStreams) {}

  static async start(addr: string): Promise<Receiver> {
    const child = spawn('python3', ['-c', RECEIVER, addr]);
    const r = new Receiver(child);
    const rl = createInterface({ input: child.stdout });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`receiver exited ${code}: ${stderr}`)));
      rl.on('line', (line) => {
        if (line === 'bound') { resolve(); return; }
        r.received.push(JSON.parse(line) as Datagram);
        for (const w of r.waiters.splice(0)) w();
      });
    });
    return r;
  }

  async waitFor(n: number, ms = 3000): Promise<Datagram[]> {
    const deadline = Date.now() + ms;
    while (this.received.length < n && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const tm = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => { clearTimeout(tm); resolve(); });
      });
    }
    return this.received.slice(0, n);
  }

  stop(): void { this.child.kill(); }
}

for (const kind of ['path', 'abstract'] as const) {
  t.test(`ready, status, stopping and watchdog arrive at a ${kind} NOTIFY_SOCKET, sent by this pid`, { skip }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'vifq-sdn-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const addr = kind === 'path' ? join(dir, 'notify') : `@vifq-test-notify-${process.pid}-${Date.now()}`;
    const rx = await Receiver.start(addr);
    t.teardown(() => rx.stop());

    const n = SystemdNotifier.fromEnv({ NOTIFY_SOCKET: addr, WATCHDOG_USEC: '100000', WATCHDOG_PID: String(process.pid) });
    const warnings: VifqError[] = [];
    n.on('warning', (e) => warnings.push(e));
    t.ok(n.enabled);
    t.equal(n.watchdogUsec, 100000);
    t.equal(n.ready('reconciling 3 vifs'), true, 'ready() sent');
    t.equal(n.status('3 vifs\nSTOPPING=1'), true, 'status() sent');
    t.equal(n.watchdog(), true, 'watchdog() sent');
    t.equal(n.stopping(), true, 'stopping() sent');
    const got = await rx.waitFor(4);
    t.same(got.map((d) => d.data), [
      'READY=1\nSTATUS=reconciling 3 vifs',
      'STATUS=3 vifs STOPPING=1', // a newline in a status text cannot forge a field
      'WATCHDOG=1',
      'STOPPING=1',
    ]);
    t.same(got.map((d) => d.pid), [process.pid, process.pid, process.pid, process.pid], 'SCM_CREDENTIALS carry our pid (NotifyAccess=main)');

    // the watchdog timer: every 50 ms (half of 100 ms), unref'd, stopped by stop()
    t.equal(n.startWatchdog(), true);
    t.equal(n.startWatchdog(), true, 'a second start keeps the one timer');
    const before = rx.received.length;
    const pings = await rx.waitFor(before + 4, 2000);
    t.ok(pings.slice(before).every((d) => d.data === 'WATCHDOG=1'), 'pings are WATCHDOG=1');
    t.ok(pings.length >= before + 4, `>= 4 pings within 2 s (got ${pings.length - before})`);
    n.close();
    n.close();
    await new Promise((r) => setTimeout(r, 200));
    const after = rx.received.length;
    await new Promise((r) => setTimeout(r, 200));
    t.equal(rx.received.length, after, 'no ping after close()');
    t.equal(n.startWatchdog(), false, 'no restart after close()');
    t.same(warnings, [], 'no warnings');
  });
}

t.test('a NOTIFY_SOCKET nobody listens on: false and one typed warning per failed send, no throw', { skip }, async (t) => {
  const n = SystemdNotifier.fromEnv({ NOTIFY_SOCKET: `@vifq-test-nobody-${process.pid}` });
  const warnings: VifqError[] = [];
  n.on('warning', (e) => warnings.push(e));
  t.equal(n.ready(), false);
  t.equal(n.watchdog(), false);
  t.equal(warnings.length, 2);
  const w = warnings[0];
  t.ok(w instanceof SdNotifyError);
  t.equal((w as SdNotifyError).code, 'ECONNREFUSED');
  t.match(w?.message ?? '', /sending READY=1 to systemd at NOTIFY_SOCKET=@vifq-test-nobody-\d+ failed/);
  t.equal(n.startWatchdog(), false, 'no WATCHDOG_USEC: no watchdog');
  n.on('warning', () => { throw new Error('listener bug'); });
  t.doesNotThrow(() => n.status('x'), 'a throwing warning listener does not make a send throw');
});

t.test('a relative NOTIFY_SOCKET is refused by the addon (EINVAL), as a warning', { skip }, async (t) => {
  const n = SystemdNotifier.fromEnv({ NOTIFY_SOCKET: 'relative/notify' });
  let w: VifqError | undefined;
  n.on('warning', (e) => { w = e; });
  t.equal(n.ready(), false);
  t.equal((w as SdNotifyError | undefined)?.code, 'EINVAL');
});

const systemdPid1 = (() => {
  try { return readFileSync('/proc/1/comm', 'utf8').trim() === 'systemd' && existsSync('/run/systemd/system'); } catch { return false; }
})();
const systemdSkip = !systemdPid1
  ? `systemd is not PID 1 here (PID 1 is ${(() => { try { return readFileSync('/proc/1/comm', 'utf8').trim(); } catch { return 'unknown'; } })()}): no real Type=notify unit to start`
  : process.getuid?.() !== 0 ? 'needs root to start a transient system unit with systemd-run'
    : skip;

t.test('a real Type=notify transient unit becomes active only through our READY=1', { skip: systemdSkip }, async (t) => {
  const repo = fileURLToPath(new URL('../..', import.meta.url));
  const script = `import { SystemdNotifier } from ${JSON.stringify(join(repo, 'src/service/sd-notify.ts'))};
const n = SystemdNotifier.fromEnv(); n.on('warning', (e) => { console.error(e.message); process.exit(3); });
if (!n.ready('test')) process.exit(2); setTimeout(() => { n.stopping(); }, 300);`;
  const r = spawnSync('systemd-run', ['--wait', '--quiet', '--collect', `--unit=vifq-sdnotify-test-${process.pid}`,
    '-p', 'Type=notify', '-p', 'NotifyAccess=main', '-p', 'TimeoutStartSec=20', `--working-directory=${repo}`,
    process.execPath, '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  // a Type=notify unit that exits without READY=1 fails with result 'protocol'; --wait reports it
  t.equal(r.status, 0, `systemd-run exit 0 (stderr: ${r.stderr})`);
});
