/** Small order statistics for latency samples (milliseconds). */
export interface LatencySummary {
  n: number;
  lossPct: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
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
    max: round(s[s.length - 1] ?? Number.NaN),
    mean: round(s.reduce((a, b) => a + b, 0) / (s.length || 1)),
  };
}

/** RTTs (ms) from ping output lines "... time=12.3 ms". */
export function parsePingRtts(output: string): number[] {
  return [...output.matchAll(/time=([0-9.]+) ?ms/g)].map((m) => Number(m[1]));
}
