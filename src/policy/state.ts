/** What the policy remembers between runs (plain data: the caller keeps it, nothing else does). */

export interface UplinkState {
  /** Calibrated budget as time at line rate. */
  readonly budgetNs: number;
  /** Smallest slack (unused budget) seen since `slackSinceNs`, as time at line rate; null: none yet. */
  readonly slackMinNs: number | null;
  readonly slackSinceNs: number;
  /** Consecutive reports in which no vif of the uplink raised a latency alarm. */
  readonly calmStreak: number;
}

/** What the last report said about a vif, kept for runs without a report. */
export interface VifActivity {
  readonly active: boolean;
  /** Throttled during the interval: it wants more than its limit. */
  readonly backlogged: boolean;
  /** What a non-backlogged active vif uses (bytes in flight, with headroom). */
  readonly demandBytes: number;
}

export interface VifState {
  /** Feedback multiplier of its weight (1 = none). */
  readonly gain: number;
  /** Adaptation factor on its share (1 = none, < 1 tightened). */
  readonly tighten: number;
  /** Consecutive reports with its share full while peers' latency alarmed. */
  readonly fullStreak: number;
  readonly activity: VifActivity;
  /** Reports since it was last throttled (0: the last one); null: not since it appeared. */
  readonly throttledAgo: number | null;
  /** Takes part in the weights (throttled, or held: see PolicyConfig.backlogHoldReports). */
  readonly weighted: boolean;
  /** The limit last emitted (for the deadband). */
  readonly limitBytes: number;
}

export interface PolicyState {
  readonly uplinks: ReadonlyMap<string, UplinkState>;
  readonly vifs: ReadonlyMap<number, VifState>;
}

export const EMPTY_POLICY_STATE: PolicyState = { uplinks: new Map(), vifs: new Map() };

/** The key of a vif in the state and in report lookups: domid and handle in one number (< 2^47). */
export function vifKey(domid: number, handle: number): number {
  return domid * 0x1_0000_0000 + handle;
}
