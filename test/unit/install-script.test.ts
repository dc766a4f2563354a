/**
 * dom0-scripts/install.sh and uninstall.sh into a temporary DESTDIR: the tree is what a dom0
 * needs (the compiled service and CLI that run from there with production dependencies only,
 * the addon where the loader finds it, /usr/bin links, the unit, the hotplug hook), the manifest
 * lists exactly what is there, and uninstall leaves nothing (but what is not its own). Needs a
 * built tree (`make build`: dist/ and the addon); skipped with that reason otherwise.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const install = join(repo, 'dom0-scripts/install.sh');
const uninstall = join(repo, 'dom0-scripts/uninstall.sh');
const built = existsSync(join(repo, 'dist/service/main.js')) && existsSync(join(repo, 'src/netlink/native/build/Release/vifq_nlsock.node'));
const skip = built ? false : 'needs a built tree: make build (npm run build:native && npm run build)';

interface Run { code: number; stdout: string; stderr: string }
/**
 * Children get a plain environment. tap's processinfo puts its loader into NODE_OPTIONS of every
 * child it sees spawned, whatever env we pass; `env -u NODE_OPTIONS` takes it out again (with it,
 * npm ls inside install.sh crawls and the installed extensionless ESM bins fail to load).
 */
const cleanEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', LANG: 'C.UTF-8' };
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = cleanEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile('/usr/bin/env', ['-u', 'NODE_OPTIONS', cmd, ...args], { env, timeout: 120_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 99) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Every path under root (relative, with a leading '/'), directories included. */
function tree(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      out.push(`/${relative(root, p)}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(root);
  return out.sort();
}

function manifest(dest: string, prefix = '/opt/vifq'): Array<{ kind: string; path: string }> {
  return readFileSync(join(dest, prefix, 'install-manifest'), 'utf8').split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => ({ kind: l.slice(0, 1), path: l.slice(2) }));
}

const base = mkdtempSync(join(tmpdir(), 'vifq-install-'));
t.teardown(() => rmSync(base, { recursive: true, force: true }));

t.test('install into a DESTDIR, then uninstall: the tree, the manifest, nothing left', { skip, timeout: 240_000 }, async (t) => {
  const dest = join(base, 'root');
  const r = await run(install, ['--destdir', dest]);
  t.equal(r.code, 0, `install exit 0 (stderr: ${r.stderr.slice(-500)})`);
  t.match(r.stdout, /DESTDIR set: not running systemctl/);
  const P = join(dest, 'opt/vifq');

  // the pieces
  for (const f of ['package.json', 'bin/vifq', 'bin/vifqd', 'dist/service/main.js', 'dist/service/sd-notify.js',
    'dist/netlink/native/build/Release/vifq_nlsock.node', 'node_modules/pino/package.json',
    'node_modules/prom-client/package.json', 'node_modules/@oclif/core/package.json', 'node_modules/yaml/package.json']) {
    t.ok(existsSync(join(P, f)), `opt/vifq/${f}`);
  }
  for (const dev of ['typescript', 'tap', 'tsx', 'sinon', 'fast-check', 'dependency-cruiser', '@types']) {
    t.notOk(existsSync(join(P, 'node_modules', dev)), `no dev dependency ${dev}`);
  }
  t.equal(readlinkSync(join(dest, 'usr/bin/vifq')), '/opt/vifq/bin/vifq');
  t.equal(readlinkSync(join(dest, 'usr/bin/vifqd')), '/opt/vifq/bin/vifqd');
  const unit = readFileSync(join(dest, 'etc/systemd/system/vifqd.service'), 'utf8');
  t.match(unit, /^ExecStart=\/usr\/bin\/vifqd$/m);
  t.match(unit, /^Type=notify$/m);
  const hook = statSync(join(dest, 'etc/xen/scripts/vif-post.d/00-vifq.hook'));
  t.equal(hook.mode & 0o777, 0o755, 'the hook is 0755 (call_hooks sources only executable hooks)');
  t.equal(statSync(join(P, 'bin/vifqd')).mode & 0o777, 0o755);
  const writable = tree(P).filter((p) => !lstatSync(join(P, p)).isSymbolicLink() && (lstatSync(join(P, p)).mode & 0o022) !== 0);
  t.same(writable, [], 'nothing under the prefix is group- or other-writable (root runs this code)');

  // the manifest is the tree, exactly
  const m = manifest(dest);
  t.same(m.map((e) => e.path).sort(), tree(dest).sort(), 'the manifest lists every path in DESTDIR and nothing else');
  t.same(m.filter((e) => e.kind === 'l').map((e) => e.path).filter((p) => p.startsWith('/usr/')).sort(), ['/usr/bin/vifq', '/usr/bin/vifqd']);

  // it runs from there: the CLI, vifqd's imports (a usage error exits 2 after loading them), the addon
  const cli = await run(process.execPath, [join(P, 'bin/vifq'), '--version']);
  t.equal(cli.code, 0, `vifq --version from the install (stderr: ${cli.stderr.slice(0, 300)})`);
  t.match(cli.stdout, /^vifq\/\d/);
  const d = await run(process.execPath, [join(P, 'bin/vifqd'), '--no-such-flag']);
  t.equal(d.code, 2, `vifqd loads all its modules and exits 2 on a usage error (stderr: ${d.stderr.slice(0, 300)})`);
  const addon = await run(process.execPath, ['--input-type=module', '-e',
    `const m = await import(${JSON.stringify(join(P, 'dist/service/sd-notify.js'))}); const n = await import(${JSON.stringify(join(P, 'dist/netlink/transport.js'))});
     console.log(JSON.stringify({ sd: !!m.loadSdNotifySender(), nl: !!n.loadNativeAddon() }));`],
  cleanEnv);
  t.same(JSON.parse(addon.stdout || '{}'), { sd: true, nl: true }, `the installed code finds the installed addon (stderr: ${addon.stderr.slice(0, 300)})`);

  // a file of the admin's beside ours survives uninstall, with the directories that hold it
  writeFileSync(join(P, 'local.conf'), 'mine\n');
  const dry = await run(uninstall, ['--destdir', dest, '--dry-run']);
  t.equal(dry.code, 0);
  t.ok(existsSync(join(P, 'dist/service/main.js')), 'uninstall --dry-run removed nothing');
  const u = await run(uninstall, ['--destdir', dest]);
  t.equal(u.code, 0, `uninstall exit 0 (stderr: ${u.stderr})`);
  t.same(tree(dest), ['/opt', '/opt/vifq', '/opt/vifq/local.conf'], 'only the admin\'s file and its directories are left');
  rmSync(join(P, 'local.conf'));
  rmSync(join(dest, 'opt'), { recursive: true });
  t.same(tree(dest), [], 'DESTDIR is empty');
  const twice = await run(uninstall, ['--destdir', dest]);
  t.equal(twice.code, 1, 'a second uninstall: no manifest, exit 1');
  t.match(twice.stderr, /no install manifest at .*opt\/vifq\/install-manifest/);
});

t.test('--prefix and --bindir: the links, ExecStart and the manifest follow; a reinstall replaces the old one; uninstall leaves nothing', { skip, timeout: 240_000 }, async (t) => {
  const dest = join(base, 'root2');
  const r = await run(install, ['--destdir', dest, '--prefix', '/srv/vifq-1', '--bindir', '/usr/local/sbin']);
  t.equal(r.code, 0, `install exit 0 (stderr: ${r.stderr.slice(-300)})`);
  t.equal(readlinkSync(join(dest, 'usr/local/sbin/vifqd')), '/srv/vifq-1/bin/vifqd');
  const unit = readFileSync(join(dest, 'etc/systemd/system/vifqd.service'), 'utf8');
  t.match(unit, /^ExecStart=\/usr\/local\/sbin\/vifqd$/m);
  t.match(unit, /^Documentation=file:\/\/\/srv\/vifq-1\/docs\/DESIGN\.md$/m);
  t.same(manifest(dest, '/srv/vifq-1').map((e) => e.path).sort(), tree(dest).sort());

  // install again on top (an upgrade): the old install goes through its manifest first
  const again = await run(install, ['--destdir', dest, '--prefix', '/srv/vifq-1', '--bindir', '/usr/local/sbin']);
  t.equal(again.code, 0, `reinstall exit 0 (stderr: ${again.stderr.slice(-300)})`);
  t.match(again.stdout, /an earlier install is at .*removing it first/);
  t.same(manifest(dest, '/srv/vifq-1').map((e) => e.path).sort(), tree(dest).sort(), 'after the reinstall the manifest is still the tree');
  const u = await run(uninstall, ['--destdir', dest, '--prefix', '/srv/vifq-1']);
  t.equal(u.code, 0, `uninstall exit 0 (stderr: ${u.stderr})`);
  t.same(tree(dest), [], 'DESTDIR is empty');
});

t.test('--dry-run changes nothing; a path that is not ours stops the install before it starts', { skip, timeout: 240_000 }, async (t) => {
  const dest = join(base, 'root3');
  const dry = await run(install, ['--destdir', dest, '--dry-run']);
  t.equal(dry.code, 0, `dry run exit 0 (stderr: ${dry.stderr.slice(-300)})`);
  t.match(dry.stdout, /ln -sfn \/opt\/vifq\/bin\/vifqd .*\/usr\/bin\/vifqd/);
  t.match(dry.stdout, /dry run: nothing was changed/);
  t.notOk(existsSync(dest), 'DESTDIR not even created');

  mkdirSync(join(dest, 'usr/bin'), { recursive: true });
  writeFileSync(join(dest, 'usr/bin/vifqd'), '#!/bin/sh\n');
  const r = await run(install, ['--destdir', dest]);
  t.equal(r.code, 1, 'refused');
  t.match(r.stderr, /usr\/bin\/vifqd exists and is not vifq's/);
  t.same(tree(dest), ['/usr', '/usr/bin', '/usr/bin/vifqd'], 'nothing was written');

  const bad = await run(install, ['--prefix', 'relative/dir', '--destdir', dest]);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /--prefix must be absolute/);
  const usage = await run(install, ['--frobnicate']);
  t.equal(usage.code, 2);
});
