/**
 * Adaptation from the release reports. A vif that keeps its share full while
 * its peers' in-flight time rises well above what the limits allow is tightened
 * (its share × tightenStep, down to tightenMin) after `tightenAfter` such reports
 * in a row; when no vif of the uplink alarmed for `relaxAfter` reports in a row,
 * all relax by relaxStep up to 1. Alarm above alarmFactor × the allowed queue
 * time, calm below calmFactor ×, hold in between: limits do not flap.
 */
import type { PolicyConfig } from './config.js';

export interface AdaptSample {
  readonly tighten: number;
  readonly fullStreak: number;
  /** Its pending at the end ≥ fullFraction of its limit, or throttled ≥ half the interval. */
  readonly full: boolean;
  readonly packets: number;
  readonly latencySumNs: number;
}

export interface AdaptResult {
  readonly vifs: ReadonlyArray<{ tighten: number; fullStreak: number; peersLatencyNs: number | null; changed: 'tightened' | 'relaxed' | null }>;
  readonly calmStreak: number;
}

/**
 * One adaptation step for the active vifs of one uplink. `allowedQueueNs` is the
 * queue the current limits allow (Σ limits at line rate).
 */
export function adaptStep(samples: readonly AdaptSample[], calmStreak: number, allowedQueueNs: number, cfg: PolicyConfig): AdaptResult {
  let packets = 0;
  let latency = 0;
  for (const s of samples) {
    packets += s.packets;
    latency += s.latencySumNs;
  }
  const alarmAt = Math.max(cfg.alarmMinNs, cfg.alarmFactor * allowedQueueNs);
  const calmAt = Math.max(cfg.alarmMinNs, cfg.calmFactor * allowedQueueNs);
  let anyAlarm = false;
  let allCalm = true;
  const peers = samples.map((s) => {
    const p = packets - s.packets;
    const peersLatencyNs = p > 0 ? (latency - s.latencySumNs) / p : null;
    const alarm = peersLatencyNs !== null && peersLatencyNs > alarmAt;
    if (alarm) anyAlarm = true;
    if (peersLatencyNs !== null && peersLatencyNs > calmAt) allCalm = false;
    return { peersLatencyNs, alarm };
  });
  const calm = allCalm && !anyAlarm ? calmStreak + 1 : 0;
  const relax = calm >= cfg.relaxAfter && samples.some((s) => s.tighten < 1);
  const vifs = samples.map((s, i) => {
    const { peersLatencyNs, alarm } = peers[i] ?? { peersLatencyNs: null, alarm: false };
    const streak = alarm && s.full ? Math.min(cfg.tightenAfter, s.fullStreak + 1) : 0;
    if (streak >= cfg.tightenAfter && s.tighten > cfg.tightenMin) {
      return { tighten: Math.max(cfg.tightenMin, s.tighten * cfg.tightenStep), fullStreak: 0, peersLatencyNs, changed: 'tightened' as const };
    }
    if (relax && s.tighten < 1) return { tighten: Math.min(1, s.tighten * cfg.relaxStep), fullStreak: streak, peersLatencyNs, changed: 'relaxed' as const };
    return { tighten: s.tighten, fullStreak: streak, peersLatencyNs, changed: null };
  });
  return { vifs, calmStreak: relax ? 0 : Math.min(calm, cfg.relaxAfter) };
}
