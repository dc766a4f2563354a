import t from 'tap';
import fc from 'fast-check';
import {
  DEFAULT_POLICY_CONFIG as CFG, EMPTY_POLICY_STATE, PolicyInputError, bytesAtRate, computePolicy, floorBytes, waterFill,
  type PolicyInput, type PolicyResult, type PolicyState, type ReportInput, type UplinkInput, type VifInput, type VifReport,
} from '../../src/policy/index.js';
import { SLA_DEFAULTS, type SlaValues } from '../../src/sla/index.js';

// ---- builders
const MBIT = 1e6;
const SEC = 1e9;

function uplink(id: string, rateBitsPerSec: number, extra: Partial<UplinkInput> = {}): UplinkInput {
  return { id, group: 100 + id.length, rateBitsPerSec, rateSource: 'qdisc', budget: { kind: 'auto' }, ...extra };
}

function vif(domid: number, uplinkId: string | null, sla: Partial<SlaValues> = {}, handle = 0): VifInput {
  return { domid, handle, ifindex: 1000 + domid * 8 + handle, uplinkId, sla: { ...SLA_DEFAULTS, ...sla } };
}

function entry(domid: number, r: Partial<Omit<VifReport, 'domid' | 'handle'>> = {}, handle = 0): VifReport {
  return { domid, handle, bytes: 0, packets: 0, latencySumNs: 0, latencyMaxNs: 0, throttleEvents: 0, throttledNs: 0, pendingBytes: 0, pendingPackets: 0, ...r };
}

/** A vif that sent `bytes` in 1400-byte packets with `latencyNs` each, throttled for `throttledNs`. */
function busy(domid: number, bytes: number, latencyNs: number, throttledNs: number, pendingBytes = 0): VifReport {
  const packets = Math.max(1, Math.round(bytes / 1400));
  return entry(domid, { bytes, packets, latencySumNs: packets * latencyNs, latencyMaxNs: latencyNs * 2, throttleEvents: throttledNs > 0 ? 10 : 0, throttledNs, pendingBytes });
}

const run = (uplinks: UplinkInput[], vifs: VifInput[], report: ReportInput | null, state: PolicyState, nowNs: number, adaptation = true): PolicyResult =>
  computePolicy({ nowNs, uplinks, vifs, report, adaptation }, state);
const limitOf = (r: PolicyResult, domid: number): number => r.vifs.find((v) => v.domid === domid)?.settings.limitBytes ?? NaN;
const whyOf = (r: PolicyResult, domid: number): string[] => r.vifs.find((v) => v.domid === domid)?.why.map((w) => w.code) ?? [];
const rep = (entries: VifReport[]): ReportInput => ({ intervalNs: SEC, entries });

t.test('floor: time at line rate, at most 64 KiB, never below two full-size frames', async (t) => {
  t.equal(floorBytes(4 * MBIT, undefined, CFG), 3028, '4 Mbit/s: two 1514-byte frames (1 ms is only 500 B)');
  t.equal(floorBytes(100 * MBIT, undefined, CFG), 12_500, '100 Mbit/s: 1 ms');
  t.equal(floorBytes(1e9, undefined, CFG), 65_536, '1 Gbit/s: capped at 64 KiB');
  t.equal(floorBytes(1e10, 9000, CFG), 65_536);
  t.equal(floorBytes(100 * MBIT, 9000, CFG), 18_028, 'jumbo frames: two of them');
});

t.test('waterFill: weighted, capped, work-conserving, never above the pool', async (t) => {
  t.same(waterFill(9000, [{ weight: 1, cap: Infinity }, { weight: 2, cap: Infinity }]), [3000, 6000]);
  t.same(waterFill(9000, [{ weight: 1, cap: 1000 }, { weight: 1, cap: Infinity }, { weight: 1, cap: Infinity }]), [1000, 4000, 4000], 'a capped share goes to the others');
  t.same(waterFill(0, [{ weight: 1, cap: Infinity }]), [0]);
  fc.assert(fc.property(fc.integer({ min: 0, max: 1e9 }), fc.array(fc.record({ weight: fc.integer({ min: 1, max: 4000 }), cap: fc.oneof(fc.constant(Infinity), fc.integer({ min: 0, max: 1e8 })) }), { maxLength: 50 }), (pool, claims) => {
    const a = waterFill(pool, claims);
    const sum = a.reduce((x, y) => x + y, 0);
    if (sum > pool) return false;
    if (a.some((x, i) => x < 0 || x > (claims[i]?.cap ?? 0))) return false;
    // uncapped claimants share in proportion to weight (within rounding)
    const free = claims.map((c, i) => ({ c, a: a[i] ?? 0 })).filter(({ c, a }) => a < c.cap - 1);
    const perWeight = free.map(({ c, a }) => a / c.weight);
    return perWeight.every((p) => Math.abs(p - (perWeight[0] ?? p)) <= 1.01);
  }));
});

t.test('lab defaults: tbf 4 Mbit/s, victim pings, TCP and UDP neighbours: about 3000 B per neighbour', async (t) => {
  const up = [uplink('eth0', 4 * MBIT)];
  const vifs = [vif(1, 'eth0'), vif(2, 'eth0'), vif(3, 'eth0')];
  let s = run(up, vifs, null, EMPTY_POLICY_STATE, 0).state;
  t.equal(limitOf(run(up, vifs, null, EMPTY_POLICY_STATE, 0), 2), 3028, 'an unseen vif starts at the floor');
  let r!: PolicyResult;
  for (let i = 1; i <= 20; i++) {
    // victim: 100 pings/s; neighbours backlogged, the uplink full (500 kB/s)
    r = run(up, vifs, rep([busy(1, 9800, 20e6, 0), busy(2, 250_000, 20e6, 0.6 * SEC, 3000), busy(3, 250_000, 20e6, 0.6 * SEC, 3000)]), s, i * SEC);
    s = r.state;
  }
  const neighbours = limitOf(r, 2) + limitOf(r, 3);
  t.ok(neighbours <= 2 * 3028 * 1.05, `neighbours hold ${neighbours} B in total (the measured x2.5 point was 2 x 3000)`);
  t.ok(limitOf(r, 2) >= 3028 && limitOf(r, 3) >= 3028, 'never below the floor');
  t.equal(limitOf(r, 1), 3028, 'the victim uses little: the floor');
  t.ok(r.uplinks[0] && r.uplinks[0].budgetBytes < 3028, `the calibrated budget shrank below one floor (${r.uplinks[0]?.budgetBytes} B): the uplink stayed full`);
  t.ok(whyOf(r, 2).includes('floor'));
});

/** Uplink model for feedback tests: FIFO, backlogged vifs deliver in proportion to limit + one-packet overshoot. */
function deliver(limits: number[], capacity: number, overshoot: number): number[] {
  const eff = limits.map((l) => l + overshoot);
  const sum = eff.reduce((a, b) => a + b, 0);
  return eff.map((e) => Math.round((capacity * e) / sum));
}

t.test('weights 1:3 by feedback: delivered shares within 10% of 25/75 although the split compresses', async (t) => {
  const up = [uplink('eth0', 4 * MBIT)];
  const vifs = [vif(1, 'eth0', { weight: 100 }), vif(2, 'eth0', { weight: 300 })];
  let s = EMPTY_POLICY_STATE;
  let shares = [0, 0];
  let r = run(up, vifs, null, s, 0);
  s = r.state;
  const first: number[] = [];
  for (let i = 1; i <= 40; i++) {
    const d = deliver([limitOf(r, 1), limitOf(r, 2)], 500_000, 6000);
    if (i === 1) first.push(...d);
    shares = d.map((x) => x / (d[0]! + d[1]!));
    r = run(up, vifs, rep([busy(1, d[0]!, 30e6, 0.8 * SEC, limitOf(r, 1)), busy(2, d[1]!, 30e6, 0.8 * SEC, limitOf(r, 2))]), s, i * SEC);
    s = r.state;
  }
  t.ok(first[0]! / (first[0]! + first[1]!) > 0.3, `the static split compresses (first interval ${first.join(':')})`);
  t.ok(Math.abs(shares[0]! - 0.25) <= 0.025 && Math.abs(shares[1]! - 0.75) <= 0.075, `shares ${shares.map((x) => x.toFixed(3)).join(':')}`);
  t.ok(whyOf(r, 2).includes('budget-share'));
  t.ok(r.uplinks[0]!.why.some((w) => w.code === 'raised-for-weights'), 'the pool makes room for the weights above the floors');
});

/**
 * Uplink model of the lab's 1:3 case: FIFO, each guest keeps at most `guestCap` bytes in flight
 * (its TCP small queues), a limit admits one packet past it (`overshoot`); a vif is throttled only
 * when its limit, not its guest, is what holds it back.
 */
function deliverCapped(limits: number[], guestCap: number, capacity: number, overshoot: number): { bytes: number[]; inflight: number[]; throttled: boolean[] } {
  const inflight = limits.map((l) => Math.min(guestCap, l + overshoot));
  const sum = inflight.reduce((a, b) => a + b, 0);
  return { bytes: inflight.map((e) => Math.round((capacity * e) / sum)), inflight, throttled: limits.map((l) => l + overshoot < guestCap) };
}

t.test('weights 1:3 when the heavy guest, not its limit, holds it back: it keeps its weighted share, no flapping to the floor', async (t) => {
  const up = [uplink('eth0', 4 * MBIT)];
  const vifs = [vif(1, 'eth0', { weight: 1 }), vif(2, 'eth0', { weight: 3 })];
  let r = run(up, vifs, null, EMPTY_POLICY_STATE, 0);
  let s = r.state;
  const heavyLimits: number[] = [];
  let light = 0;
  let total = 0;
  for (let i = 1; i <= 30; i++) {
    // the lab's figures: the heavy guest holds ~20 kB at most, one-packet overshoot ~4.7 kB (limits
    // 3000:9000 gave 36:64); with the light vif at its floor, 27.4% is the least it can get
    const d = deliverCapped([limitOf(r, 1), limitOf(r, 2)], 20_500, 500_000, 4700);
    if (i > 10) {
      heavyLimits.push(limitOf(r, 2));
      light += d.bytes[0]!;
      total += d.bytes[0]! + d.bytes[1]!;
    }
    const e = (k: number): VifReport => busy(k + 1, d.bytes[k]!, 30e6, d.throttled[k] ? 0.8 * SEC : 0, d.inflight[k]!);
    r = run(up, vifs, rep([e(0), e(1)]), s, i * SEC);
    s = r.state;
  }
  const floor = floorBytes(4 * MBIT, undefined, CFG);
  t.ok(Math.min(...heavyLimits) > 3 * floor, `the heavy vif's limit stays above 3 floors after 10 reports (${heavyLimits.join(' ')})`);
  t.ok(Math.abs(light / total - 0.25) <= 0.025, `light's share ${(light / total).toFixed(3)} within 10% of 25%`);
  // the heavy guest stops: its share goes to the light one at the next report
  r = run(up, vifs, rep([busy(1, 480_000, 30e6, 0.8 * SEC, 3028), entry(2, { bytes: 3000, packets: 2, latencySumNs: 2e6, pendingBytes: 1500 })]), s, 31 * SEC);
  t.equal(limitOf(r, 2), floor, 'stopped: the heavy vif is back to the floor (it uses less)');
  t.ok(whyOf(r, 2).includes('demand') || whyOf(r, 2).includes('floor'), `its decision says why (${whyOf(r, 2).join(', ')})`);
});

t.test('work conservation: an idle vif\'s share goes to the others and comes back after one report', async (t) => {
  const up = [uplink('eth0', 100 * MBIT, { budget: { kind: 'time', us: 10_000 } })]; // 125 kB
  const vifs = [vif(1, 'eth0', { weight: 100 }), vif(2, 'eth0', { weight: 300 })];
  let r = run(up, vifs, rep([busy(1, 3e6, 5e6, 0.5 * SEC), busy(2, 9e6, 5e6, 0.5 * SEC)]), EMPTY_POLICY_STATE, SEC);
  const both = [limitOf(r, 1), limitOf(r, 2)];
  t.ok(both[1]! > 2.5 * both[0]!, `weighted 1:3 (${both.join(':')})`);
  r = run(up, vifs, rep([busy(1, 12e6, 5e6, 0.5 * SEC)]), r.state, 2 * SEC); // the heavy one stopped
  t.ok(limitOf(r, 1) >= 125_000 * 0.99, `the light one gets the whole budget (${limitOf(r, 1)})`);
  t.equal(limitOf(r, 2), 12_500, 'the idle one keeps the floor');
  t.ok(whyOf(r, 2).includes('idle'));
  r = run(up, vifs, rep([busy(1, 6e6, 5e6, 0.5 * SEC), busy(2, 1e6, 5e6, 0.9 * SEC, 12_500)]), r.state, 3 * SEC); // it sends again, throttled at its floor
  t.ok(limitOf(r, 2) > 2.5 * limitOf(r, 1), `its share is back after one report (${limitOf(r, 1)}:${limitOf(r, 2)})`);
  // an active vif that is not throttled keeps what it uses with headroom; the rest goes to the others
  r = run(up, vifs, rep([busy(1, 6e6, 5e6, 0.5 * SEC), entry(2, { bytes: 14_000, packets: 10, latencySumNs: 10 * 1e6, pendingBytes: 1400 })]), r.state, 4 * SEC);
  t.equal(limitOf(r, 2), 12_500, 'its demand is below the floor: the floor');
  t.ok(limitOf(r, 1) >= 110_000, `the busy one gets the rest (${limitOf(r, 1)})`);
  t.ok(whyOf(r, 2).includes('demand'));
});

t.test('low priority: packet cap, timeout, group = uplink; the floor while high-priority vifs are active', async (t) => {
  const up = [uplink('eth0', 100 * MBIT)];
  const vifs = [vif(1, 'eth0'), vif(2, 'eth0', { priority: 'low', timeoutMs: 250 }), vif(3, 'eth0', { priority: 'low', pendingPackets: 16 })];
  let r = run(up, vifs, rep([busy(1, 9e6, 2e6, 0.5 * SEC), busy(2, 9e6, 2e6, 0.5 * SEC), busy(3, 1e6, 2e6, 0)]), EMPTY_POLICY_STATE, SEC);
  const low = r.vifs.find((v) => v.domid === 2)!.settings;
  t.same(low, { limitBytes: 12_500, limitPackets: CFG.lowPacketCap, priority: 'low', group: up[0]!.group, timeoutMs: 250 });
  t.equal(r.vifs.find((v) => v.domid === 3)!.settings.limitPackets, 16, 'the SLA packet cap');
  t.same(r.vifs.find((v) => v.domid === 1)!.settings.limitPackets, 0, 'high priority: no packet limit unless the SLA sets one');
  t.ok(whyOf(r, 2).includes('low-priority'));
  r = run(up, vifs, rep([busy(2, 9e6, 2e6, 0.5 * SEC)]), r.state, 2 * SEC);
  t.ok(limitOf(r, 2) > 12_500, `no high-priority vif active: the low one may use the budget (${limitOf(r, 2)})`);
});

t.test('calibration: grow fast on starvation, shrink slowly by the slack, clamp', async (t) => {
  const up = [uplink('eth0', 1e9)];
  const vifs = [vif(1, 'eth0'), vif(2, 'eth0')];
  let s = EMPTY_POLICY_STATE;
  const budgets: number[] = [];
  for (let i = 1; i <= 6; i++) {
    // the uplink at 50% while both are throttled: the budget is too small to keep line rate
    const r = run(up, vifs, rep([busy(1, 30e6, 1e6, 0.5 * SEC), busy(2, 30e6, 1e6, 0.5 * SEC)]), s, i * SEC);
    s = r.state;
    budgets.push(r.uplinks[0]!.budgetNs);
  }
  t.same(budgets.slice(0, 4), [8e6, 16e6, 32e6, 50e6], 'x2 per report up to the 50 ms max');
  t.equal(budgets[5], 50e6);
  const grown = budgets[5]!;
  const later: number[] = [];
  for (let i = 7; i <= 200; i++) {
    // full line rate, nobody throttled, little pending: slack everywhere
    const r = run(up, vifs, rep([busy(1, 62.5e6, 1e5, 0, 10_000), busy(2, 62.5e6, 1e5, 0, 10_000)]), s, i * SEC);
    s = r.state;
    later.push(r.uplinks[0]!.budgetNs);
  }
  t.equal(later[3], grown, 'holds for the hold time before shrinking');
  t.ok(later[5]! < grown && later[5]! > grown * 0.7, `then shrinks by a quarter of the slack per hold time (${later[5]})`);
  t.equal(later.at(-1), CFG.budgetMinNs, 'down to the min');
  const fixed = run([uplink('eth0', 1e9, { budget: { kind: 'bytes', bytes: 40_000 } })], vifs, rep([busy(1, 30e6, 1e6, 0.5 * SEC)]), s, 70 * SEC);
  t.equal(fixed.uplinks[0]!.budgetBytes, 40_000, 'a configured budget is not calibrated');
  t.equal(fixed.uplinks[0]!.why[0]?.code, 'configured');
});

t.test('adaptation: tighten a vif that keeps its share full while peers wait; relax when all behave', async (t) => {
  const up = [uplink('eth0', 100 * MBIT, { budget: { kind: 'time', us: 8000 } })]; // 100 kB
  const vifs = [vif(1, 'eth0'), vif(2, 'eth0')];
  let r = run(up, vifs, null, EMPTY_POLICY_STATE, 0);
  const hog = (pending: number): VifReport => busy(1, 10e6, 20e6, 0.9 * SEC, pending);
  const peer = (): VifReport => entry(2, { bytes: 140_000, packets: 100, latencySumNs: 100 * 60e6, pendingBytes: 1000 });
  const limits: number[] = [];
  for (let i = 1; i <= 8; i++) {
    r = run(up, vifs, rep([hog(limitOf(r, 1)), peer()]), r.state, i * SEC);
    limits.push(limitOf(r, 1));
  }
  t.ok(limits[0]! > 80_000, `first the hog gets its share (${limits[0]})`);
  t.ok(limits.at(-1)! < limits[0]! * 0.5, `then it is tightened (${limits.join(', ')})`);
  t.ok(whyOf(r, 1).includes('tightened'));
  const tightest = limits.at(-1)!;
  const calm: number[] = [];
  for (let i = 9; i <= 30; i++) {
    r = run(up, vifs, rep([busy(1, 10e6, 1e5, 0.1 * SEC, 100), entry(2, { bytes: 140_000, packets: 100, latencySumNs: 100 * 1e5 })]), r.state, i * SEC);
    calm.push(limitOf(r, 1));
  }
  t.ok(calm[0] === tightest || calm[0]! < tightest * 1.3, 'not relaxed at once (hysteresis)');
  t.ok(calm.at(-1)! > tightest * 1.5, `relaxed when all behave (${calm.at(-1)})`);
  // adaptation off: no tightening
  let off = run(up, vifs, null, EMPTY_POLICY_STATE, 0, false);
  for (let i = 1; i <= 8; i++) off = run(up, vifs, rep([hog(limitOf(off, 1)), peer()]), off.state, i * SEC, false);
  t.ok(limitOf(off, 1) >= limits[0]! * 0.95, 'with adaptation off the hog keeps its share');
});

t.test('SLA caps, no uplink, explanations, bad input', async (t) => {
  const up = [uplink('eth0', 1e9)];
  const r = run(up, [vif(1, 'eth0', { pendingBytes: 2000 }), vif(2, null, { pendingBytes: 9000 }), vif(3, 'gone'), vif(4, 'eth0')], rep([busy(1, 1e6, 1e6, 0.5 * SEC)]), EMPTY_POLICY_STATE, SEC);
  t.equal(limitOf(r, 1), 2000, 'the SLA cap wins, even below the floor');
  t.ok(whyOf(r, 1).includes('sla-cap'));
  t.same(r.vifs.find((v) => v.domid === 2)?.settings, { limitBytes: 9000, limitPackets: 0, priority: 'high', group: 0, timeoutMs: 100 });
  t.equal(limitOf(r, 3), 0, 'an unknown uplink: stock behaviour');
  t.ok(whyOf(r, 3).includes('no-uplink'));
  for (const v of r.vifs) t.ok(v.why.length > 0 && v.why.every((w) => w.detail.length > 0), `vif ${v.domid} says why`);
  const json = JSON.parse(JSON.stringify(r.vifs.find((v) => v.domid === 1))) as { why: Array<{ code: string; detail: string }> };
  t.match(json.why.find((w) => w.code === 'sla-cap'), { detail: /pending-bytes 2000/ }, 'reasons serialize with their sentence (--json)');
  t.throws(() => run(up, [vif(1, 'eth0'), vif(1, 'eth0')], null, EMPTY_POLICY_STATE, 0), PolicyInputError);
  t.throws(() => run([uplink('eth0', 0)], [], null, EMPTY_POLICY_STATE, 0), PolicyInputError);
  t.throws(() => run([uplink('eth0', 1e9), uplink('eth0', 1e9)], [], null, EMPTY_POLICY_STATE, 0), PolicyInputError);
});

// ---- properties ----------------------------------------------------------------------------

const rateArb = fc.constantFrom(4 * MBIT, 100 * MBIT, 1e9, 1e10, 25e9);
const vifArb = (n: number): fc.Arbitrary<VifInput[]> => fc.array(fc.record({
  weight: fc.integer({ min: 1, max: 1000 }), priority: fc.constantFrom('high' as const, 'high' as const, 'low' as const),
  up: fc.constantFrom('a', 'b'), cap: fc.option(fc.integer({ min: 1, max: 1e7 }), { freq: 4 }),
}), { minLength: 1, maxLength: n }).map((xs) => xs.map((x, i) => vif(i + 1, x.up, { weight: x.weight, priority: x.priority, pendingBytes: x.cap })));
const reportArb = (vifs: VifInput[]): fc.Arbitrary<ReportInput> => fc.array(fc.record({
  on: fc.boolean(), bytes: fc.integer({ min: 0, max: 2e8 }), lat: fc.integer({ min: 0, max: 1e8 }), thr: fc.integer({ min: 0, max: 1e9 }), pend: fc.integer({ min: 0, max: 1e6 }),
}), { minLength: vifs.length, maxLength: vifs.length }).map((xs) => rep(xs.flatMap((x, i) => (x.on ? [busy(vifs[i]!.domid, x.bytes, x.lat, x.thr, x.pend)] : []))));

t.test('property: per uplink, limits never sum above the pool plus the floors; the pool stays within the max budget', async (t) => {
  fc.assert(fc.property(rateArb, rateArb, vifArb(12).chain((vifs) => fc.tuple(fc.constant(vifs), fc.array(reportArb(vifs), { minLength: 1, maxLength: 6 }))), (ra, rb, [vifs, reports]) => {
    const ups = [uplink('a', ra), uplink('b', rb)];
    let s = EMPTY_POLICY_STATE;
    for (const [i, report] of reports.entries()) {
      const r = run(ups, vifs, report, s, (i + 1) * SEC);
      s = r.state;
      for (const u of r.uplinks) {
        const mine = r.vifs.filter((v) => v.uplinkId === u.id);
        const sum = mine.reduce((a, v) => a + v.settings.limitBytes, 0);
        if (sum > u.poolBytes + u.floorBytes * mine.length) return false;
        if (u.poolBytes > Math.max(u.budgetBytes, bytesAtRate(CFG.budgetMaxNs, u.rateBitsPerSec))) return false;
        if (mine.some((v) => v.settings.limitBytes < 1 || v.settings.limitBytes > 2 ** 31 - 1)) return false;
      }
    }
    return true;
  }), { numRuns: 300 });
  t.pass();
});

t.test('property: no flapping under constant input', async (t) => {
  fc.assert(fc.property(rateArb, vifArb(8).chain((vifs) => fc.tuple(fc.constant(vifs), reportArb(vifs))), fc.boolean(), (rate, [vifs, report], adaptation) => {
    const ups = [uplink('a', rate), uplink('b', rate)];
    let s = EMPTY_POLICY_STATE;
    let last: number[] = [];
    const history: string[] = [];
    for (let i = 1; i <= 120; i++) {
      const r = run(ups, vifs, report, s, i * SEC, adaptation);
      s = r.state;
      last = r.vifs.map((v) => v.settings.limitBytes);
      if (i > 100) history.push(last.join(','));
    }
    return new Set(history).size === 1;
  }), { numRuns: 150 });
  t.pass();
});

t.test('a guest never gains from raising its own weight where it is not trusted', async (t) => {
  const { parseGuestSla, effectiveSla, defaultHostSettings, slaValues } = await import('../../src/sla/index.js');
  const up = [uplink('eth0', 4 * MBIT)];
  const slaOf = (value: string, perms: readonly [{ domid: number; access: 'none' | 'read' | 'write' | 'both' }]) =>
    slaValues(effectiveSla(defaultHostSettings(), parseGuestSla(2, [{ path: '/local/domain/2/vifq/weight', value: Buffer.from(value), perms }]).sla, 2, 0));
  const honest = slaOf('100', [{ domid: 0, access: 'none' }]);
  const greedy = slaOf('1000', [{ domid: 2, access: 'none' }]);
  const report = rep([busy(1, 250_000, 20e6, 0.6 * SEC), busy(2, 250_000, 20e6, 0.6 * SEC)]);
  const a = run(up, [vif(1, 'eth0'), { ...vif(2, 'eth0'), sla: honest }], report, EMPTY_POLICY_STATE, SEC);
  const b = run(up, [vif(1, 'eth0'), { ...vif(2, 'eth0'), sla: greedy }], report, EMPTY_POLICY_STATE, SEC);
  t.same(b.vifs.map((v) => v.settings), a.vifs.map((v) => v.settings));
  const trusted = slaOf('1000', [{ domid: 0, access: 'none' }]);
  const c = run(up, [vif(1, 'eth0'), { ...vif(2, 'eth0'), sla: trusted }], report, EMPTY_POLICY_STATE, SEC);
  t.ok(limitOf(c, 2) > limitOf(a, 2), 'the same write by dom0 does change the limit (the test can fail)');
});

t.test('the policy does not touch its inputs', async (t) => {
  const up = [uplink('eth0', 1e9)];
  const vifs = [vif(1, 'eth0'), vif(2, 'eth0')];
  const input: PolicyInput = { nowNs: SEC, uplinks: up, vifs, report: rep([busy(1, 1e6, 1e6, 0.5 * SEC)]), adaptation: true };
  const before = JSON.stringify(input);
  const s1 = computePolicy(input, EMPTY_POLICY_STATE);
  const s1json = JSON.stringify([...s1.state.vifs]);
  computePolicy({ ...input, nowNs: 2 * SEC }, s1.state);
  t.equal(JSON.stringify(input), before);
  t.equal(JSON.stringify([...s1.state.vifs]), s1json, 'the previous state is not mutated');
});
