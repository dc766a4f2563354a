import { VifqError } from '../errors.js';

/** Re-reading the link table (after an overrun) failed; the topology retries by itself. */
export class TopologyResyncError extends VifqError {
  readonly retryInMs: number;
  constructor(cause: unknown, retryInMs: number) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`re-reading the link table after lost rtnetlink notifications failed (${why}); retrying in ${retryInMs} ms`, {
      cause,
      hint: 'the topology is stale until a retry succeeds; if this repeats, check that `ip link` works and dmesg',
    });
    this.retryInMs = retryInMs;
  }
}

/** Re-reading the qdiscs after a traffic control change failed; the rates stay as they were. */
export class TopologyRatesError extends VifqError {
  constructor(cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`re-reading the qdiscs for the uplinks' line rates failed (${why}); the rates stay as they were`, {
      cause,
      hint: 'they are read again on the next qdisc change or resync; check `tc qdisc show` works',
    });
  }
}
