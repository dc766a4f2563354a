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
