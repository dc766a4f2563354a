/**
 * Benchmark: cold start of the `vifq` CLI on this host, as a ratio to `node -e 0` measured in
 * the same interleaved rounds (the machine is shared: only the ratio means something).
 * Commands: `node -e 0` (the baseline), `vifq --version` (oclif alone), `vifq status --json`
 * with no vifqd listening (oclif, the command's lazy imports and the control client, up to the
 * "vifqd is not running" answer, exit 3), `vifq doctor --json` (every host check; not on Xen
 * here, so most report errors). Each run is a fresh process; figures are medians.
 *
 * Run (from the repo root, after `make build`):
 *   node --import tsx bench/cli-start.ts
 * Options: --rounds N (default 7). Writes bench/results/cli-start.json and the `cli-start`
 * section of docs/BENCHMARKS.md. In the TCG dom0 (node's own start 10-15 s): bench/cli-start-lab.ts.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { arg } from './lib/args.js';
import { replaceSection } from './lib/benchmarks-md.js';
import { median } from './lib/stats.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const ROUNDS = arg('rounds', 7);
const VIFQ = join(REPO, 'bin', 'vifq');
const NO_SOCKET = '/nonexistent/vifq-bench/control.sock';

interface Variant { name: string; argv: string[]; expectExit: number[] }
const variants: Variant[] = [
  { name: 'node -e 0', argv: ['-e', '0'], expectExit: [0] },
  { name: 'vifq --version', argv: [VIFQ, '--version'], expectExit: [0] },
  { name: 'vifq status --json', argv: [VIFQ, 'status', '--json', '--socket', NO_SOCKET], expectExit: [3] },
  { name: 'vifq doctor --json', argv: [VIFQ, 'doctor', '--json'], expectExit: [0, 1] },
];

function runOnce(v: Variant): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, v.argv, { cwd: REPO, encoding: 'utf8', env: { ...process.env, VIFQ_CONTROL_SOCKET: NO_SOCKET } });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.error) throw r.error;
  if (!v.expectExit.includes(r.status ?? -1)) {
    throw new Error(`${v.name}: exit ${r.status}, expected ${v.expectExit.join(' or ')}: ${(r.stderr || r.stdout).trim().slice(-300)}`);
  }
  return ms;
}

for (const v of variants) runOnce(v); // warm the page cache once
const samples = new Map<string, number[]>(variants.map((v) => [v.name, []]));
for (let r = 0; r < ROUNDS; r++) for (const v of variants) samples.get(v.name)?.push(runOnce(v));

const base = median(samples.get('node -e 0') ?? []);
const rows = variants.map((v) => {
  const ms = median(samples.get(v.name) ?? []);
  return { command: v.name, medianMs: Number(ms.toFixed(1)), ratioToNode: Number((ms / base).toFixed(2)) };
});
const command = `node --import tsx bench/cli-start.ts --rounds ${ROUNDS}`;
const result = {
  benchmark: 'cli-start', command, date: new Date().toISOString(), node: process.version, cpus: cpus().length,
  loadavg1m: Number((loadavg()[0] ?? 0).toFixed(2)), rounds: ROUNDS, rows,
};
for (const row of rows) console.log(`${row.command.padEnd(22)} ${row.medianMs.toFixed(0).padStart(6)} ms  ×${row.ratioToNode.toFixed(2)} node -e 0`);
mkdirSync(join(REPO, 'bench/results'), { recursive: true });
writeFileSync(join(REPO, 'bench/results/cli-start.json'), `${JSON.stringify(result, null, 2)}\n`);
replaceSection(join(REPO, 'docs/BENCHMARKS.md'), 'cli-start', `
## vifq CLI cold start (host)

\`${command}\` (${result.date.slice(0, 10)}; node ${process.version}; ${result.cpus} CPUs, load ${result.loadavg1m}; raw: \`bench/results/cli-start.json\`).
Each command a fresh process, ${ROUNDS} interleaved rounds, medians; the ratio is to \`node -e 0\` in the same rounds.
\`status\` has no vifqd to reach here (it answers "vifqd is not running", exit 3): the figure is the CLI's own start,
not the control socket's round trip. In the TCG dom0: the next section (bench/cli-start-lab.ts, a lab boot).

| command | median | × node -e 0 |
|---|---:|---:|
${rows.map((r) => `| \`${r.command}\` | ${r.medianMs.toFixed(0)} ms | ${r.ratioToNode.toFixed(2)} |`).join('\n')}
`);
