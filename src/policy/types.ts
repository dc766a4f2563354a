/** What the policy takes in and gives out. All times in ns, sizes in bytes, rates in bits/s. */
import type { BudgetSetting, SlaPriority, SlaValues } from '../sla/schema.js';

/** Where an uplink's line rate came from (shown to the operator next to it). */
export type RateSource = 'host-setting' | 'qdisc' | 'link-speed' | 'unknown-default';

export interface UplinkInput {
  /** The uplink's interface name (the key of its host settings). */
  readonly id: string;
  /** The kernel group its vifs are put in (the daemon uses the uplink's ifindex). */
  readonly group: number;
  readonly rateBitsPerSec: number;
  readonly rateSource: RateSource;
  /** From the host settings: `auto` (calibrate) or a fixed budget. */
  readonly budget: BudgetSetting;
  /** MTU of the path (a full-size frame is mtu + 14); default 1500. */
  readonly mtu?: number;
}

export interface VifInput {
  readonly domid: number;
  readonly handle: number;
  readonly ifindex: number;
  /** The uplink this vif's bridge forwards to; null when topology found none. */
  readonly uplinkId: string | null;
  readonly sla: SlaValues;
}

/** What one release report said about one vif (per-interval deltas, pending at the end). */
export interface VifReport {
  readonly domid: number;
  readonly handle: number;
  readonly bytes: number;
  readonly packets: number;
  readonly latencySumNs: number;
  readonly latencyMaxNs: number;
  readonly throttleEvents: number;
  readonly throttledNs: number;
  readonly pendingBytes: number;
  readonly pendingPackets: number;
}

/** One release report: the interval it covers and an entry per active vif (absent = idle). */
export interface ReportInput {
  readonly intervalNs: number;
  readonly entries: readonly VifReport[];
}

export interface PolicyInput {
  /** The caller's clock (monotonic ns); the policy has none of its own. */
  readonly nowNs: number;
  readonly uplinks: readonly UplinkInput[];
  readonly vifs: readonly VifInput[];
  /** A new report to learn from, or null when only the inputs changed (SLA write, vif added). */
  readonly report: ReportInput | null;
  /** Host setting `adaptation`: tighten/relax from the reports. */
  readonly adaptation: boolean;
}

/** Why a limit is what it is: one entry per rule that shaped it, in the order applied. */
export type LimitReasonCode =
  | 'budget-share' // weighted share of the uplink's budget among the active vifs
  | 'demand' // an active vif that is not throttled gets what it uses, with headroom
  | 'feedback' // its weight gain, steered by delivered shares
  | 'tightened' // adaptation: its share full while peers waited
  | 'floor' // raised to the per-vif floor
  | 'idle' // not active: the floor, its share comes back after one report
  | 'sla-cap' // lowered to the SLA's pending cap
  | 'low-priority' // packet cap and timeout of the low-priority class
  | 'no-uplink' // no uplink found: stock behaviour except SLA caps
  | 'held'; // within the deadband of the previous limit: unchanged

export interface LimitReason {
  readonly code: LimitReasonCode;
  readonly detail: string;
}

/** The kernel settings of one vif, as one `vif-set` writes them. */
export interface VifSettings {
  readonly limitBytes: number;
  readonly limitPackets: number;
  readonly priority: SlaPriority;
  readonly group: number;
  readonly timeoutMs: number;
}

export interface VifDecision {
  readonly domid: number;
  readonly handle: number;
  readonly ifindex: number;
  readonly uplinkId: string | null;
  readonly settings: VifSettings;
  readonly why: readonly LimitReason[];
}

export type BudgetReasonCode = 'configured' | 'initial' | 'grew-starved' | 'shrank-slack' | 'held' | 'raised-for-weights' | 'clamped';

export interface UplinkDecision {
  readonly id: string;
  readonly rateBitsPerSec: number;
  readonly rateSource: RateSource;
  /** The calibrated (or configured) budget, as time at line rate and in bytes. */
  readonly budgetNs: number;
  readonly budgetBytes: number;
  /** What was split: the budget, or more when unequal weights need room above the floors. */
  readonly poolBytes: number;
  readonly floorBytes: number;
  readonly activeVifs: number;
  readonly why: readonly { code: BudgetReasonCode; detail: string }[];
}
