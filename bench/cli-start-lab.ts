/**
 * Benchmark: cold start of `vifq status --json` in the lab's dom0 (Xen under QEMU/TCG), as a
 * ratio to `node -e 0` measured in the same dom0 in the same interleaved rounds; the host's
 * figures are bench/cli-start.ts's. vifqd runs (the vifq netback, no guests), so `status` is
 * the whole path an operator waits for: node, oclif, the command's lazy imports, the control
 * socket's round trip and the xenstore name lookup. `vifq --version` is oclif alone. The bundle
 * (dist/bundle/vifq.cjs) starts with its V8 code cache in dom0's default cache dir
 * (~/.cache/vifq, src/cli/run-bundle.ts), which the warm-up round writes (the bench checks it did).
 * "no code cache": `status --json` as the first start of a command after a build (an empty
 * VIFQ_CLI_CACHE_DIR each run, made before the clock starts: compile, run, write the cache).
 * "unbundled": `status --json` with VIFQ_CLI_UNBUNDLED=1 (tsc's dist/ instead of the bundle),
 * the start before the bundle, in the same rounds. Each run
 * is a fresh process timed in dom0 (EPOCHREALTIME around it), one dom0 script per round, so
 * the lab's command queue is not in the figures. Figures are medians.
 *
 * Run (from the repo root, after `make build`; part of `make bench`):
 *   node --import tsx bench/cli-start-lab.ts [--rounds 3]
 * Writes bench/results/cli-start-lab.json and the `cli-start-lab` section of docs/BENCHMARKS.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { Lab, REPO } from '../test/lab/lab.js';
import { buildVifqModule } from '../test/lab/vifq.js';
import { arg } from './lib/args.js';
import { replaceSection } from './lib/benchmarks-md.js';
import { median } from './lib/stats.js';

const ROUNDS = arg('rounds', 3);
const LOG = '/tmp/vifqd-bench.log';

/** `before` and `after` run outside the clock. */
interface Variant { name: string; cmd: string; expectExit: number; before?: string; after?: string }
const FIRST_RUN_DIR = '/tmp/vifq-cli-first-run';
const variants: Variant[] = [
  { name: 'node -e 0', cmd: 'node -e 0', expectExit: 0 },
  { name: 'vifq --version', cmd: 'node /vifq/bin/vifq --version', expectExit: 0 },
  { name: 'vifq status --json', cmd: 'node /vifq/bin/vifq status --json', expectExit: 0 },
  {
    name: 'vifq status --json, no code cache', cmd: `VIFQ_CLI_CACHE_DIR=${FIRST_RUN_DIR} node /vifq/bin/vifq status --json`, expectExit: 0,
    before: `rm -rf ${FIRST_RUN_DIR}`, after: `ls ${FIRST_RUN_DIR} | grep -q -- '-status\\.v8$' || echo "no code cache written in ${FIRST_RUN_DIR}" >>/tmp/cli-start.bad`,
  },
  { name: 'vifq status --json, unbundled', cmd: 'VIFQ_CLI_UNBUNDLED=1 node /vifq/bin/vifq status --json', expectExit: 0 },
];
/** Where the CLI's code caches go in dom0 by default (src/cli/run-bundle.ts: no XDG_CACHE_HOME there). */
const DEFAULT_CACHE_DIR = '"${HOME:-/root}/.cache/vifq"';

/** One dom0 script: each variant once, in order; "name<TAB>exit<TAB>µs" a line. */
function roundScript(): string {
  return variants.map((v, i) => [
    v.before ?? ':',
    `s=\${EPOCHREALTIME/./}; ${v.cmd} >/tmp/cli-start.${i}.out 2>&1; rc=$?; e=\${EPOCHREALTIME/./}`,
    v.after ?? ':',
    `echo "${i} $rc $((e - s))"`,
  ].join('; ')).join('\n');
}

async function round(lab: Lab): Promise<number[]> {
  const out = await lab.dom0Ok(`rm -f /tmp/cli-start.bad\n${roundScript()}\n! cat /tmp/cli-start.bad 2>/dev/null >&2`, { timeoutMs: 600_000 });
  const ms: number[] = [];
  for (const line of out.trim().split('\n')) {
    const [i, rc, us] = line.split(' ').map(Number);
    const v = variants[i ?? -1];
    if (!v || rc === undefined || us === undefined) throw new Error(`cli-start-lab: cannot parse '${line}'`);
    if (rc !== v.expectExit) {
      const why = await lab.dom0(`tail -c 600 /tmp/cli-start.${i}.out`);
      throw new Error(`cli-start-lab: ${v.name}: exit ${rc}, expected ${v.expectExit}: ${why.stdout.trim()}`);
    }
    ms[i as number] = us / 1000;
  }
  return ms;
}

const lab = await Lab.boot({ name: 'bench-cli-start', netback: buildVifqModule('bench-cli-start') });
try {
  const kernel = (await lab.dom0Ok('uname -r')).trim();
  await lab.dom0Ok(`rm -f ${LOG} /tmp/vifqd-bench.rc
setsid sh -c 'node /vifq/dist/service/main.js --metrics-port 0 >${LOG} 2>&1; echo $? >/tmp/vifqd-bench.rc' </dev/null >/dev/null 2>&1 &
for i in $(seq 900); do grep -q '"event":"control-listening"' ${LOG} 2>/dev/null && exit 0; [ -e /tmp/vifqd-bench.rc ] && break; sleep 0.2; done
cat ${LOG}; exit 1`, { timeoutMs: 300_000 });
  await round(lab); // warm dom0's page cache (the repo is on 9p) once, and write the code caches; not counted
  const caches = (await lab.dom0Ok(`echo ${DEFAULT_CACHE_DIR}; ls ${DEFAULT_CACHE_DIR}`)).trim().split('\n');
  if (!caches.some((f) => f.endsWith('-status.v8'))) throw new Error(`cli-start-lab: no code cache of status in dom0 after the warm-up round: ${caches.join(' ')}`);
  const samples: number[][] = variants.map(() => []);
  const loads: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const ms = await round(lab);
    ms.forEach((x, i) => samples[i]?.push(x));
    loads.push(Number((await lab.dom0Ok('cut -d" " -f1 /proc/loadavg')).trim()));
  }
  const base = median(samples[0] ?? []);
  const rows = variants.map((v, i) => {
    const ms = median(samples[i] ?? []);
    return { command: v.name, medianMs: Math.round(ms), samplesMs: (samples[i] ?? []).map(Math.round), ratioToNode: Number((ms / base).toFixed(2)) };
  });
  const command = `node --import tsx bench/cli-start-lab.ts --rounds ${ROUNDS}`;
  const result = {
    benchmark: 'cli-start-lab', command, date: new Date().toISOString(), dom0Kernel: kernel, rounds: ROUNDS, dom0CodeCaches: caches,
    dom0Loadavg1m: loads, hostCpus: cpus().length, hostLoadavg1m: Number((loadavg()[0] ?? 0).toFixed(2)), rows,
  };
  for (const row of rows) console.log(`${row.command.padEnd(30)} ${String(row.medianMs).padStart(7)} ms  ×${row.ratioToNode.toFixed(2)} node -e 0  (${row.samplesMs.join(', ')})`);
  mkdirSync(join(REPO, 'bench/results'), { recursive: true });
  writeFileSync(join(REPO, 'bench/results/cli-start-lab.json'), `${JSON.stringify(result, null, 2)}\n`);
  replaceSection(join(REPO, 'docs/BENCHMARKS.md'), 'cli-start-lab', `
## vifq CLI cold start (dom0, QEMU/TCG)

\`make bench\` → \`${command}\` (${result.date.slice(0, 10)}; dom0 ${kernel}, 1 vCPU under QEMU/TCG; dom0 load ${loads.join(', ')} after each round;
host ${result.hostCpus} CPUs, load ${result.hostLoadavg1m}; raw: \`bench/results/cli-start-lab.json\`).
Each command a fresh process timed in dom0, ${ROUNDS} interleaved rounds after one warm-up round, medians; the ratio is to
\`node -e 0\` in the same rounds. vifqd runs (vifq netback, no guests): \`status\` includes the control socket's round trip.
In the lab dom0, /usr (node) and /vifq (the repo; node_modules and dist from a second, read-only share with the page
cache) are 9p mounts served by QEMU under TCG: every open and stat is a round trip through the emulator, and node
compiles every module it loads. \`vifq\` runs the bundle \`make build\` writes (\`dist/bundle/vifq.cjs\`: oclif and every command
in one minified CommonJS file) with its V8 code cache in dom0's default cache dir (\`~/.cache/vifq\`, src/cli/run-bundle.ts),
written by the warm-up round: every start after a command's first. "no code cache" is that first start (an empty
\`VIFQ_CLI_CACHE_DIR\` each run: compile, run, write the cache at exit). "unbundled" is \`VIFQ_CLI_UNBUNDLED=1\`, tsc's
\`dist/\` and node_modules module by module as before the bundle (less the glob of dist/commands). Files opened on the host:
the host section's last column (bench/cli-start.ts, strace).

| command | median | runs | × node -e 0 |
|---|---:|---|---:|
${rows.map((r) => `| \`${r.command}\` | ${(r.medianMs / 1000).toFixed(1)} s | ${r.samplesMs.map((x) => (x / 1000).toFixed(1)).join(', ')} s | ${r.ratioToNode.toFixed(2)} |`).join('\n')}
`);
} finally {
  await lab.close();
}
