/** Reconnect delays: exponential from `initialMs`, capped at `maxMs`. Pure. */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 50, maxMs: 2000, factor: 2 };

/** Delay before reconnect attempt `attempt` (1-based). */
export function backoffDelay(attempt: number, o: BackoffOptions = DEFAULT_BACKOFF): number {
  const n = Math.max(1, Math.floor(attempt));
  const d = o.initialMs * Math.pow(o.factor, n - 1);
  return Math.min(o.maxMs, Number.isFinite(d) ? d : o.maxMs);
}
