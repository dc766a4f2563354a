/** Small order statistics for latency samples (milliseconds). */
export interface LatencySummary {
  n: number;
  lossPct: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  /** p99.9 (nearest rank: the maximum below 1000 samples) */
  p999: number;
  max: number;
  mean: number;
}

/** Median of unordered samples: the middle one, or the mean of the two middle ones. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p * sorted.length) / 100 - 1e-9); // 99.9 / 100 is not exactly 0.999
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export function summarize(samples: readonly number[], expected: number): LatencySummary {
  const s = [...samples].sort((a, b) => a - b);
  const round = (x: number): number => Math.round(x * 100) / 100;
  return {
    n: s.length,
    lossPct: expected > 0 ? round((100 * Math.max(0, expected - s.length)) / expected) : 0,
    min: round(s[0] ?? Number.NaN),
    p50: round(percentile(s, 50)),
    p90: round(percentile(s, 90)),
    p99: round(percentile(s, 99)),
    p999: round(percentile(s, 99.9)),
    max: round(s[s.length - 1] ?? Number.NaN),
    mean: round(s.reduce((a, b) => a + b, 0) / (s.length || 1)),
  };
}

/** RTTs (ms) from ping output lines "... time=12.3 ms". */
export function parsePingRtts(output: string): number[] {
  return [...output.matchAll(/time=([0-9.]+) ?ms/g)].map((m) => Number(m[1]));
}

/** One ping reply: its sequence number (0-based, one per interval) and RTT (ms). */
export interface PingSample {
  seq: number;
  rtt: number;
}

/** Replies from busybox ("seq=3 ... time=1.2 ms") or iputils ("icmp_seq=3 ... time=1.2 ms") ping output. */
export function parsePingSamples(output: string): PingSample[] {
  return [...output.matchAll(/(?:icmp_)?seq=(\d+)\b.*?time=([0-9.]+) ?ms/g)].map((m) => ({ seq: Number(m[1]), rtt: Number(m[2]) }));
}
