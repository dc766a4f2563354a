/**
 * The reconciler's state between passes: the kernel view (by ifindex), the dirty set (vifs whose
 * last set failed) and whether a resync is due. A pass re-reads the kernel first when a resync is
 * due (the first pass, ENOBUFS, a module reload: `requestResync()`), diffs, applies, and folds the
 * outcome back into the view, so applying the same desired state twice sends nothing the second
 * time. No clock of its own: the caller passes `now` if it wants it in the summary.
 */
import type { VifqVif } from '../vifq/index.js';
import type { VifqError } from '../errors.js';
import { ResyncFailedError } from './errors.js';
import { diff, kernelVifFrom } from './reconcile.js';
import type { DesiredVif, KernelVif, VifChange } from './reconcile.js';
import { applyChanges } from './apply.js';
import type { FailedVif, VifqSetClient } from './apply.js';

/** The outcome of one pass, for the log and the metrics. */
export interface PassSummary {
  /** As passed to `pass()`; the reconciler has no clock. */
  readonly at: number | undefined;
  /** The kernel was re-read before diffing. */
  readonly resynced: boolean;
  /** The re-read failed: nothing was set and the resync is retried on the next pass. */
  readonly resyncError: VifqError | undefined;
  readonly applied: readonly VifChange[];
  readonly unchanged: readonly number[];
  /** The kernel said ENOENT: dropped from the kernel view. */
  readonly vanished: readonly VifChange[];
  /** Kept dirty, retried on the next pass. */
  readonly failed: readonly FailedVif[];
  /** Desired but not in the kernel (not attached yet, or gone): nothing sent. */
  readonly absent: readonly DesiredVif[];
}

export class Reconciler {
  private readonly kernel = new Map<number, KernelVif>();
  private readonly dirtySet = new Set<number>();
  private resyncDue = true;

  constructor(private readonly client: VifqSetClient) {}

  /** Notifications may have been lost (ENOBUFS, module reload): re-read before the next diff. */
  requestResync(): void {
    this.resyncDue = true;
  }

  get resyncPending(): boolean {
    return this.resyncDue;
  }

  /** ifindexes whose last set failed. */
  get dirty(): ReadonlySet<number> {
    return this.dirtySet;
  }

  /** The kernel view (by ifindex), as the reconciler believes it. */
  get view(): ReadonlyMap<number, KernelVif> {
    return this.kernel;
  }

  /** A vif the kernel announced (`vif-new`) or reported: replaces what was known of it. */
  vifSeen(v: VifqVif): void {
    const k = kernelVifFrom(v);
    if (k) this.kernel.set(k.ifindex, k);
  }

  /** A vif the kernel removed (`vif-del`). */
  vifGone(ifindex: number): void {
    this.kernel.delete(ifindex);
    this.dirtySet.delete(ifindex);
  }

  /** One pass: resync if due, diff, apply, fold back. Never rejects: failures are in the summary. */
  async pass(desired: Iterable<DesiredVif>, now?: number): Promise<PassSummary> {
    const want = [...desired];
    let resynced = false;
    if (this.resyncDue) {
      try {
        const vifs = await this.client.listVifs();
        this.kernel.clear();
        for (const v of vifs) this.vifSeen(v);
        this.resyncDue = false;
        resynced = true;
      } catch (e) {
        return {
          at: now, resynced: false, resyncError: new ResyncFailedError(e),
          applied: [], unchanged: [], vanished: [], failed: [], absent: [],
        };
      }
    }
    const d = diff(want, this.kernel, this.dirtySet);
    for (const a of d.absent) this.dirtySet.delete(a.ifindex);
    const r = await applyChanges(this.client, d.changes);
    for (const c of r.applied) {
      this.kernel.set(c.ifindex, { ifindex: c.ifindex, domid: c.domid, handle: c.handle, settings: c.settings });
      this.dirtySet.delete(c.ifindex);
    }
    for (const c of r.vanished) this.vifGone(c.ifindex);
    for (const f of r.failed) this.dirtySet.add(f.change.ifindex);
    return {
      at: now, resynced, resyncError: undefined,
      applied: r.applied, unchanged: d.unchanged, vanished: r.vanished, failed: r.failed, absent: d.absent,
    };
  }
}
