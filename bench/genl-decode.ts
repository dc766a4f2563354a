/**
 * Benchmark: decode a vifq release report of 1000 vifs, from datagram to plain objects
 * (netlink framing + genl header + spec-driven YNL codec), against JSON.parse of the same
 * data as a baseline measured in the same run.
 *
 * Run (from the repo root; part of make bench):
 *   node --import tsx bench/genl-decode.ts
 * Options: --entries N (default 1000), --rounds N (default 7), --round-ms N (default 200).
 * Each round times the decoder and then JSON.parse for round-ms each, so both see the
 * same machine load; the figures are the medians over the rounds.
 * Prints one JSON object on stdout, writes it to bench/results/genl-decode.json and the
 * `genl-decode` section of docs/BENCHMARKS.md. Target: >= 1e6 vif records/s.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { replaceSection } from './lib/benchmarks-md.js';
import { loadYnlSpecFile } from '../src/genl/ynl-spec.js';
import { YnlCodec, type YnlObject } from '../src/genl/ynl-codec.js';
import { decodeGenl, encodeGenl } from '../src/genl/genl.js';
import { encodeNlMsg, splitNlMsgs } from '../src/netlink/wire.js';
import { timedRound } from './lib/timed-round.js';
import { arg } from './lib/args.js';

const ENTRIES = arg('entries', 1000);
const ROUNDS = arg('rounds', 7);
const ROUND_MS = arg('round-ms', 200);

const spec = loadYnlSpecFile(fileURLToPath(new URL('../kernel-patch/vifq.yaml', import.meta.url)));
const codec = new YnlCodec(spec);
const FAMILY_ID = 0x1c;
const reportOp = spec.opsByName.get('release-report');
const HIST_BUCKETS = spec.consts.get('hist-buckets') ?? 24;
if (!reportOp?.replyValue) throw new Error('spec has no release-report event');

// deterministic pseudo-random data (LCG) so every run decodes the same bytes
let seed = 12345;
const rnd = (max: number): number => {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return seed % max;
};
const entries = Array.from({ length: ENTRIES }, (_, i) => ({
  domid: 1 + (i >> 2), handle: i & 3, ifindex: 100 + i,
  'pending-bytes': rnd(1 << 20), 'pending-packets': rnd(64),
  bytes: rnd(1 << 30) * 1024 + rnd(1024), packets: rnd(1 << 30), 'latency-sum-ns': rnd(1 << 30) * 1000,
  'latency-max-ns': rnd(100000), hist: Array.from({ length: HIST_BUCKETS }, () => rnd(5000)),
  'throttle-events': rnd(1000), 'throttled-ns': rnd(1 << 30),
}));
const report = { 'interval-ms': 1000, entry: entries };
const datagram = encodeNlMsg({ type: FAMILY_ID, flags: 0, seq: 0, pid: 0 }, encodeGenl(reportOp.replyValue, 1, codec.encode(reportOp.attributeSet, report)));
const json = JSON.stringify(report);

function decodeDatagram(b: Buffer): YnlObject {
  const m = splitNlMsgs(b)[0];
  if (!m) throw new Error('no message');
  const g = decodeGenl(m);
  return codec.decode(reportOp!.attributeSet, g.attrs);
}

// correctness first: the benchmark must decode what was encoded
const check = decodeDatagram(datagram);
if (JSON.stringify(check) !== json) throw new Error('decode does not round-trip the report');

/** One timed round: calls `fn` for ROUND_MS; returns reports/s and the calls made. */
function round(fn: () => unknown): { reportsPerSec: number; n: number } {
  const r = timedRound(fn, ROUND_MS);
  return { reportsPerSec: (r.n * 1e6) / r.elapsedUs, n: r.n };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

let sink = 0;
const ynlFn = (): void => {
  sink += (decodeDatagram(datagram).entry as unknown[]).length;
};
const jsonFn = (): void => {
  sink += (JSON.parse(json) as { entry: unknown[] }).entry.length;
};
for (let i = 0; i < 20; i++) {
  ynlFn(); // warm-up / JIT
  jsonFn();
}
const runs: Array<{ ynlRecordsPerSec: number; jsonParseRecordsPerSec: number; ratio: number }> = [];
let ynlIterations = 0;
let jsonIterations = 0;
for (let r = 0; r < ROUNDS; r++) {
  const y = round(ynlFn);
  const j = round(jsonFn);
  ynlIterations += y.n;
  jsonIterations += j.n;
  runs.push({
    ynlRecordsPerSec: Math.round(y.reportsPerSec * ENTRIES),
    jsonParseRecordsPerSec: Math.round(j.reportsPerSec * ENTRIES),
    ratio: Number((y.reportsPerSec / j.reportsPerSec).toFixed(2)),
  });
}
const ynlRate = median(runs.map((r) => r.ynlRecordsPerSec));
const jsonRate = median(runs.map((r) => r.jsonParseRecordsPerSec));
const ratio = Number((ynlRate / jsonRate).toFixed(2));

const REPO = fileURLToPath(new URL('..', import.meta.url));
const argv = process.argv.slice(2).join(' ');
const command = `node --import tsx bench/genl-decode.ts${argv ? ` ${argv}` : ''}`;
const result = {
  benchmark: 'genl-decode',
  command,
  date: new Date().toISOString(),
  node: process.version,
  entriesPerReport: ENTRIES,
  reportBytes: datagram.length,
  jsonBytes: json.length,
  rounds: ROUNDS,
  roundMs: ROUND_MS,
  runs,
  median: {
    ynlRecordsPerSec: ynlRate,
    jsonParseRecordsPerSec: jsonRate,
    ynlUsPerReport: Number(((1e6 * ENTRIES) / ynlRate).toFixed(1)),
    jsonParseUsPerReport: Number(((1e6 * ENTRIES) / jsonRate).toFixed(1)),
  },
  ratioToJsonParse: ratio,
  iterations: { ynl: ynlIterations, jsonParse: jsonIterations },
  target: { recordsPerSec: 1_000_000, met: ynlRate >= 1_000_000 },
  sink: sink > 0,
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);

writeFileSync(join(REPO, 'bench/results/genl-decode.json'), `${JSON.stringify(result, null, 2)}\n`);
const range = (xs: number[]): string => `${Math.min(...xs)}–${Math.max(...xs)}`;
replaceSection(join(REPO, 'docs/BENCHMARKS.md'), 'genl-decode', `
## genl decode (host, no kernel)

\`make bench\` → \`${command}\` (${result.date.slice(0, 10)}; node ${process.version}; raw: \`bench/results/genl-decode.json\`)

One vifq release report of ${ENTRIES} vifs (${datagram.length} bytes as a netlink datagram, ${json.length} bytes as JSON),
decoded to plain objects; JSON.parse of the same report is the baseline, timed in the same rounds
(${ROUNDS} rounds of ${ROUND_MS} ms each, alternating).

| decoder | records/s (median of ${ROUNDS}) | range over the rounds | µs per report | ratio to JSON.parse |
|---|---|---|---|---|
| \`JSON.parse\` of the same report (baseline) | ${jsonRate} | ${range(runs.map((r) => r.jsonParseRecordsPerSec))} | ${result.median.jsonParseUsPerReport} | 1.00 |
| vifq netlink + genl + YNL-spec decode | ${ynlRate} | ${range(runs.map((r) => r.ynlRecordsPerSec))} | ${result.median.ynlUsPerReport} | ${ratio.toFixed(2)} |

Target ≥ 1,000,000 records/s: ${result.target.met ? 'met' : '**not met**'}.
`);
