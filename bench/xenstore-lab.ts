/**
 * xenstore read round trips/s against the real xenstored in the lab, with the
 * C library (libxenstore, `xenstore-read P P P...`: one connection, one read at
 * a time) as the baseline in the same boot.
 *
 *   node --import tsx bench/xenstore-lab.ts [--reads 2000] [--runs 3]   (part of make bench)
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Lab, REPO } from '../test/lab/lab.js';
import { replaceSection } from './lib/benchmarks-md.js';

const { values: opts } = parseArgs({ options: { reads: { type: 'string', default: '2000' }, runs: { type: 'string', default: '3' } } });
const READS = Number(opts.reads);
const RUNS = Number(opts.runs);

interface RttRun {
  vifq: {
    sequential: { readsPerSec: number; p50Us: number; p99Us: number };
    pipelined: { window: number; readsPerSec: number };
    rawNode: { sequential: { readsPerSec: number } } | null;
  };
  libxenstoreReadsPerSec: number;
}

const lab = await Lab.boot({ name: 'bench-xenstore' });
const runs: RttRun[] = [];
let ok = false;
try {
  const kernel = (await lab.dom0Ok('uname -r')).trim();
  for (let i = 0; i < RUNS; i++) {
    const vifq = JSON.parse((await lab.dom0Ok(`node /vifq/bench/xenstore-rtt.mjs ${READS} 32`, { timeoutMs: 300_000 })).trim().split('\n').pop() ?? '{}') as RttRun['vifq'];
    const c = await lab.dom0Ok(`xenstore-write /local/domain/0/vifq-bench/rtt xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
      paths=$(for i in $(seq ${READS}); do echo -n "/local/domain/0/vifq-bench/rtt "; done)
      s=\${EPOCHREALTIME/./}; xenstore-read $paths >/dev/null; e=\${EPOCHREALTIME/./}; xenstore-rm /local/domain/0/vifq-bench
      echo $(( ${READS} * 1000000 / (e - s) ))`, { timeoutMs: 300_000 });
    runs.push({ vifq, libxenstoreReadsPerSec: Number(c.trim()) });
  }
  ok = true;
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const seq = median(runs.map((r) => r.vifq.sequential.readsPerSec));
  const pipe = median(runs.map((r) => r.vifq.pipelined.readsPerSec));
  const base = median(runs.map((r) => r.libxenstoreReadsPerSec));
  const raw = median(runs.map((r) => r.vifq.rawNode?.sequential.readsPerSec ?? Number.NaN));
  const command = `node --import tsx bench/xenstore-lab.ts --reads ${READS} --runs ${RUNS}`;
  const doc = { benchmark: 'xenstore-rtt', command, date: new Date().toISOString(), kernel, reads: READS, runs,
    median: { vifqSequential: seq, vifqPipelined: pipe, rawNodeSequential: raw, libxenstore: base } };
  writeFileSync(join(REPO, 'bench/results/xenstore-rtt.json'), JSON.stringify(doc, null, 2) + '\n');
  replaceSection(join(REPO, 'docs/BENCHMARKS.md'), 'xenstore-rtt', `
## xenstore round trips (lab, real xenstored)

\`make bench\` → \`${command}\` (${doc.date.slice(0, 10)}; dom0 ${kernel} under QEMU/TCG; raw: \`bench/results/xenstore-rtt.json\`)

| client | reads/s (median of ${RUNS}) | ratio to libxenstore |
|---|---|---|
| libxenstore (\`xenstore-read\` with ${READS} paths, one connection, sequential) | ${base} | 1.00 |
| minimal raw Node client (\`bench/lib/xs-raw-client.mjs\`), sequential: the floor for any Node client | ${raw} | ${(raw / base).toFixed(2)} |
| vifq \`XenstoreClient\`, sequential (p50 ${runs[0]?.vifq.sequential.p50Us} µs) | ${seq} | ${(seq / base).toFixed(2)} |
| vifq \`XenstoreClient\`, pipelined (window 32) | ${pipe} | ${(pipe / base).toFixed(2)} |

Absolute numbers are TCG-emulated; the ratios are what carries over.
`);
  process.stdout.write(JSON.stringify(doc.median) + '\n');
} finally {
  await lab.close({ collect: !ok });
}
