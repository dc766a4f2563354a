/**
 * Benchmark: one policy run for 1000 vifs on 16 uplinks, (a) reconciling with no
 * report (an SLA write, a vif added) and (b) learning from one 1000-vif release
 * report (calibration, feedback, adaptation, split, explanations), in steady state.
 * Baseline in the same rounds: a static weighted split with floors (what a policy
 * without calibration, feedback, adaptation or explanations costs).
 *
 * Run (from the repo root; part of make bench):
 *   node --import tsx bench/policy.ts
 * Options: --vifs N (default 1000), --uplinks N (default 16), --rounds N (default 7),
 * --round-ms N (default 200). Each round times every variant for round-ms; figures
 * are medians over the rounds. Writes bench/results/policy.json and the `policy`
 * section of docs/BENCHMARKS.md. Target: < 1 ms per run.
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { replaceSection } from './lib/benchmarks-md.js';
import { timedRound } from './lib/timed-round.js';
import { SLA_DEFAULTS } from '../src/sla/index.js';
import {
  DEFAULT_POLICY_CONFIG, EMPTY_POLICY_STATE, bytesAtRate, computePolicy, floorBytes, type PolicyInput, type PolicyState,
  type ReportInput, type UplinkInput, type VifInput, type VifReport,
} from '../src/policy/index.js';
import { arg } from './lib/args.js';

const VIFS = arg('vifs', 1000);
const UPLINKS = arg('uplinks', 16);
const ROUNDS = arg('rounds', 7);
const ROUND_MS = arg('round-ms', 200);
const SEC = 1e9;

// deterministic pseudo-random data (LCG) so every run computes the same thing
let seed = 4242;
const rnd = (max: number): number => {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return seed % max;
};
const RATES = [1e9, 1e10, 25e9, 100e6];
const uplinks: UplinkInput[] = Array.from({ length: UPLINKS }, (_, i) => ({
  id: `eth${i}`, group: 2 + i, rateBitsPerSec: RATES[i % RATES.length] ?? 1e9, rateSource: 'link-speed', budget: { kind: 'auto' },
}));
const vifs: VifInput[] = Array.from({ length: VIFS }, (_, i) => ({
  domid: 1 + (i >> 1), handle: i & 1, ifindex: 100 + i, uplinkId: `eth${i % UPLINKS}`,
  sla: { ...SLA_DEFAULTS, weight: [100, 100, 300, 50][i % 4] ?? 100, priority: i % 10 === 9 ? 'low' : 'high', pendingBytes: i % 50 === 0 ? 1 << 20 : null },
}));
/** A report where most vifs are active, a third of them throttled. */
function makeReport(): ReportInput {
  const entries: VifReport[] = [];
  for (const v of vifs) {
    if (rnd(10) < 2) continue; // idle this interval
    const bytes = rnd(50_000_000);
    const packets = Math.max(1, Math.floor(bytes / 1400));
    entries.push({
      domid: v.domid, handle: v.handle, bytes, packets, latencySumNs: packets * rnd(2_000_000), latencyMaxNs: rnd(10_000_000),
      throttleEvents: rnd(3) === 0 ? rnd(100) + 1 : 0, throttledNs: rnd(500_000_000), pendingBytes: rnd(100_000), pendingPackets: rnd(64),
    });
  }
  return { intervalNs: SEC, entries };
}
const reports = Array.from({ length: 8 }, makeReport);

// steady state: 30 reports in
let state: PolicyState = EMPTY_POLICY_STATE;
let now = 0;
for (let i = 0; i < 30; i++) {
  now += SEC;
  state = computePolicy({ nowNs: now, uplinks, vifs, report: reports[i % reports.length] ?? null, adaptation: true }, state).state;
}
const steady = state;

/** Baseline: static weighted split of a fixed 4 ms budget with the floor, no state, no reasons. */
function staticSplit(): number[] {
  const byUplink = new Map<string, { budget: number; floor: number; weight: number }>();
  for (const u of uplinks) byUplink.set(u.id, { budget: bytesAtRate(4e6, u.rateBitsPerSec), floor: floorBytes(u.rateBitsPerSec, undefined, DEFAULT_POLICY_CONFIG), weight: 0 });
  for (const v of vifs) {
    const u = byUplink.get(v.uplinkId ?? '');
    if (u) u.weight += v.sla.weight;
  }
  return vifs.map((v) => {
    const u = byUplink.get(v.uplinkId ?? '');
    return u ? Math.max(u.floor, Math.floor((u.budget * v.sla.weight) / u.weight)) : 0;
  });
}

let sink = 0;
let k = 0;
const variants: Record<string, () => void> = {
  reconcile: () => {
    const input: PolicyInput = { nowNs: now + SEC, uplinks, vifs, report: null, adaptation: true };
    sink += computePolicy(input, steady).vifs.length;
  },
  report: () => {
    const input: PolicyInput = { nowNs: now + SEC, uplinks, vifs, report: reports[k++ % reports.length] ?? null, adaptation: true };
    sink += computePolicy(input, steady).vifs.length;
  },
  staticSplit: () => {
    sink += staticSplit().length;
  },
};

/** One timed round: calls `fn` for ROUND_MS; returns µs per call. */
function round(fn: () => void): { usPerRun: number; n: number } {
  const r = timedRound(fn, ROUND_MS);
  return { usPerRun: r.elapsedUs / r.n, n: r.n };
}
for (let i = 0; i < 200; i++) for (const fn of Object.values(variants)) fn(); // warm-up / JIT

const names = Object.keys(variants);
const runs: Array<Record<string, number>> = [];
for (let r = 0; r < ROUNDS; r++) {
  const row: Record<string, number> = {};
  for (const name of names) row[name] = Number(round(variants[name] as () => void).usPerRun.toFixed(1));
  runs.push(row);
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const med = Object.fromEntries(names.map((n) => [n, median(runs.map((r) => r[n] ?? NaN))])) as Record<string, number>;
const range = (n: string): string => `${Math.min(...runs.map((r) => r[n] ?? NaN))}–${Math.max(...runs.map((r) => r[n] ?? NaN))}`;

const REPO = fileURLToPath(new URL('..', import.meta.url));
const argv = process.argv.slice(2).join(' ');
const command = `node --import tsx bench/policy.ts${argv ? ` ${argv}` : ''}`;
const reconcileUs = med.reconcile ?? NaN;
const reportUs = med.report ?? NaN;
const result = {
  benchmark: 'policy', command, date: new Date().toISOString(), node: process.version, cpus: cpus().length, loadavg1m: Number((loadavg()[0] ?? 0).toFixed(2)),
  vifs: VIFS, uplinks: UPLINKS, reportEntries: reports.map((r) => r.entries.length), rounds: ROUNDS, roundMs: ROUND_MS, runs,
  medianUsPerRun: med,
  target: { usPerRun: 1000, met: reconcileUs < 1000 && reportUs < 1000 },
  sink: sink > 0,
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
writeFileSync(join(REPO, 'bench/results/policy.json'), `${JSON.stringify(result, null, 2)}\n`);
const ratio = (n: string): string => ((med[n] ?? NaN) / (med.staticSplit ?? NaN)).toFixed(1);
replaceSection(join(REPO, 'docs/BENCHMARKS.md'), 'policy', `
## Policy run (host, pure code)

\`make bench\` → \`${command}\` (${result.date.slice(0, 10)}; node ${process.version}; raw: \`bench/results/policy.json\`)

One \`computePolicy()\` for ${VIFS} vifs on ${UPLINKS} uplinks (100 Mbit/s to 25 Gbit/s, weights 50-300, 10% low
priority), from a steady state 30 reports in: with no report (reconcile after an SLA write or a new vif), and
learning from one ${VIFS}-vif release report (~${Math.round(reports.reduce((a, r) => a + r.entries.length, 0) / reports.length)} entries: calibration, weight feedback,
adaptation, split, a reason per limit). Baseline in the same rounds: a static weighted split with floors (no
state, no report, no reasons). ${ROUNDS} rounds of ${ROUND_MS} ms per variant; medians.

| run | µs per run (median) | range over the rounds | ratio to the static split |
|---|---|---|---|
| static weighted split (baseline) | ${med.staticSplit} | ${range('staticSplit')} | 1.0 |
| policy, no report (reconcile) | ${reconcileUs} | ${range('reconcile')} | ${ratio('reconcile')} |
| policy, one ${VIFS}-vif report | ${reportUs} | ${range('report')} | ${ratio('report')} |

Target < 1 ms per run: ${result.target.met ? 'met' : '**not met**'}. (The issue's 5 ms budget for one report through
decode, policy and metrics: decode is in the genl-decode section; metrics are the service's.)
`);
