/**
 * Applies a diff through an injected client with the shape of src/vifq's `VifqClient`, one
 * `vif-set` per vif with all its attributes, and classifies each outcome: applied, vanished
 * (the kernel said ENOENT: `VifNotFoundError`) or failed (anything else; kept dirty).
 * Never throws for a vif's failure.
 */
import { VifNotFoundError } from '../vifq/index.js';
import type { VifqVif, VifSelector, VifSettings as WireVifSettings } from '../vifq/index.js';
import { VifSetFailedError } from './errors.js';
import { toWire } from './reconcile.js';
import type { VifChange } from './reconcile.js';

/** The part of `VifqClient` the reconciler uses (the seam for tests). */
export interface VifqSetClient {
  listVifs(): Promise<VifqVif[]>;
  setVif(sel: VifSelector, settings: WireVifSettings): Promise<void>;
}

export interface FailedVif {
  readonly change: VifChange;
  readonly error: VifSetFailedError;
  readonly hint: string;
}

export interface ApplyResult {
  readonly applied: readonly VifChange[];
  readonly vanished: readonly VifChange[];
  readonly failed: readonly FailedVif[];
}

/** Send each change in order; one vif's failure does not stop the others. */
export async function applyChanges(client: VifqSetClient, changes: readonly VifChange[]): Promise<ApplyResult> {
  const applied: VifChange[] = [];
  const vanished: VifChange[] = [];
  const failed: FailedVif[] = [];
  for (const c of changes) {
    try {
      await client.setVif({ ifindex: c.ifindex }, toWire(c.settings));
      applied.push(c);
    } catch (e) {
      if (e instanceof VifNotFoundError) {
        vanished.push(c);
      } else {
        const error = new VifSetFailedError(c, e);
        failed.push({ change: c, error, hint: error.hint ?? '' });
      }
    }
  }
  return { applied, vanished, failed };
}
