/**
 * The lab-kernel resolver (dom0-scripts/lab/resolve-kernel.sh) on saved archive
 * views (fixtures/apt/*.madison, `apt-cache madison` output): no network, no apt.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const RESOLVER = join(REPO, 'dom0-scripts', 'lab', 'resolve-kernel.sh');
const APT = join(REPO, 'fixtures', 'apt');

interface Resolution {
  status: number | null;
  abi: string;
  version: string;
  stale: number;
  packages: Record<string, string>;
  warnings: string[];
  stderr: string;
}

/** Runs the resolver on one saved view and parses its shell assignments. */
function resolve(series: string, view: string): Resolution {
  const run = spawnSync(RESOLVER, ['--series', series, '--madison', join(APT, view), '--conf', join(APT, 'kernels.conf')], { encoding: 'utf8' });
  // the output is for `eval`: NAME=value with printf %q quoting (backslash before spaces)
  const vars = new Map<string, string>();
  for (const line of run.stdout.split('\n')) {
    const m = /^(R_[A-Z_]+)=(.*)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) vars.set(m[1], m[2].replace(/\\(.)/g, '$1'));
  }
  const packages: Record<string, string> = {};
  for (const pv of (vars.get('R_PKGS') ?? '').split(' ').filter(Boolean)) {
    const [name, version] = pv.split('=');
    if (name !== undefined && version !== undefined) packages[name] = version;
  }
  return {
    status: run.status,
    abi: vars.get('R_ABI') ?? '',
    version: vars.get('R_VER') ?? '',
    stale: Number(vars.get('R_STALE') ?? NaN),
    packages,
    warnings: run.stderr.split('\n').filter((l) => l.includes('WARNING')),
    stderr: run.stderr,
  };
}

t.test('every pin in the archive: the pins, no warning', async (t) => {
  const r = resolve('6.1', 'pin-present.madison');
  t.equal(r.status, 0, r.stderr);
  t.same(r.packages, {
    'linux-image-6.1.0-56-amd64': '6.1.192-2', 'linux-headers-6.1.0-56-amd64': '6.1.192-2',
    'linux-headers-6.1.0-56-common': '6.1.192-2', 'linux-kbuild-6.1': '6.1.192-2', 'linux-source-6.1': '6.1.192-2',
  });
  t.equal(r.stale, 0);
  t.same(r.warnings, []);
});

t.test('only a later Debian revision of one package (the archive of 2026-11-29): that one moves, with one warning', async (t) => {
  const r = resolve('6.1', 'bookworm-2026-11-29.madison');
  t.equal(r.status, 0, r.stderr);
  t.equal(r.abi, '6.1.0-56');
  t.equal(r.version, '6.1.192-2', 'the image stays at its pin');
  t.equal(r.packages['linux-kbuild-6.1'], '6.1.192-3');
  t.equal(r.packages['linux-source-6.1'], '6.1.192-2', 'the source of the image, although -3 is newer');
  t.equal(r.packages['linux-headers-6.1.0-56-amd64'], '6.1.192-2');
  t.equal(r.stale, 1);
  t.equal(r.warnings.length, 1);
  t.match(r.warnings[0], /pin linux-kbuild-6\.1=6\.1\.192-2 is not in the archive; took linux-kbuild-6\.1=6\.1\.192-3 \(same upstream 6\.1\.192/);
  // the headers of ABI 6.1.0-57 are already there at -3, its signed image is not: not taken
  t.notOk(Object.keys(r.packages).some((n) => n.includes('6.1.0-57')));
});

t.test('the pinned ABI gone: the newest whole build of the series and flavour, a warning per package', async (t) => {
  const r = resolve('6.1', 'new-abi.madison');
  t.equal(r.status, 0, r.stderr);
  t.equal(r.abi, '6.1.0-57', 'not 6.1.0-58, which has only a cloud image');
  t.same(r.packages, {
    'linux-image-6.1.0-57-amd64': '6.1.192-3', 'linux-headers-6.1.0-57-amd64': '6.1.192-3',
    'linux-headers-6.1.0-57-common': '6.1.192-3', 'linux-kbuild-6.1': '6.1.192-3', 'linux-source-6.1': '6.1.192-3',
  });
  t.equal(r.stale, 5);
  t.equal(r.warnings.length, 5);
  t.match(r.warnings[0], /pin linux-image-6\.1\.0-56-amd64=6\.1\.192-2 .* took linux-image-6\.1\.0-57-amd64=6\.1\.192-3 \(newest of the 6\.1 series\)/);
});

t.test('6.12: a new ABI in the kbuild name too, and ~deb12u1 versions ordered as Debian does', async (t) => {
  const r = resolve('6.12', 'new-abi-6.12.madison');
  t.equal(r.status, 0, r.stderr);
  t.equal(r.abi, '6.12.120+deb12');
  t.equal(r.version, '6.12.120-1~deb12u1');
  t.equal(r.packages['linux-kbuild-6.12.120+deb12'], '6.12.120-1~deb12u1');
  t.equal(r.packages['linux-source-6.12'], '6.12.120-1~deb12u1');
  t.equal(r.stale, 5);
  const kept = resolve('6.12', 'bookworm-2026-11-29.madison');
  t.equal(kept.abi, '6.12.117+deb12');
  t.equal(kept.stale, 0);
  t.same(kept.warnings, []);
});

t.test('nothing of the series: a clear error naming the pin and the fix, nothing on stdout', async (t) => {
  const r = resolve('6.1', 'no-6.1.madison');
  t.equal(r.status, 3);
  t.same(r.packages, {});
  t.match(r.stderr, /ERROR: no linux-image\/headers of the 6\.1 series \(amd64\)/);
  t.match(r.stderr, /linux-image-6\.1\.0-56-amd64/);
  t.match(r.stderr, /apt-get update/);
  t.match(r.stderr, /kernels\.conf/);
  // a series the view does have still resolves from the same view
  t.equal(resolve('6.12', 'no-6.1.madison').abi, '6.12.117+deb12');
});

t.test('a series without a pin is a usage error', async (t) => {
  const run = spawnSync(RESOLVER, ['--series', '5.10', '--madison', join(APT, 'pin-present.madison'), '--conf', join(APT, 'kernels.conf')], { encoding: 'utf8' });
  t.equal(run.status, 2);
  t.match(run.stderr, /no pin for series 5\.10/);
});
