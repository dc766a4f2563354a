/**
 * Host tests that need root say so: run as an unprivileged user (nobody), every test of a
 * file that asks canRunHostTests() is reported as skipped with the reason, none as passed,
 * none failed. Runs when this suite runs as root (it switches to nobody with setpriv).
 *
 * nobody must reach the checkout and its node_modules: a clone under a 0700 directory (/root,
 * `mktemp -d`) is out of its reach. For the length of this file, every directory above the
 * checkout that others cannot traverse gets o+x (traverse only: no listing, no reading), and
 * its mode is put back afterwards.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const hostDir = join(repo, 'test/host');
const rootOnly = readdirSync(hostDir).filter((f) => f.endsWith('.test.ts') && readFileSync(join(hostDir, f), 'utf8').includes('canRunHostTests()'));
const setpriv = spawnSync('setpriv', ['--version']).status === 0;
const skip = process.getuid?.() !== 0 ? 'needs root, to run the host tests as nobody' : !setpriv ? 'setpriv (util-linux) is not installed' : false;

/** The directories above `dir` that others cannot traverse, with their modes. */
function untraversable(dir: string): { path: string; mode: number }[] {
  const out: { path: string; mode: number }[] = [];
  for (let d = dirname(dir); ; d = dirname(d)) {
    const mode = statSync(d).mode & 0o7777;
    if ((mode & 0o001) === 0) out.push({ path: d, mode });
    if (d === dirname(d)) return out;
  }
}

if (!skip) {
  const closed = untraversable(repo);
  for (const { path, mode } of closed) chmodSync(path, mode | 0o001);
  t.teardown(() => { for (const { path, mode } of closed) chmodSync(path, mode); });
  if (closed.length > 0) t.comment(`o+x for this file on ${closed.map((c) => c.path).join(', ')} (put back after)`);
}

t.test('the host tests that need root are found', { skip }, async (t) => {
  t.ok(rootOnly.length >= 3, `root-only host test files: ${rootOnly.join(', ')}`);
});

for (const f of rootOnly) {
  t.test(`${f} as nobody: skipped with a reason, never passed`, { skip }, async (t) => {
    const home = mkdtempSync(join(tmpdir(), 'vifq-nobody-'));
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', process.execPath, '--import', 'tsx', join(hostDir, f)], {
      cwd: repo, encoding: 'utf8', env: { ...process.env, HOME: home, TAP: '1' }, timeout: 120_000,
    });
    const lines = r.stdout.split('\n').filter((l) => /^(not )?ok \d+ /.test(l));
    t.equal(r.status, 0, `exit 0 (stderr: ${r.stderr.slice(0, 300)})`);
    t.ok(lines.length > 0, `${lines.length} top-level tests reported`);
    t.same(lines.filter((l) => !/ # SKIP host tests need root/.test(l)), [], 'every one is a SKIP with the reason');
  });
}
