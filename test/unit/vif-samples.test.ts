/**
 * The lab's two-vif readings: windows interpolated at their edges, the heavy guest's stop, the
 * light guest's reach.
 */
import t from 'tap';
import { bytesBetween, heavyStop, reachTime, type TwoVifSample } from '../lab/vif-samples.js';

/** Readings at the given times of two guests sending `light` and `heavy` bytes/s from t = 0. */
function steady(times: number[], light: number, heavy: number): TwoVifSample[] {
  return times.map((t) => ({ t, light: light * t, heavy: heavy * t }));
}

t.test('bytesBetween interpolates the window edges between readings', async (t) => {
  // a reader that stalled 1.7 s just before the window's end (as in a CI run: 18.3 s of 20 measured
  // by the readings inside it)
  const times = [0, 0.1, 9.9, 10.2, 28.3, 30.0, 30.1, 40];
  const w = bytesBetween(steady(times, 100, 300), 10, 30);
  t.equal(w.secs, 20, 'the whole window');
  t.ok(Math.abs(w.light - 2000) < 1e-6, `light 100 B/s × 20 s (${w.light})`);
  t.ok(Math.abs(w.heavy - 6000) < 1e-6, `heavy 300 B/s × 20 s (${w.heavy})`);
  t.ok(Math.abs(w.longestGapSecs - 18.1) < 1e-9, `the longest gap the window touches (${w.longestGapSecs})`);
});

t.test('bytesBetween: a rate change inside a gap is split in proportion to time', async (t) => {
  const samples: TwoVifSample[] = [{ t: 0, light: 0, heavy: 0 }, { t: 4, light: 400, heavy: 0 }];
  const w = bytesBetween(samples, 1, 2);
  t.same([w.secs, w.light, w.heavy], [1, 100, 0]);
});

t.test('bytesBetween cuts the window to the readings, and is empty outside them', async (t) => {
  const s = steady([5, 6, 7], 10, 10);
  const w = bytesBetween(s, 0, 6.5);
  t.same([w.secs, w.light], [1.5, 15], 'from the first reading to the window end');
  t.same(bytesBetween(s, 8, 9), { secs: 0, light: 0, heavy: 0, longestGapSecs: 0 }, 'after the last reading');
  t.same(bytesBetween([], 0, 1).secs, 0, 'no readings');
  t.same(bytesBetween(s, 6, 6).secs, 0, 'an empty window');
});

t.test('heavyStop finds the heavy guest\'s last burst; undefined while it still sends', async (t) => {
  const s: TwoVifSample[] = [0, 1, 2, 3, 4, 5].map((t) => ({ t, light: 0, heavy: t <= 2 ? t * 10_000 : 20_000 + t }));
  t.equal(heavyStop(s), 2);
  t.equal(heavyStop(steady([0, 1, 2], 0, 10_000)), undefined);
  t.equal(heavyStop([]), undefined);
});

t.test('reachTime: first trailing window at the rate, measured from `from`', async (t) => {
  // light sends 100 B/s until 2 s, then 1000 B/s
  const s: TwoVifSample[] = [];
  for (let i = 0; i <= 50; i++) {
    const t = i / 10;
    s.push({ t, light: t <= 2 ? 100 * t : 200 + 1000 * (t - 2), heavy: 0 });
  }
  const r = reachTime(s, 2, 900);
  t.ok(r !== undefined && Math.abs(r - 0.5) < 1e-9, `0.5 s window after 2 s (${r})`);
  t.equal(reachTime(s, 2, 5000), undefined, 'never at 5000 B/s');
});
