/**
 * Release reports as per-vif deltas. Pure.
 *
 * The kernel sends one `release-report` per interval with an entry per active vif. Its
 * counters (bytes, packets, latency-sum-ns, hist, throttle-events, throttled-ns) are
 * cumulative since the vif was created (kernel series, second round: a report lost to ENOBUFS
 * then loses nothing); the first series sent sums over the interval (deltas). Consumers always
 * get deltas: `toReleaseDeltas()` is the one place that knows which the kernel sends
 * (`KERNEL_REPORT_COUNTERS`), and keeps the per-vif baseline it needs for the cumulative form.
 */
import type { VifqReportEntry } from './types.js';

/** How the running kernel's report counters count: switch here when the kernel changes. */
export const KERNEL_REPORT_COUNTERS: ReportCounterMode = 'cumulative';

export type ReportCounterMode = 'delta' | 'cumulative';

/** One vif's share of one report interval: counters are what happened during the interval. */
export interface VifRelease {
  ifindex: number;
  domid: number;
  handle: number;
  /** Length of the interval the deltas cover, in milliseconds. */
  'interval-ms': number;
  /** Gauges at the end of the interval. */
  'pending-bytes': number;
  'pending-packets': number;
  /** Longest time in flight of a packet released during the interval (a maximum, not a sum). */
  'latency-max-ns': number;
  /** Deltas over the interval. */
  bytes: number;
  packets: number;
  'latency-sum-ns': number;
  'throttle-events': number;
  'throttled-ns': number;
  /** Time in flight histogram of the packets released during the interval (bucket order). */
  hist: number[];
}

const COUNTERS = ['bytes', 'packets', 'latency-sum-ns', 'throttle-events', 'throttled-ns'] as const;
type Counter = (typeof COUNTERS)[number];

/** The last cumulative values seen per vif (ifindex), for the cumulative form. */
export type ReleaseBaseline = Map<number, { counters: Record<Counter, number>; hist: number[] }>;

/**
 * The kernel's report entries -> per-vif deltas over the report's interval.
 *
 * - `delta` (the first kernel series): the entry's counters are the deltas.
 * - `cumulative` (the kernel now): delta = value - the vif's value in the previous report.
 *   The first report of
 *   a vif after `baseline` was created or cleared has no previous value: it only sets the
 *   baseline and yields nothing for that vif (its totals since creation are not this interval's).
 *   A counter that went down (the vif was re-created under the same ifindex) restarts from 0.
 *   Clear `baseline` on a resync (overrun, module reload): values seen before are then stale.
 *   Vifs missing from a report keep their baseline (the kernel only lists active vifs).
 */
export function toReleaseDeltas(
  intervalMs: number,
  entries: readonly VifqReportEntry[],
  baseline: ReleaseBaseline,
  mode: ReportCounterMode = KERNEL_REPORT_COUNTERS,
): VifRelease[] {
  const out: VifRelease[] = [];
  for (const e of entries) {
    if (e.ifindex === undefined) continue; // cannot be attributed to a vif
    const now = Object.fromEntries(COUNTERS.map((c) => [c, e[c] ?? 0])) as Record<Counter, number>;
    const hist = e.hist ?? [];
    let counters = now;
    let deltaHist = hist;
    if (mode === 'cumulative') {
      const prev = baseline.get(e.ifindex);
      baseline.set(e.ifindex, { counters: now, hist });
      if (!prev) continue;
      counters = Object.fromEntries(COUNTERS.map((c) => [c, now[c] >= prev.counters[c] ? now[c] - prev.counters[c] : now[c]])) as Record<Counter, number>;
      deltaHist = hist.map((v, i) => {
        const p = prev.hist[i] ?? 0;
        return v >= p ? v - p : v;
      });
    }
    out.push({
      ifindex: e.ifindex,
      domid: e.domid ?? 0,
      handle: e.handle ?? 0,
      'interval-ms': intervalMs,
      'pending-bytes': e['pending-bytes'] ?? 0,
      'pending-packets': e['pending-packets'] ?? 0,
      'latency-max-ns': e['latency-max-ns'] ?? 0,
      ...counters,
      hist: deltaHist,
    });
  }
  return out;
}
