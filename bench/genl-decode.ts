/**
 * Benchmark: decode a vifq release report of 1000 vifs, from datagram to plain objects
 * (netlink framing + genl header + spec-driven YNL codec), against JSON.parse of the same
 * data as a baseline measured in the same run.
 *
 * Run (from the repo root):
 *   node --import tsx bench/genl-decode.ts
 * Options: --entries N (default 1000), --rounds N (default 7), --round-ms N (default 200).
 * Prints one JSON object on stdout. Target: >= 1e6 vif records/s.
 */
import { fileURLToPath } from 'node:url';
import { loadYnlSpecFile } from '../src/genl/ynl-spec.js';
import { YnlCodec, type YnlObject } from '../src/genl/ynl-codec.js';
import { decodeGenl, encodeGenl } from '../src/genl/genl.js';
import { encodeNlMsg, splitNlMsgs } from '../src/genl/wire.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

const ENTRIES = arg('entries', 1000);
const ROUNDS = arg('rounds', 7);
const ROUND_MS = arg('round-ms', 200);

const spec = loadYnlSpecFile(fileURLToPath(new URL('../fixtures/specs/vifq-draft.yaml', import.meta.url)));
const codec = new YnlCodec(spec);
const FAMILY_ID = 0x1c;
const reportOp = spec.opsByName.get('release-report');
if (!reportOp?.replyValue) throw new Error('spec has no release-report event');

// deterministic pseudo-random data (LCG) so every run decodes the same bytes
let seed = 12345;
const rnd = (max: number): number => {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return seed % max;
};
const entries = Array.from({ length: ENTRIES }, (_, i) => ({
  domid: 1 + (i >> 2), handle: i & 3, ifindex: 100 + i,
  bytes: rnd(1 << 30) * 1024 + rnd(1024), packets: rnd(1 << 30), 'latency-sum': rnd(1 << 30) * 1000,
  'latency-max': rnd(100000), hist: Array.from({ length: 16 }, () => rnd(5000)), 'throttle-ns': rnd(1 << 30),
}));
const report = { seq: 1, 'timestamp-ns': 1_700_000_000_000_000, 'interval-ns': 100_000_000, entry: entries };
const datagram = encodeNlMsg({ type: FAMILY_ID, flags: 0, seq: 0, pid: 0 }, encodeGenl(reportOp.replyValue, 1, codec.encode('release-report', report)));
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

function measure(fn: () => unknown): { reportsPerSec: number[]; iterations: number } {
  for (let i = 0; i < 20; i++) fn(); // warm-up / JIT
  const rates: number[] = [];
  let iterations = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    let n = 0;
    let elapsed = 0;
    do {
      fn();
      n++;
      elapsed = Number(process.hrtime.bigint() - t0) / 1e6;
    } while (elapsed < ROUND_MS);
    rates.push((n * 1000) / elapsed);
    iterations += n;
  }
  return { reportsPerSec: rates, iterations };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

let sink = 0;
const ynl = measure(() => { sink += (decodeDatagram(datagram).entry as unknown[]).length; });
const base = measure(() => { sink += (JSON.parse(json) as { entry: unknown[] }).entry.length; });
const ynlRate = median(ynl.reportsPerSec) * ENTRIES;
const jsonRate = median(base.reportsPerSec) * ENTRIES;

const result = {
  bench: 'genl-decode',
  node: process.version,
  entriesPerReport: ENTRIES,
  reportBytes: datagram.length,
  jsonBytes: json.length,
  rounds: ROUNDS,
  roundMs: ROUND_MS,
  ynlDecode: {
    recordsPerSec: Math.round(ynlRate),
    bestRecordsPerSec: Math.round(Math.max(...ynl.reportsPerSec) * ENTRIES),
    usPerReport: Number((1e6 / median(ynl.reportsPerSec)).toFixed(1)),
    iterations: ynl.iterations,
  },
  jsonParseBaseline: {
    recordsPerSec: Math.round(jsonRate),
    usPerReport: Number((1e6 / median(base.reportsPerSec)).toFixed(1)),
    iterations: base.iterations,
  },
  ratioToJsonParse: Number((ynlRate / jsonRate).toFixed(2)),
  target: { recordsPerSec: 1_000_000, met: ynlRate >= 1_000_000 },
  sink: sink > 0,
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
