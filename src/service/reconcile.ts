/**
 * The pure half of the reconciler: desired per-vif kernel settings (the policy's output) against
 * the kernel's current state (as `listVifs()` reports it) -> the vifs that need a `vif-set`, each
 * with all of its attributes (so a vif is never half-configured). No I/O, no clock.
 */
import { VIFQ_PRIORITY_NAMES } from '../vifq/index.js';
import type { VifqVif, VifSettings as WireVifSettings } from '../vifq/index.js';
import type { VifSettings } from '../policy/index.js';

/** One vif's desired kernel settings, keyed as the kernel knows it. */
export interface DesiredVif {
  readonly ifindex: number;
  readonly domid: number;
  readonly handle: number;
  readonly settings: VifSettings;
}

/** What the reconciler believes the kernel holds for one vif (the configurable part). */
export interface KernelVif {
  readonly ifindex: number;
  readonly domid: number;
  readonly handle: number;
  /** undefined when the kernel did not report an attribute (then it always differs). */
  readonly settings: Partial<VifSettings>;
}

/** A `vif-set` to send: the vif and every one of its attributes. */
export interface VifChange {
  readonly ifindex: number;
  readonly domid: number;
  readonly handle: number;
  readonly settings: VifSettings;
  /** Why it is sent: the kernel differs, or the last set of it failed (dirty). */
  readonly because: 'differs' | 'dirty';
}

export interface Diff {
  readonly changes: readonly VifChange[];
  /** ifindexes whose kernel settings already equal the desired ones. */
  readonly unchanged: readonly number[];
  /** Desired vifs the kernel does not have (not yet attached, or gone): nothing is sent. */
  readonly absent: readonly DesiredVif[];
}

const FIELDS = ['limitBytes', 'limitPackets', 'priority', 'group', 'timeoutMs'] as const;

/** The kernel's view of a vif from a `vif-get` reply; undefined if it lacks its identity. */
export function kernelVifFrom(v: VifqVif): KernelVif | undefined {
  if (v.ifindex === undefined || v.domid === undefined || v.handle === undefined) return undefined;
  const p = v.priority;
  const priority = typeof p === 'number' ? VIFQ_PRIORITY_NAMES[p] : p;
  return {
    ifindex: v.ifindex,
    domid: v.domid,
    handle: v.handle,
    settings: {
      limitBytes: v['limit-bytes'],
      limitPackets: v['limit-packets'],
      priority,
      group: v.group,
      timeoutMs: v['timeout-ms'],
    },
  };
}

/** The `vif-set` attributes for one vif's settings (all of them). */
export function toWire(s: VifSettings): Required<WireVifSettings> {
  return {
    'limit-bytes': s.limitBytes,
    'limit-packets': s.limitPackets,
    priority: s.priority,
    group: s.group,
    'timeout-ms': s.timeoutMs,
  };
}

export function sameSettings(kernel: Partial<VifSettings>, desired: VifSettings): boolean {
  return FIELDS.every((f) => kernel[f] === desired[f]);
}

/**
 * The minimal set of `vif-set`s: one per desired vif present in the kernel (same ifindex, domid
 * and handle) whose settings differ, or that is dirty (its last set failed). A desired vif whose
 * ifindex the kernel gives to another domid/handle is absent (the ifindex was reused).
 */
export function diff(
  desired: Iterable<DesiredVif>,
  kernel: ReadonlyMap<number, KernelVif>,
  dirty: ReadonlySet<number> = new Set(),
): Diff {
  const changes: VifChange[] = [];
  const unchanged: number[] = [];
  const absent: DesiredVif[] = [];
  for (const d of desired) {
    const k = kernel.get(d.ifindex);
    if (!k || k.domid !== d.domid || k.handle !== d.handle) {
      absent.push(d);
    } else if (!sameSettings(k.settings, d.settings)) {
      changes.push({ ifindex: d.ifindex, domid: d.domid, handle: d.handle, settings: d.settings, because: 'differs' });
    } else if (dirty.has(d.ifindex)) {
      changes.push({ ifindex: d.ifindex, domid: d.domid, handle: d.handle, settings: d.settings, because: 'dirty' });
    } else {
      unchanged.push(d.ifindex);
    }
  }
  return { changes, unchanged, absent };
}
