/** One timed round of a micro-benchmark: calls `fn` until `ms` have passed. */
export interface TimedRound {
  /** calls made */
  n: number;
  /** wall time of the round, in microseconds */
  elapsedUs: number;
}

export function timedRound(fn: () => unknown, ms: number): TimedRound {
  const t0 = process.hrtime.bigint();
  let n = 0;
  let elapsedUs = 0;
  do {
    fn();
    n++;
    elapsedUs = Number(process.hrtime.bigint() - t0) / 1e3;
  } while (elapsedUs < ms * 1000);
  return { n, elapsedUs };
}
