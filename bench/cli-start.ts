/**
 * Benchmark: cold start of the `vifq` CLI on this host, as a ratio to `node -e 0` measured in
 * the same interleaved rounds (the machine is shared: only the ratio means something).
 * Commands: `node -e 0` (the baseline), `vifq --version` (oclif alone), `vifq status --json`
 * with no vifqd listening (oclif, the command's lazy imports and the control client, up to the
 * "vifqd is not running" answer, exit 3), the same as a first run ("no code cache": an empty
 * cache dir each time, so the bundle is compiled and its code cache written at exit, as on the
 * first start of a command after `make build`), the same unbundled (VIFQ_CLI_UNBUNDLED=1: tsc's
 * dist/ instead of the bundle, in the same rounds), `vifq doctor --json` (every host check; not on
 * Xen here, so most report errors). The bundled commands use a cache dir of the bench's own
 * (VIFQ_CLI_CACHE_DIR), filled by the warm-up round: the code cache of every later start
 * (src/cli/run-bundle.ts). Each run is a fresh process; figures are medians. With strace on the
 * PATH, each command also runs once under it: the files it opened.
 *
 * Run (from the repo root, after `make build`):
 *   node --import tsx bench/cli-start.ts
 * Options: --rounds N (default 7). Writes bench/results/cli-start.json and the `cli-start`
 * section of docs/BENCHMARKS.md. In the TCG dom0 (node's own start 10-15 s): bench/cli-start-lab.ts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { arg } from './lib/args.js';
import { replaceSection } from './lib/benchmarks-md.js';
import { median } from './lib/stats.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const ROUNDS = arg('rounds', 7);
const VIFQ = join(REPO, 'bin', 'vifq');
const NO_SOCKET = '/nonexistent/vifq-bench/control.sock';
/** The bundle's code caches for these runs (src/cli/run-bundle.ts), written by the warm-up round. */
const CACHE_DIR = mkdtempSync(join(tmpdir(), 'vifq-cli-start-cache-'));

interface Variant { name: string; argv: string[]; expectExit: number[]; unbundled?: boolean; firstRun?: boolean }
const variants: Variant[] = [
  { name: 'node -e 0', argv: ['-e', '0'], expectExit: [0] },
  { name: 'vifq --version', argv: [VIFQ, '--version'], expectExit: [0] },
  { name: 'vifq status --json', argv: [VIFQ, 'status', '--json', '--socket', NO_SOCKET], expectExit: [3] },
  { name: 'vifq status --json, no code cache', argv: [VIFQ, 'status', '--json', '--socket', NO_SOCKET], expectExit: [3], firstRun: true },
  { name: 'vifq status --json, unbundled', argv: [VIFQ, 'status', '--json', '--socket', NO_SOCKET], expectExit: [3], unbundled: true },
  { name: 'vifq doctor --json', argv: [VIFQ, 'doctor', '--json'], expectExit: [0, 1] },
];

/** The environment of one run, and the cache dir to remove after it (a first run's own). */
function envOf(v: Variant): { env: NodeJS.ProcessEnv; scratch?: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, VIFQ_CONTROL_SOCKET: NO_SOCKET, VIFQ_CLI_CACHE_DIR: CACHE_DIR };
  delete env['VIFQ_CLI_CODE_CACHE'];
  if (v.unbundled) env['VIFQ_CLI_UNBUNDLED'] = '1';
  else delete env['VIFQ_CLI_UNBUNDLED'];
  if (!v.firstRun) return { env };
  const scratch = mkdtempSync(join(tmpdir(), 'vifq-cli-start-first-'));
  return { env: { ...env, VIFQ_CLI_CACHE_DIR: scratch }, scratch };
}

/** Files the command opened (strace -z: successful openat calls only), or undefined without strace. */
function filesOpened(v: Variant): number | undefined {
  const log = join(tmpdir(), `vifq-cli-start-${process.pid}.strace`);
  const { env, scratch } = envOf(v);
  const r = spawnSync('strace', ['-f', '-qq', '-z', '-e', 'trace=openat', '-o', log, process.execPath, ...v.argv], { cwd: REPO, encoding: 'utf8', env });
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  if (r.error || !existsSync(log)) return undefined;
  const n = readFileSync(log, 'utf8').split('\n').filter((l) => l.includes('openat(')).length;
  rmSync(log, { force: true });
  return n;
}

function runOnce(v: Variant): number {
  const { env, scratch } = envOf(v);
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, v.argv, { cwd: REPO, encoding: 'utf8', env });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  if (r.error) throw r.error;
  if (!v.expectExit.includes(r.status ?? -1)) {
    throw new Error(`${v.name}: exit ${r.status}, expected ${v.expectExit.join(' or ')}: ${(r.stderr || r.stdout).trim().slice(-300)}`);
  }
  return ms;
}

for (const v of variants) runOnce(v); // warm the page cache once, and write the code caches
const caches = readdirSync(CACHE_DIR).sort();
if (!caches.some((f) => f.endsWith('-status.v8'))) throw new Error(`cli-start: no code cache of status in ${CACHE_DIR} after the warm-up round (${caches.join(', ') || 'empty'}): is dist/bundle/vifq.cjs built (make build)?`);
const samples = new Map<string, number[]>(variants.map((v) => [v.name, []]));
for (let r = 0; r < ROUNDS; r++) for (const v of variants) samples.get(v.name)?.push(runOnce(v));

const base = median(samples.get('node -e 0') ?? []);
const rows = variants.map((v) => {
  const ms = median(samples.get(v.name) ?? []);
  return { command: v.name, medianMs: Number(ms.toFixed(1)), ratioToNode: Number((ms / base).toFixed(2)), filesOpened: filesOpened(v) ?? null };
});
rmSync(CACHE_DIR, { recursive: true, force: true });
const command = `node --import tsx bench/cli-start.ts --rounds ${ROUNDS}`;
const result = {
  benchmark: 'cli-start', command, date: new Date().toISOString(), node: process.version, cpus: cpus().length,
  loadavg1m: Number((loadavg()[0] ?? 0).toFixed(2)), rounds: ROUNDS, codeCaches: caches, rows,
};
for (const row of rows) console.log(`${row.command.padEnd(32)} ${row.medianMs.toFixed(0).padStart(6)} ms  ×${row.ratioToNode.toFixed(2)} node -e 0  ${row.filesOpened ?? '?'} files opened`);
mkdirSync(join(REPO, 'bench/results'), { recursive: true });
writeFileSync(join(REPO, 'bench/results/cli-start.json'), `${JSON.stringify(result, null, 2)}\n`);
replaceSection(join(REPO, 'docs/BENCHMARKS.md'), 'cli-start', `
## vifq CLI cold start (host)

\`${command}\` (${result.date.slice(0, 10)}; node ${process.version}; ${result.cpus} CPUs, load ${result.loadavg1m}; raw: \`bench/results/cli-start.json\`).
Each command a fresh process, ${ROUNDS} interleaved rounds, medians; the ratio is to \`node -e 0\` in the same rounds.
\`status\` has no vifqd to reach here (it answers "vifqd is not running", exit 3): the figure is the CLI's own start,
not the control socket's round trip. \`vifq\` runs the bundle \`make build\` writes (\`dist/bundle/vifq.cjs\`, scripts/bundle-cli.ts)
with its V8 code cache (src/cli/run-bundle.ts), written by a warm-up round before the measured ones: every start after a
command's first. "no code cache": the first start (an empty cache dir each run: the bundle is compiled and the cache
written at exit). "unbundled": \`VIFQ_CLI_UNBUNDLED=1\`, tsc's \`dist/\` module by module. Files opened: successful \`openat\`
calls under \`strace -f -z\` (one run each; node's own libraries included). In the TCG dom0: the next section (bench/cli-start-lab.ts).

| command | median | × node -e 0 | files opened |
|---|---:|---:|---:|
${rows.map((r) => `| \`${r.command}\` | ${r.medianMs.toFixed(0)} ms | ${r.ratioToNode.toFixed(2)} | ${r.filesOpened ?? '?'} |`).join('\n')}
`);
