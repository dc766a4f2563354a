/**
 * The policy's tunables and their defaults. The reasoning behind each default
 * (and the lab figures it rests on) is in README.md.
 */
export interface PolicyConfig {
  /** A full-size frame is mtu + this (the Ethernet header netback counts). */
  readonly frameOverheadBytes: number;
  readonly defaultMtu: number;
  /** Per-vif floor: this much time at line rate... */
  readonly floorTimeNs: number;
  /** ...capped at this... */
  readonly floorMaxBytes: number;
  /** ...but never below this many full-size frames. */
  readonly floorFrames: number;

  readonly budgetInitialNs: number;
  readonly budgetMinNs: number;
  readonly budgetMaxNs: number;
  /** Starved: the uplink delivered less than this share of its line rate... */
  readonly starveUtilisation: number;
  /** ...while a vif was throttled at least this share of the interval. */
  readonly starveThrottledFraction: number;
  /** Budget multiplier on starvation (grow fast). */
  readonly growFactor: number;
  /** Shrink once per hold time, by this share of the smallest slack seen in it (shrink slowly). */
  readonly slackHoldNs: number;
  readonly shrinkFraction: number;

  /** An active vif that is not throttled may hold this multiple of what it had in flight. */
  readonly demandHeadroom: number;

  /** Delivered share within target × (1 ± band): the gain holds (hysteresis). */
  readonly feedbackBand: number;
  readonly gainStepMax: number;
  readonly gainMin: number;
  readonly gainMax: number;
  /**
   * A vif throttled in one of this many last reports (or weighted in the previous one), still
   * delivering at least holdMinShare of its weighted share, keeps its place in the weights while
   * its guest (TCP small queues), not its limit, holds it back. Without it such a vif drops out, the pool raised for the weights falls
   * back to the floors, it is throttled at its floor, and the limits flap every report.
   */
  readonly backlogHoldReports: number;
  /** ...of its weighted share among the vifs throttled lately (below it, it uses what it needs). */
  readonly holdMinShare: number;

  /** Packet cap of a low-priority vif whose SLA names none. */
  readonly lowPacketCap: number;

  /** Peers' mean in-flight time above this multiple of what the limits allow: alarm. */
  readonly alarmFactor: number;
  /** Below this multiple for everyone: calm. Between the two: hold. */
  readonly calmFactor: number;
  /** No alarm below this mean in-flight time, whatever the limits. */
  readonly alarmMinNs: number;
  /** "Keeps its share full": pending at the end ≥ this share of its limit, or throttled ≥ half the interval. */
  readonly fullFraction: number;
  readonly tightenAfter: number;
  readonly relaxAfter: number;
  readonly tightenStep: number;
  readonly relaxStep: number;
  readonly tightenMin: number;

  /** A new limit within max(this share, deadbandBytes) of the last one is not emitted. */
  readonly deadbandFraction: number;
  readonly deadbandBytes: number;
}

export const DEFAULT_POLICY_CONFIG: PolicyConfig = Object.freeze({
  frameOverheadBytes: 14,
  defaultMtu: 1500,
  floorTimeNs: 1_000_000,
  floorMaxBytes: 65_536,
  floorFrames: 2,

  budgetInitialNs: 4_000_000,
  budgetMinNs: 200_000,
  budgetMaxNs: 50_000_000,
  starveUtilisation: 0.9,
  starveThrottledFraction: 0.05,
  growFactor: 2,
  slackHoldNs: 5_000_000_000,
  shrinkFraction: 0.25,

  demandHeadroom: 2,

  feedbackBand: 0.05,
  gainStepMax: 1.25,
  gainMin: 0.5,
  gainMax: 2,
  backlogHoldReports: 3,
  holdMinShare: 0.5,

  lowPacketCap: 4,

  alarmFactor: 2,
  calmFactor: 1.25,
  alarmMinNs: 1_000_000,
  fullFraction: 0.9,
  tightenAfter: 2,
  relaxAfter: 3,
  tightenStep: 0.75,
  relaxStep: 1.25,
  tightenMin: 0.25,

  deadbandFraction: 0.05,
  deadbandBytes: 256,
});
