/**
 * Readings of two vifs' byte counters taken in dom0 during a lab case (weights, hand-over), and
 * what the cases compute from them. Pure: no lab, no clock; unit-tested in
 * test/unit/vif-samples.test.ts.
 */

/** One reading of two vifs' byte counters in dom0: uptime (s) and rx_bytes (what each guest sent into dom0). */
export interface TwoVifSample { t: number; light: number; heavy: number }

/** Bytes each guest sent over a window, the seconds it covers, and the longest gap between readings in it. */
export interface WindowBytes { secs: number; light: number; heavy: number; longestGapSecs: number }

/**
 * Both counters at time `t`, interpolated linearly between the readings on either side of it
 * (dom0's reader can stall for a second or two on a busy TCG host, so a window's edges rarely
 * fall on a reading). `t` must lie within the readings' span.
 */
function at(samples: readonly TwoVifSample[], t: number): TwoVifSample {
  let i = samples.findIndex((s) => s.t >= t);
  if (i < 0) i = samples.length - 1;
  const b = samples[i] as TwoVifSample;
  const a = samples[Math.max(0, i - 1)] as TwoVifSample;
  if (b.t <= a.t || b.t === t) return { t, light: b.light, heavy: b.heavy };
  const f = (t - a.t) / (b.t - a.t);
  return { t, light: a.light + f * (b.light - a.light), heavy: a.heavy + f * (b.heavy - a.heavy) };
}

/**
 * Bytes each guest sent over [from, to] (seconds on the samples' clock). The window is cut to the
 * readings' span; inside it, the counters at its edges are interpolated between the readings
 * around them, so a stalled reading near an edge shortens nothing. `secs` is what the readings
 * cover of the window (0 when they do not reach into it), `longestGapSecs` the longest time
 * between two readings that the window touches.
 */
export function bytesBetween(samples: readonly TwoVifSample[], from: number, to: number): WindowBytes {
  const first = samples[0];
  const last = samples[samples.length - 1];
  const none = { secs: 0, light: 0, heavy: 0, longestGapSecs: 0 };
  if (!first || !last) return none;
  const lo = Math.max(from, first.t);
  const hi = Math.min(to, last.t);
  if (hi <= lo) return none;
  const a = at(samples, lo);
  const b = at(samples, hi);
  let longestGapSecs = 0;
  for (let i = 1; i < samples.length; i++) {
    const p = samples[i - 1] as TwoVifSample;
    const q = samples[i] as TwoVifSample;
    if (q.t > lo && p.t < hi) longestGapSecs = Math.max(longestGapSecs, q.t - p.t);
  }
  return { secs: hi - lo, light: b.light - a.light, heavy: b.heavy - a.heavy, longestGapSecs };
}

/**
 * When the heavy guest stopped: the time of the reading after which its bytes grew by less than
 * `quietBytes` in total to the end (its last burst of data); undefined if it never went quiet.
 */
export function heavyStop(samples: readonly TwoVifSample[], quietBytes = 3000): number | undefined {
  const last = samples[samples.length - 1];
  if (!last) return undefined;
  let stop: number | undefined;
  for (let i = samples.length - 1; i >= 0; i--) {
    const s = samples[i] as TwoVifSample;
    if (last.heavy - s.heavy >= quietBytes) break;
    stop = s.t;
  }
  return stop === last.t ? undefined : stop;
}

/**
 * How long after `from` the light guest first sent at least `bytesPerSec` over a trailing window
 * of `windowSecs` (the window's end − from, seconds); undefined if it never did.
 */
export function reachTime(samples: readonly TwoVifSample[], from: number, bytesPerSec: number, windowSecs = 0.5): number | undefined {
  for (let j = 0; j < samples.length; j++) {
    const e = samples[j] as TwoVifSample;
    if (e.t < from + windowSecs) continue;
    // the latest reading at least windowSecs before this one, not before `from`
    let i = j;
    while (i > 0 && e.t - (samples[i] as TwoVifSample).t < windowSecs) i--;
    const s = samples[i] as TwoVifSample;
    if (s.t < from - 0.05 || e.t <= s.t) continue;
    if ((e.light - s.light) / (e.t - s.t) >= bytesPerSec) return e.t - from;
  }
  return undefined;
}
