/**
 * The event stream of a VifqClient, as async iterators: one bounded queue per iterator,
 * so a slow consumer loses its oldest events (and is told to resync), never memory.
 */
import type { VifqError } from '../errors.js';
import { VifqSlowConsumerError } from './errors.js';
import type { VifRelease } from './release.js';
import type { VifqVif } from './types.js';

export type ResyncReason = 'overrun' | 'family-gone' | 'family-new' | 'slow-consumer';

export type VifqEvent =
  /** One release report: per-vif deltas over the interval (see release.ts). */
  | { type: 'release'; 'interval-ms': number; vifs: VifRelease[] }
  /** A vif appeared (vif-new) or is going away (vif-del), as the kernel described it. */
  | { type: 'vif-new'; vif: VifqVif }
  | { type: 'vif-del'; vif: VifqVif }
  /** Events were lost or the family changed: re-read the state (listVifs, getConfig). */
  | { type: 'resync-needed'; reason: ResyncReason; error: VifqError };

export type VifqEventKind = 'reports' | 'vifs';

export function kindOf(e: VifqEvent): VifqEventKind | undefined {
  if (e.type === 'release') return 'reports';
  if (e.type === 'vif-new' || e.type === 'vif-del') return 'vifs';
  return undefined; // resync-needed goes to every iterator
}

/** An iterator of events that can say when it is listening. */
export interface VifqEventStream extends AsyncIterableIterator<VifqEvent> {
  /**
   * Resolves once the multicast groups are joined (events from then on are seen); rejects
   * if they cannot be (EPERM without CAP_NET_ADMIN). The first `next()` does this too.
   */
  ready(): Promise<void>;
}

/** One consumer's queue. `start` runs once, before the first event is awaited (joins the groups). */
export class EventQueue implements VifqEventStream {
  readonly kinds: ReadonlySet<VifqEventKind>;
  private readonly items: VifqEvent[] = [];
  private waiter: { resolve: (r: IteratorResult<VifqEvent>) => void; reject: (e: unknown) => void } | undefined;
  private finished = false;
  private dropped = 0;
  private started: Promise<void> | undefined;

  constructor(
    kinds: Iterable<VifqEventKind>,
    private readonly limit: number,
    private readonly start: () => Promise<void>,
    private readonly onEnd: (q: EventQueue) => void,
  ) {
    this.kinds = new Set(kinds);
  }

  push(e: VifqEvent): void {
    if (this.finished) return;
    const kind = kindOf(e);
    if (kind && !this.kinds.has(kind)) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve({ value: e, done: false });
      return;
    }
    this.items.push(e);
    if (this.items.length > this.limit) {
      this.items.shift();
      this.dropped++;
    }
  }

  /** No more events: a pending next() resolves done (or rejects with `cause`). */
  end(cause?: unknown): void {
    if (this.finished) return;
    this.finished = true;
    this.items.length = 0;
    const w = this.waiter;
    this.waiter = undefined;
    if (w) {
      if (cause) w.reject(cause);
      else w.resolve({ value: undefined, done: true });
    }
    this.onEnd(this);
  }

  ready(): Promise<void> {
    this.started ??= this.start().catch((e: unknown) => {
      this.end();
      throw e;
    });
    return this.started;
  }

  async next(): Promise<IteratorResult<VifqEvent>> {
    await this.ready();
    if (this.dropped > 0) {
      const error = new VifqSlowConsumerError(this.dropped, this.limit);
      this.dropped = 0;
      return { value: { type: 'resync-needed', reason: 'slow-consumer', error }, done: false };
    }
    const e = this.items.shift();
    if (e) return { value: e, done: false };
    if (this.finished) return { value: undefined, done: true };
    return new Promise((resolve, reject) => { this.waiter = { resolve, reject }; });
  }

  async return(): Promise<IteratorResult<VifqEvent>> {
    this.end();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): VifqEventStream {
    return this;
  }
}
