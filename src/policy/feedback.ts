/**
 * Weights by feedback. A static split of pending bytes compresses towards 1:1
 * (limits 3000:9000 gave shares 36:64, not 25:75: the one-packet overshoot and
 * the guests' TCP small queues blur it), so each backlogged vif's delivered share
 * (bytes released in the interval) is compared with its weighted share among the
 * backlogged vifs, and its gain (a multiplier of its weight in the split) is
 * stepped towards closing the gap: at most ×gainStepMax per report, clamped to
 * [gainMin, gainMax], and held while the share is within ±band (hysteresis).
 */
import type { PolicyConfig } from './config.js';

export interface ShareSample {
  readonly weight: number;
  readonly gain: number;
  readonly deliveredBytes: number;
}

export interface GainStep {
  readonly gain: number;
  /** Delivered / weighted share (1 = on target); null when not measured. */
  readonly ratio: number | null;
}

/** New gains for the backlogged vifs of one uplink, in input order. */
export function steerGains(samples: readonly ShareSample[], cfg: PolicyConfig): GainStep[] {
  let delivered = 0;
  let weights = 0;
  for (const s of samples) {
    delivered += s.deliveredBytes;
    weights += s.weight;
  }
  if (samples.length < 2 || delivered <= 0 || weights <= 0) return samples.map((s) => ({ gain: s.gain, ratio: null }));
  return samples.map((s) => {
    const target = s.weight / weights;
    const ratio = s.deliveredBytes / delivered / target;
    if (ratio >= 1 - cfg.feedbackBand && ratio <= 1 + cfg.feedbackBand) return { gain: s.gain, ratio };
    // under-delivering: raise the gain; over: lower it; square root damps the step
    const step = Math.min(cfg.gainStepMax, Math.sqrt(ratio > 0 ? 1 / ratio : Infinity));
    const gain = ratio < 1 ? s.gain * step : s.gain / Math.min(cfg.gainStepMax, Math.sqrt(ratio));
    return { gain: Math.min(cfg.gainMax, Math.max(cfg.gainMin, gain)), ratio };
  });
}
