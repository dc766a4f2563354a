import t from 'tap';
import fc from 'fast-check';
import sinon from 'sinon';
import { constants } from 'node:os';
import {
  Reconciler, diff, kernelVifFrom, toWire, VifSetFailedError, ResyncFailedError,
  type DesiredVif, type KernelVif, type VifqSetClient,
} from '../../src/service/index.js';
import { VifNotFoundError, type VifqVif, type VifSelector, type VifSettings as WireSettings } from '../../src/vifq/index.js';
import { NetlinkError, NetlinkTimeoutError } from '../../src/netlink/errors.js';
import { VifqError } from '../../src/errors.js';
import type { VifSettings } from '../../src/policy/index.js';

/** A kernel behind a client with VifqClient's shape: vifs by ifindex, ENOENT as VifNotFoundError. */
class FakeClient implements VifqSetClient {
  readonly vifs = new Map<number, VifqVif>();
  add(ifindex: number, domid: number, handle: number, s: Partial<WireSettings> = {}): void {
    this.vifs.set(ifindex, {
      ifindex, domid, handle, ifname: `vif${domid}.${handle}`,
      'limit-bytes': 0, 'limit-packets': 0, priority: 'high', group: 0, 'timeout-ms': 0,
      'pending-bytes': 0, ...s,
    });
  }
  async listVifs(): Promise<VifqVif[]> {
    return [...this.vifs.values()].map((v) => ({ ...v }));
  }
  async setVif(sel: VifSelector, settings: WireSettings): Promise<void> {
    const v = 'ifindex' in sel ? this.vifs.get(sel.ifindex) : undefined;
    if (!v) throw new VifNotFoundError(JSON.stringify(sel), new NetlinkError('vifq vif-set', constants.errno.ENOENT));
    Object.assign(v, settings);
  }
}

const S = (limitBytes: number, over: Partial<VifSettings> = {}): VifSettings => ({
  limitBytes, limitPackets: 64, priority: 'high', group: 1, timeoutMs: 0, ...over,
});
const want = (ifindex: number, domid: number, handle: number, s: VifSettings): DesiredVif => ({ ifindex, domid, handle, settings: s });

function setup(): { k: FakeClient; set: sinon.SinonSpy; list: sinon.SinonSpy; r: Reconciler } {
  const k = new FakeClient();
  k.add(7, 3, 0);
  k.add(8, 4, 0);
  k.add(9, 5, 1);
  const set = sinon.spy(k, 'setVif');
  const list = sinon.spy(k, 'listVifs');
  return { k, set, list, r: new Reconciler(k) };
}

t.test('first pass dumps, sets only differing vifs with all attributes; the same desired state again sends nothing', async (t) => {
  const { k, set, list, r } = setup();
  const desired = [want(7, 3, 0, S(3000)), want(8, 4, 0, S(0, { limitPackets: 0, group: 0 })), want(9, 5, 1, S(9000, { priority: 'low', timeoutMs: 20 }))];
  k.vifs.get(8)!['limit-packets'] = 0; // 8 already matches its desired state
  const s1 = await r.pass(desired, 1000);
  t.equal(list.callCount, 1);
  t.ok(s1.resynced);
  t.equal(s1.at, 1000);
  t.same(s1.applied.map((c) => c.ifindex), [7, 9]);
  t.same(s1.unchanged, [8]);
  t.same(set.args.map((a) => a[0]), [{ ifindex: 7 }, { ifindex: 9 }]);
  t.same(set.args[1]![1], { 'limit-bytes': 9000, 'limit-packets': 64, priority: 'low', group: 1, 'timeout-ms': 20 });
  t.match(k.vifs.get(9), { 'limit-bytes': 9000, priority: 'low', 'timeout-ms': 20 });

  const s2 = await r.pass(desired, 2000);
  t.equal(set.callCount, 2, 'second pass sends nothing');
  t.equal(list.callCount, 1, 'no resync without a reason');
  t.notOk(s2.resynced);
  t.same(s2.applied, []);
  t.same(s2.unchanged, [7, 8, 9]);
});

t.test('only the vif whose desired settings changed gets a request', async (t) => {
  const { set, r } = setup();
  await r.pass([want(7, 3, 0, S(3000)), want(8, 4, 0, S(3000))]);
  set.resetHistory();
  const s = await r.pass([want(7, 3, 0, S(3000)), want(8, 4, 0, S(3000, { group: 2 }))]);
  t.same(set.args, [[{ ifindex: 8 }, toWire(S(3000, { group: 2 }))]]);
  t.same(s.applied.map((c) => [c.ifindex, c.because]), [[8, 'differs']]);
  t.same(s.unchanged, [7]);
});

t.test('a vif that vanished between dump and set is reported and dropped, the others still applied', async (t) => {
  const { k, set, list: spied, r } = setup();
  spied.restore();
  const desired = [want(7, 3, 0, S(3000)), want(8, 4, 0, S(4000)), want(9, 5, 1, S(5000))];
  const list = sinon.stub(k, 'listVifs').callsFake(async function (this: FakeClient) {
    const vifs = await FakeClient.prototype.listVifs.call(k);
    k.vifs.delete(8); // detached right after the dump
    return vifs;
  });
  const s = await r.pass(desired);
  t.equal(list.callCount, 1);
  t.same(s.vanished.map((c) => c.ifindex), [8]);
  t.same(s.applied.map((c) => c.ifindex), [7, 9]);
  t.same(s.failed, []);
  t.notOk(r.view.has(8), 'dropped from the kernel view');
  t.notOk(r.dirty.has(8), 'not dirty: nothing to retry');
  set.resetHistory();
  const s2 = await r.pass(desired);
  t.equal(set.callCount, 0, 'the vanished vif is not tried again');
  t.same(s2.absent.map((d) => d.ifindex), [8]);
});

t.test('another netlink error is reported per vif with a hint, kept dirty and retried on the next pass', async (t) => {
  const { k, set, r } = setup();
  set.restore();
  const stub = sinon.stub(k, 'setVif').callThrough();
  stub.onFirstCall().rejects(new NetlinkError('vifq vif-set', constants.errno.EBUSY, { message: 'queue busy' }));
  const desired = [want(7, 3, 0, S(3000)), want(8, 4, 0, S(4000))];
  const s1 = await r.pass(desired);
  t.equal(s1.failed.length, 1);
  const f = s1.failed[0]!;
  t.equal(f.change.ifindex, 7);
  t.type(f.error, VifSetFailedError);
  t.type(f.error, VifqError);
  t.equal(f.error.errno, constants.errno.EBUSY);
  t.match(f.error.message, /vif ifindex 7 \(domid 3, handle 0\).*EBUSY: queue busy.*retried on the next pass/);
  t.match(f.hint, /vifq doctor/);
  t.same(s1.applied.map((c) => c.ifindex), [8], 'the failure did not stop the other vif');
  t.ok(r.dirty.has(7));
  t.equal(k.vifs.get(7)!['limit-bytes'], 0);

  const s2 = await r.pass(desired);
  t.same(s2.applied.map((c) => c.ifindex), [7], 'retried');
  t.same(s2.failed, []);
  t.equal(r.dirty.size, 0);
  t.equal(k.vifs.get(7)!['limit-bytes'], 3000);
  const s3 = await r.pass(desired);
  t.same(s3.applied, []);
  t.equal(stub.callCount, 3);
});

t.test('a dirty vif is re-sent even when the view already shows the desired settings', async (t) => {
  const { k, set, r } = setup();
  set.restore();
  const stub = sinon.stub(k, 'setVif');
  // the kernel applied it but the ACK timed out
  stub.onFirstCall().callsFake(async (sel, s) => { await FakeClient.prototype.setVif.call(k, sel, s); throw new NetlinkTimeoutError('vifq vif-set', 1000); });
  stub.callThrough();
  const desired = [want(7, 3, 0, S(3000))];
  const s1 = await r.pass(desired);
  t.equal(s1.failed.length, 1);
  t.match(s1.failed[0]!.error.hint, /.+/);
  r.vifSeen({ ...k.vifs.get(7)! }); // a notification shows the kernel has it
  const s2 = await r.pass(desired);
  t.same(s2.applied.map((c) => [c.ifindex, c.because]), [[7, 'dirty']]);
  t.equal(r.dirty.size, 0);
});

t.test('resync: a module reload behind the view is repaired only after requestResync, by a full re-read', async (t) => {
  const { k, set, list, r } = setup();
  const desired = [want(7, 3, 0, S(3000)), want(8, 4, 0, S(4000))];
  await r.pass(desired);
  // module reloaded: limits started over, and a new vif 10 takes over domid 4's vif with a new ifindex
  k.vifs.clear();
  k.add(7, 3, 0);
  k.add(10, 4, 0);
  set.resetHistory();
  const stale = await r.pass(desired);
  t.equal(set.callCount, 0, 'without a resync the stale view says nothing changed');
  t.same(stale.unchanged, [7, 8]);
  r.requestResync();
  t.ok(r.resyncPending);
  const s = await r.pass([...desired, want(10, 4, 0, S(4000))]);
  t.equal(list.callCount, 2);
  t.ok(s.resynced);
  t.notOk(r.resyncPending);
  t.same(s.applied.map((c) => c.ifindex), [7, 10]);
  t.same(s.absent.map((d) => d.ifindex), [8], 'the old ifindex is gone from the view');
  t.equal(k.vifs.get(7)!['limit-bytes'], 3000);
});

t.test('a failed re-read sets nothing, is reported, and is retried on the next pass', async (t) => {
  const { k, set, list: spied, r } = setup();
  spied.restore();
  const list = sinon.stub(k, 'listVifs');
  list.onFirstCall().rejects(new NetlinkError('vifq vif-get dump', constants.errno.ENOBUFS));
  list.callThrough();
  const s1 = await r.pass([want(7, 3, 0, S(3000))]);
  t.type(s1.resyncError, ResyncFailedError);
  t.match(s1.resyncError?.message, /vif-get dump.*ENOBUFS.*nothing was set/);
  t.equal(set.callCount, 0);
  t.ok(r.resyncPending);
  const s2 = await r.pass([want(7, 3, 0, S(3000))]);
  t.ok(s2.resynced);
  t.same(s2.applied.map((c) => c.ifindex), [7]);
});

t.test('an ifindex reused by another domid/handle is absent, not set; vif-del drops dirt', async (t) => {
  const { set, r } = setup();
  const s = await r.pass([want(7, 99, 0, S(3000)), want(9, 5, 0, S(3000))]);
  t.same(s.absent.map((d) => d.ifindex), [7, 9]);
  t.equal(set.callCount, 0);
  r.vifGone(8);
  t.notOk(r.view.has(8));
});

t.test('kernelVifFrom: numeric priority is named, a vif without identity is skipped', async (t) => {
  t.same(kernelVifFrom({ ifindex: 1, domid: 2, handle: 0, priority: 1, 'limit-bytes': 5 })?.settings,
    { limitBytes: 5, limitPackets: undefined, priority: 'low', group: undefined, timeoutMs: undefined });
  t.equal(kernelVifFrom({ domid: 2, handle: 0 }), undefined);
  // a missing attribute always differs
  const k = new Map<number, KernelVif>([[1, kernelVifFrom({ ifindex: 1, domid: 2, handle: 0, priority: 'high' })!]]);
  t.equal(diff([want(1, 2, 0, S(0))], k).changes.length, 1);
});

const settingsArb = fc.record({
  limitBytes: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  limitPackets: fc.integer({ min: 0, max: 4 }),
  priority: fc.constantFrom('high' as const, 'low' as const),
  group: fc.integer({ min: 0, max: 2 }),
  timeoutMs: fc.constantFrom(0, 10),
});
// kernel vifs (ifindex 1..20), and desired vifs for some of them plus some the kernel lacks
const worldArb = fc.record({
  kernel: fc.uniqueArray(fc.record({ ifindex: fc.integer({ min: 1, max: 20 }), s: settingsArb }), { selector: (v) => v.ifindex, maxLength: 12 }),
  desired: fc.uniqueArray(fc.record({ ifindex: fc.integer({ min: 1, max: 25 }), s: settingsArb }), { selector: (v) => v.ifindex, maxLength: 12 }),
});

t.test('property: one pass makes the kernel equal the desired state, with one set per differing vif; a second pass is empty', async (t) => {
  await fc.assert(fc.asyncProperty(worldArb, async ({ kernel, desired }) => {
    const k = new FakeClient();
    for (const v of kernel) k.add(v.ifindex, v.ifindex + 100, 0, toWire(v.s));
    const set = sinon.spy(k, 'setVif');
    const r = new Reconciler(k);
    const d = desired.map((v) => want(v.ifindex, v.ifindex + 100, 0, v.s));
    const present = d.filter((v) => k.vifs.has(v.ifindex));
    const differing = present.filter((v) => JSON.stringify(kernelVifFrom(k.vifs.get(v.ifindex)!)!.settings) !== JSON.stringify(kernelVifFrom({ ifindex: 0, domid: 0, handle: 0, ...toWire(v.settings) })!.settings));
    const s1 = await r.pass(d);
    if (set.callCount !== differing.length || s1.applied.length !== differing.length) return false;
    for (const v of present) if (JSON.stringify(kernelVifFrom(k.vifs.get(v.ifindex)!)!.settings) !== JSON.stringify({ ...v.settings })) return false;
    if (s1.absent.length !== d.length - present.length) return false;
    const s2 = await r.pass(d);
    return set.callCount === differing.length && s2.applied.length === 0 && s2.unchanged.length === present.length;
  }), { numRuns: 200 });
  t.pass('held for 200 worlds');
});

t.test('property (pure): applying the diff to the kernel view yields the desired settings for every present vif', async (t) => {
  fc.assert(fc.property(worldArb, ({ kernel, desired }) => {
    const view = new Map<number, KernelVif>(kernel.map((v) => [v.ifindex, { ifindex: v.ifindex, domid: 1, handle: 0, settings: v.s }]));
    const d = desired.map((v) => want(v.ifindex, 1, 0, v.s));
    const { changes, unchanged, absent } = diff(d, view);
    if (changes.length + unchanged.length + absent.length !== d.length) return false;
    for (const c of changes) view.set(c.ifindex, { ...view.get(c.ifindex)!, settings: c.settings });
    if (diff(d, view).changes.length !== 0) return false;
    return d.every((v) => !view.has(v.ifindex) || JSON.stringify(view.get(v.ifindex)!.settings) === JSON.stringify(v.settings));
  }), { numRuns: 300 });
  t.pass('held for 300 worlds');
});
