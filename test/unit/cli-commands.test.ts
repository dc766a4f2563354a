/**
 * The CLI's command list and its bundle: src/cli/commands.ts names every file under
 * src/commands/ by its oclif id; package.json uses oclif's explicit strategy on it; the bundle
 * `make build` writes (dist/bundle/vifq.cjs) answers as tsc's copy does (VIFQ_CLI_UNBUNDLED=1),
 * on its first start (compiled, code cache written) and on later ones (from the code cache), and
 * shares dist's error classes instead of carrying its own; bin/vifq runs tsc's copy when the
 * bundle is missing or stale; a corrupt or unwritable code cache changes nothing but the time.
 * The bundle checks are skipped when it is not built.
 */
import t from 'tap';
import { execFile, spawnSync } from 'node:child_process';
import { chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Interfaces } from '@oclif/core';
import { requireWithCodeCache } from '../../src/cli/code-cache.js';
import { COMMANDS } from '../../src/cli/commands.js';
import { pjsonWithTarget } from '../../src/cli/main.js';
import { BUNDLE_HASH_LINE, bundleHash, cacheDir, cacheFileName, commandKey, isOtherBundlesCache } from '../../src/cli/run-bundle.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const pjson = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as Interfaces.PJSON;

/** oclif's id of a command file: its path under src/commands, `/` -> `:`, a trailing `index` dropped. */
function commandIds(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (e.endsWith('.ts')) out.push(relative(dir, p).replace(/\.ts$/, '').replace(/\/index$/, '').split('/').join(':'));
    }
  };
  walk(dir);
  return out.sort();
}

t.test('COMMANDS has every command file under src/commands, by its oclif id', async (t) => {
  t.same(Object.keys(COMMANDS).sort(), commandIds(join(repo, 'src/commands')));
});

t.test('package.json: explicit discovery of COMMANDS in tsc\'s copy of src/cli/main.ts', async (t) => {
  t.same(pjson.oclif.commands, { strategy: 'explicit', target: './dist/cli/main.js', identifier: 'COMMANDS' });
  t.same(pjsonWithTarget(pjson, 'dist/bundle/vifq.cjs').oclif.commands, { strategy: 'explicit', target: './dist/bundle/vifq.cjs', identifier: 'COMMANDS' });
  t.equal(pjson.oclif.commands && typeof pjson.oclif.commands === 'object' ? pjson.oclif.commands.target : '', './dist/cli/main.js', 'the argument is not changed');
  t.throws(() => pjsonWithTarget({ ...pjson, oclif: { ...pjson.oclif, commands: './dist/commands' } }, 'x.js'), /must be \{strategy: "explicit"/);
});

t.test('run-bundle: cache dir, command key, bundle hash, file names', async (t) => {
  t.equal(cacheDir({ VIFQ_CLI_CACHE_DIR: '/x/c', XDG_CACHE_HOME: '/x/xdg' }, () => '/h'), '/x/c', 'VIFQ_CLI_CACHE_DIR first');
  t.equal(cacheDir({ XDG_CACHE_HOME: '/x/xdg' }, () => '/h'), '/x/xdg/vifq', 'then XDG_CACHE_HOME/vifq');
  t.equal(cacheDir({}, () => '/h'), '/h/.cache/vifq', 'then ~/.cache/vifq');
  t.equal(cacheDir({ VIFQ_CLI_CODE_CACHE: '0', VIFQ_CLI_CACHE_DIR: '/x/c' }, () => '/h'), undefined, 'VIFQ_CLI_CODE_CACHE=0: none');
  t.equal(cacheDir({}, () => { throw new Error('no passwd entry'); }), undefined, 'no home: none');
  t.equal(commandKey(['status', '--json']), 'status');
  t.equal(commandKey(['limits', 'set', 'vif1.0']), 'limits');
  t.equal(commandKey(['--version']), 'version');
  t.equal(commandKey([]), 'other');
  t.equal(commandKey(['../../etc/passwd']), 'other', 'nothing but a name goes into a file name');
  t.equal(commandKey(['Status']), 'other');
  const hex = 'ab'.repeat(32);
  t.equal(bundleHash(`x;\n${BUNDLE_HASH_LINE}${hex}\n`), hex);
  t.equal(bundleHash('x;\n'), undefined, 'no hash line: no hash (and no cache)');
  t.equal(bundleHash(`x;\n${BUNDLE_HASH_LINE}${hex}\ny;\n`), undefined, 'not the last line: not the hash');
  t.equal(cacheFileName(hex, 'status', 'v20.20.2', 'x64'), 'vifq-cli-abababababababab-node20.20.2-x64-status.v8');
  t.ok(isOtherBundlesCache('vifq-cli-0123456789abcdef-node20.20.2-x64-status.v8', hex));
  t.notOk(isOtherBundlesCache('vifq-cli-abababababababab-node20.0.0-x64-top.v8', hex), 'same bundle, other node or command: kept (other users of the dir)');
  t.notOk(isOtherBundlesCache('notes.txt', hex));
});

t.test('requireWithCodeCache: runs a CommonJS file, caches its code, reuses it, survives a bad cache', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vifq-code-cache-'));
  t.teardown(() => { spawnSync('rm', ['-rf', dir]); });
  const file = join(dir, 'm.cjs');
  writeFileSync(file, 'const path = require("node:path");\nlet n = 0;\nexports.name = path.basename(__filename);\nexports.count = () => ++n;\n');
  const cacheFile = join(dir, 'cache', 'm.v8');
  // each load in a process of its own: V8 reuses a script it compiled before in the same process
  // (and then never looks at the cache it is given)
  const load = (cache: string): string => {
    const code = `import { requireWithCodeCache } from ${JSON.stringify(join(repo, 'src/cli/code-cache.ts'))};
const m = requireWithCodeCache(${JSON.stringify(file)}, () => ${JSON.stringify(cache)});
const again = (await import('node:module')).createRequire(import.meta.url)(${JSON.stringify(file)});
console.log(JSON.stringify({ outcome: m.outcome, name: m.exports.name, count: m.exports.count(), same: again === m.exports, saved: m.outcome === 'hit' ? null : m.save() }));`;
    const r = spawnSync('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, '--import', 'tsx', '--input-type=module', '-e', code], { cwd: repo, encoding: 'utf8', timeout: 30_000 });
    return r.status === 0 ? r.stdout.trim() : `exit ${r.status}: ${r.stderr}`;
  };
  t.same(JSON.parse(load(cacheFile)), { outcome: 'miss', name: 'm.cjs', count: 1, same: true, saved: true }, 'first: compiled, require() of the file returns the same module, cache saved (its dir made)');
  t.ok(existsSync(cacheFile));
  t.same(JSON.parse(load(cacheFile)), { outcome: 'hit', name: 'm.cjs', count: 1, same: true, saved: null }, 'second: from the cache');
  writeFileSync(cacheFile, 'garbage');
  t.same(JSON.parse(load(cacheFile)), { outcome: 'rejected', name: 'm.cjs', count: 1, same: true, saved: true }, 'garbage: rejected, runs all the same, saved again');
  t.same(JSON.parse(load(cacheFile)), { outcome: 'hit', name: 'm.cjs', count: 1, same: true, saved: null }, 'and the new cache is taken');
  if (process.getuid?.() === 0) { // only root can give a file away
    chownSync(cacheFile, 4242, 4242);
    t.same(JSON.parse(load(cacheFile)), { outcome: 'miss', name: 'm.cjs', count: 1, same: true, saved: true }, 'a cache file of another user is not read (and replaced by one of ours)');
    t.equal(statSync(cacheFile).uid, 0);
  }
  const blocked = join(dir, 'a-file');
  writeFileSync(blocked, '');
  t.same(JSON.parse(load(join(blocked, 'm.v8'))), { outcome: 'miss', name: 'm.cjs', count: 1, same: true, saved: false }, 'an unwritable cache: save() says no, throws nothing');
  t.equal(requireWithCodeCache(file, () => undefined).outcome, 'off');
  writeFileSync(join(dir, 'bad.cjs'), 'throw new Error("at load");');
  t.throws(() => requireWithCodeCache(join(dir, 'bad.cjs'), () => undefined), /at load/, 'a throw at load is thrown');
  t.notOk(createRequire(import.meta.url).cache[join(dir, 'bad.cjs')], 'and the failed module is not left in require.cache');
});

const bundle = join(repo, 'dist/bundle/vifq.cjs');
const built = existsSync(bundle) && existsSync(join(repo, 'dist/cli/main.js')) && statSync(bundle).mtimeMs >= statSync(join(repo, 'dist/cli/main.js')).mtimeMs;
const skip = built ? false : 'needs the bundle newer than tsc\'s dist/: make build';

/** How bin/vifq runs: tsc's copy, or the bundle with the code caches of `cacheDir`. */
type Mode = { unbundled: true } | { cacheDir: string };
interface Run { status: number | null; stdout: string; stderr: string }

/** bin/vifq (of `root`) in a child (`env -u`: tap puts its loaders into every child's NODE_OPTIONS). */
function vifqEnv(mode: Mode, extraEnv: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, VIFQ_CONTROL_SOCKET: '/nonexistent/vifq-test/control.sock', COLUMNS: '100' };
  delete env['VIFQ_CLI_UNBUNDLED'];
  delete env['VIFQ_CLI_CODE_CACHE'];
  if ('unbundled' in mode) env['VIFQ_CLI_UNBUNDLED'] = '1';
  else env['VIFQ_CLI_CACHE_DIR'] = mode.cacheDir;
  return { ...env, ...extraEnv };
}
function vifq(args: string[], mode: Mode, root: string = repo, extraEnv: NodeJS.ProcessEnv = {}): Run {
  const r = spawnSync('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, join(root, 'bin/vifq'), ...args], { cwd: repo, env: vifqEnv(mode, extraEnv), encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
/** The same, several at once (each command line in a process of its own, in parallel). */
function vifqAll(cases: string[][], mode: Mode): Promise<Run[]> {
  return Promise.all(cases.map((args) => new Promise<Run>((done) => {
    execFile('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, join(repo, 'bin/vifq'), ...args], { cwd: repo, env: vifqEnv(mode, {}), encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      done({ status: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  })));
}

t.setTimeout(180_000); // some 70 starts of the CLI

const scratch = mkdtempSync(join(tmpdir(), 'vifq-cli-commands-'));
t.teardown(() => { spawnSync('rm', ['-rf', scratch]); });
let dirs = 0;
/** A new, empty directory under this test's scratch dir. */
function freshDir(): string {
  const d = join(scratch, `d${++dirs}`);
  mkdirSync(d);
  return d;
}
const codeCaches = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.v8')).sort() : []);

const CASES: string[][] = [['--help'], ...Object.keys(COMMANDS).map((id) => [...id.split(':'), '--help']), ['autocomplete', '--help'], ['status', '--json'], ['limits', 'set', '--bytes', 'x', 'vif1.0'], ['limits'], ['--version']];

t.test('the bundle answers as tsc\'s copy, on a first start and from its code cache: --help of every command, failing commands', { skip }, async (t) => {
  const warm = freshDir();
  const unbundled = await vifqAll(CASES, { unbundled: true });
  const first = await vifqAll(CASES, { cacheDir: warm });
  const cached = await vifqAll(CASES, { cacheDir: warm });
  CASES.forEach((args, i) => {
    t.same(first[i], unbundled[i], `vifq ${args.join(' ')}: first start`);
    t.same(cached[i], unbundled[i], `vifq ${args.join(' ')}: from the code cache`);
  });
  const s = vifq(['status', '--json'], { cacheDir: warm });
  t.equal(s.status, 3, 'status: exit 3 without vifqd');
  t.match(JSON.parse(s.stdout), { error: { name: 'ControlConnectError', exitCode: 3 } }, 'the typed error, from the bundle');
  t.same(codeCaches(warm).map((f) => f.replace(/^vifq-cli-[0-9a-f]{16}-node[0-9.]+-[a-z0-9]+-/, '')), ['autocomplete.v8', 'daemon.v8', 'doctor.v8', 'domain.v8', 'events.v8', 'help.v8', 'limits.v8', 'status.v8', 'top.v8', 'version.v8'], 'one code cache per command, named by its first argument');
});

t.test('code cache: written once by a first start, then read, not rewritten', { skip }, async (t) => {
  const dir = freshDir();
  vifq(['status', '--json'], { cacheDir: dir });
  const [file, ...more] = codeCaches(dir);
  t.ok(file, 'the first start wrote a code cache');
  t.same(more, [], 'one file');
  const path = join(dir, file ?? '');
  t.match(file, new RegExp(`^vifq-cli-[0-9a-f]{16}-node${process.version.slice(1)}-${process.arch}-status\\.v8$`), 'named by bundle hash, node, arch, command');
  t.ok(statSync(path).size > 100_000, `the code of a whole run (${statSync(path).size} bytes), not just the top level`);
  const old = new Date('2001-01-01T00:00:00Z');
  utimesSync(path, old, old);
  vifq(['status', '--json'], { cacheDir: dir });
  t.equal(statSync(path).mtimeMs, old.getTime(), 'a start that used the cache does not write it again');
});

t.test('code cache: one V8 rejects (another node\'s, not a cache at all) changes nothing but the time, and is rewritten', { skip }, async (t) => {
  const dir = freshDir();
  const expected = vifq(['status', '--json'], { unbundled: true });
  vifq(['status', '--json'], { cacheDir: dir });
  const [file] = codeCaches(dir);
  const path = join(dir, file ?? 'missing');
  const good = readFileSync(path);
  const other = Buffer.from(good);
  other.writeUInt32LE(other.readUInt32LE(4) ^ 0x5a5a5a5a, 4); // V8's header: magic, version hash, ...: another V8
  for (const [what, bad] of [['another node\'s', other], ['not a code cache at all', Buffer.from('not a code cache')]] as const) {
    writeFileSync(path, bad);
    t.same(vifq(['status', '--json'], { cacheDir: dir }), expected, `same answer with ${what} cache`);
    const now = readFileSync(path);
    t.ok(now.length > 100_000 && now.subarray(0, 16).equals(good.subarray(0, 16)), 'which was replaced by this node\'s (V8\'s header: magic, version, source and flag hashes)');
  }
});

t.test('code cache: an unwritable cache dir, or VIFQ_CLI_CODE_CACHE=0, changes nothing but the time', { skip }, async (t) => {
  const expected = vifq(['limits', '--help'], { unbundled: true });
  const file = join(freshDir(), 'a-file');
  writeFileSync(file, '');
  t.same(vifq(['limits', '--help'], { cacheDir: join(file, 'cache') }), expected, 'cache dir below a regular file (ENOTDIR)');
  const off = freshDir();
  t.same(vifq(['limits', '--help'], { cacheDir: off }, repo, { VIFQ_CLI_CODE_CACHE: '0' }), expected, 'VIFQ_CLI_CODE_CACHE=0');
  t.same(codeCaches(off), [], 'and no cache written');
});

t.test('code cache: writing one removes those of other bundles, and only those', { skip }, async (t) => {
  const dir = freshDir();
  const other = 'vifq-cli-0123456789abcdef-node20.0.0-x64-status.v8';
  writeFileSync(join(dir, other), 'old');
  writeFileSync(join(dir, 'unrelated.txt'), 'keep');
  vifq(['status', '--json'], { cacheDir: dir });
  const files = readdirSync(dir).sort();
  t.notOk(files.includes(other), 'the old bundle\'s cache is gone');
  t.ok(files.includes('unrelated.txt'), 'files that are not code caches stay');
  t.equal(codeCaches(dir).length, 1, 'this bundle\'s cache is there');
});

/** A copy of the package's layout: bin/vifq copied, everything else linked, dist/bundle/ its own. */
function packageCopy(withBundle: 'none' | 'current' | 'stale'): string {
  const root = freshDir();
  mkdirSync(join(root, 'bin'));
  copyFileSync(join(repo, 'bin/vifq'), join(root, 'bin/vifq'));
  for (const f of ['package.json', 'node_modules']) symlinkSync(join(repo, f), join(root, f));
  mkdirSync(join(root, 'dist'));
  for (const f of readdirSync(join(repo, 'dist'))) if (f !== 'bundle') symlinkSync(join(repo, 'dist', f), join(root, 'dist', f));
  if (withBundle !== 'none') {
    mkdirSync(join(root, 'dist/bundle'));
    copyFileSync(bundle, join(root, 'dist/bundle/vifq.cjs'));
    if (withBundle === 'stale') utimesSync(join(root, 'dist/bundle/vifq.cjs'), new Date(0), new Date(0));
  }
  return root;
}

t.test('bin/vifq runs the bundle only when it is there and newer than tsc\'s copy', { skip }, async (t) => {
  const expected = vifq(['domain', 'set', '--help'], { unbundled: true });
  for (const state of ['none', 'stale', 'current'] as const) {
    const cacheDir = freshDir();
    t.same(vifq(['domain', 'set', '--help'], { cacheDir }, packageCopy(state)), expected, `bundle ${state}: same answer`);
    // only the bundle writes code caches: they say which copy ran
    t.equal(codeCaches(cacheDir).length, state === 'current' ? 1 : 0, `bundle ${state}: ${state === 'current' ? 'the bundle ran' : 'tsc\'s copy ran'}`);
  }
});

t.test('the bundle imports dist\'s error classes and netlink layer, and has no copy of them', { skip }, async (t) => {
  const text = readFileSync(bundle, 'utf8');
  t.match(text, /require\("\.\.\/errors\.js"\)/);
  t.match(text, /require\("\.\.\/service\/main\.js"\)/, '`vifq daemon` runs dist\'s vifqd');
  t.notMatch(text, /\bimport\("\.\.?\//, 'no import() of dist/ (node would print an ExperimentalWarning: vm.USE_MAIN_CONTEXT_DEFAULT_LOADER)');
  t.notMatch(text, /class VifqError\b/, 'no second VifqError (instanceof would fail across the copies)');
  t.notMatch(text, /vifq_nlsock\.node/, 'the addon\'s loader stays in dist/netlink/transport.js');
  t.notMatch(text, /node_modules\/typescript\//, 'typescript is not bundled');
  t.match(text, /\n\/\/# vifqBundleSha256=[0-9a-f]{64}\n$/, 'it ends with its hash, which names its code caches');
  t.notMatch(text, /[^\x00-\x7f]/, 'ASCII only (the loader reads it as latin1)');
});
