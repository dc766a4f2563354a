/**
 * Per-uplink pending budget, calibrated in the spirit of lib/dynamic_queue_limits.c:
 * grow fast when the uplink went idle while a vif was held back by its limit
 * (starvation: the budget was too small to keep line rate), shrink slowly by the
 * smallest slack seen over a hold time (the part of the budget nobody needed),
 * clamp to [min, max]. The budget is time at line rate, so it scales with the
 * uplink: 4 ms is 2 KB at 4 Mbit/s and 5 MB at 10 Gb/s.
 */
import type { BudgetSetting } from '../sla/schema.js';
import type { PolicyConfig } from './config.js';
import { bytesAtRate, nsAtRate } from './line-rate.js';
import type { BudgetReasonCode } from './types.js';
import type { UplinkState } from './state.js';

/** What one report says about an uplink as a whole. */
export interface UplinkObservation {
  readonly intervalNs: number;
  /** Bytes its vifs' packets released during the interval (what left the uplink). */
  readonly deliveredBytes: number;
  /** Longest time one of its vifs was throttled during the interval. */
  readonly maxThrottledNs: number;
  /** Sum of its vifs' pending bytes at the end of the interval. */
  readonly pendingBytes: number;
}

export interface BudgetStep {
  readonly state: UplinkState;
  readonly why: { code: BudgetReasonCode; detail: string };
}

const pct = (x: number): string => `${Math.round(x * 100)}%`;
const ms = (ns: number): string => `${(ns / 1e6).toFixed(ns < 1e7 ? 2 : 1)} ms`;

export function initialUplinkState(nowNs: number, cfg: PolicyConfig): UplinkState {
  return { budgetNs: cfg.budgetInitialNs, slackMinNs: null, slackSinceNs: nowNs, calmStreak: 0 };
}

/** A configured budget as time at line rate, or null for `auto`. */
export function configuredBudgetNs(setting: BudgetSetting, bitsPerSec: number): number | null {
  if (setting.kind === 'auto') return null;
  return setting.kind === 'time' ? setting.us * 1000 : nsAtRate(setting.bytes, bitsPerSec);
}

/** One calibration step from one report; without an observation the budget holds. */
export function calibrateBudget(prev: UplinkState, obs: UplinkObservation | null, bitsPerSec: number, nowNs: number, cfg: PolicyConfig): BudgetStep {
  if (obs === null || obs.intervalNs <= 0) return { state: prev, why: { code: 'held', detail: `no new report; budget stays ${ms(prev.budgetNs)}` } };
  const capacity = bytesAtRate(obs.intervalNs, bitsPerSec);
  const utilisation = capacity > 0 ? obs.deliveredBytes / capacity : 1;
  const throttledShare = obs.maxThrottledNs / obs.intervalNs;
  if (utilisation < cfg.starveUtilisation && throttledShare >= cfg.starveThrottledFraction) {
    const budgetNs = Math.min(cfg.budgetMaxNs, prev.budgetNs * cfg.growFactor);
    return {
      state: { ...prev, budgetNs, slackMinNs: null, slackSinceNs: nowNs },
      why: { code: budgetNs > prev.budgetNs ? 'grew-starved' : 'clamped', detail: `uplink at ${pct(utilisation)} of line rate while a vif was throttled ${pct(throttledShare)} of the interval: budget ${ms(prev.budgetNs)} -> ${ms(budgetNs)}${budgetNs === cfg.budgetMaxNs ? ' (max)' : ''}` },
    };
  }
  const slackNs = Math.max(0, prev.budgetNs - nsAtRate(obs.pendingBytes, bitsPerSec));
  const slackMinNs = prev.slackMinNs === null ? slackNs : Math.min(prev.slackMinNs, slackNs);
  if (nowNs - prev.slackSinceNs < cfg.slackHoldNs) {
    return { state: { ...prev, slackMinNs }, why: { code: 'held', detail: `not starved; smallest slack ${ms(slackMinNs)} so far in the hold time` } };
  }
  // a step under 2% of the budget is noise: hold, so that a steady uplink settles
  const cut = slackMinNs * cfg.shrinkFraction >= 0.02 * prev.budgetNs ? slackMinNs * cfg.shrinkFraction : 0;
  const budgetNs = Math.max(cfg.budgetMinNs, prev.budgetNs - cut);
  return {
    state: { ...prev, budgetNs, slackMinNs: null, slackSinceNs: nowNs },
    why: budgetNs < prev.budgetNs
      ? { code: 'shrank-slack', detail: `not starved for ${ms(cfg.slackHoldNs)}, smallest slack ${ms(slackMinNs)}: budget ${ms(prev.budgetNs)} -> ${ms(budgetNs)}${budgetNs === cfg.budgetMinNs ? ' (min)' : ''}` }
      : { code: 'held', detail: `no slack in the hold time; budget stays ${ms(budgetNs)}` },
  };
}

/**
 * The pool that lets unequal weights show above the floors: the smallest pool in
 * which the lightest backlogged vif's share (weight × gain) is its floor, so the
 * others get their weighted multiples of it. Equal weights need nothing above
 * the floors (their feedback gains redistribute within them), so the pool then
 * is just the floors: latency is not traded for a ratio nobody asked for.
 */
export function weightPoolBytes(backlogged: ReadonlyArray<{ weight: number; gain: number }>, floor: number): number {
  if (backlogged.length < 2) return 0;
  const first = backlogged[0]?.weight;
  if (backlogged.every((b) => b.weight === first)) return floor * backlogged.length;
  let sum = 0;
  let min = Infinity;
  for (const b of backlogged) {
    const w = b.weight * b.gain;
    sum += w;
    if (w < min) min = w;
  }
  return Math.ceil((floor * sum) / min);
}
