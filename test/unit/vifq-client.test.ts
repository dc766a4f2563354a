import t from 'tap';
import { constants } from 'node:os';
import { VifqClient } from '../../src/vifq/client.js';
import { VifNotFoundError, VifqUnavailableError, VifqVersionError } from '../../src/vifq/errors.js';
import type { VifqEvent } from '../../src/vifq/events.js';
import { VIFQ_FAMILY } from '../../src/vifq/generated.js';
import { NetlinkClosedError, NetlinkEncodeError, NetlinkError } from '../../src/netlink/errors.js';
import { FakeVifqKernel, NLCTRL_NOTIFY } from '../helpers/vifq-fakes.js';
import { tick } from '../helpers/genl-fakes.js';

async function setup(k = new FakeVifqKernel(), opts: { maxQueuedEvents?: number } = {}) {
  const requests = k.transport(100);
  const events = k.transport(200);
  const client = await VifqClient.open({ transports: { requests, events }, timeoutMs: 300, ...opts });
  t.teardown(() => client.close());
  return { k, requests, events, client };
}

async function take(it: AsyncIterator<VifqEvent>, n: number): Promise<VifqEvent[]> {
  const out: VifqEvent[] = [];
  for (let i = 0; i < n; i++) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

t.test('listVifs, getVif by ifindex or domid/handle, typed numbers', async (t) => {
  const k = new FakeVifqKernel();
  k.addVif(7, 3, 0, { bytes: 2n ** 40n, priority: 'low', hist: [1, 2] });
  k.addVif(8, 4, 1);
  const { client, events } = await setup(k);
  t.ok(events.groups.has(NLCTRL_NOTIFY), 'follows nlctrl notifications');
  t.equal(events.groups.size, 1, 'joins no vifq group before an iterator asks');
  const vifs = await client.listVifs();
  t.same(vifs.map((v) => [v.ifindex, v.domid, v.handle, v.ifname]), [[7, 3, 0, 'vif3.0'], [8, 4, 1, 'vif4.1']]);
  t.equal(vifs[0]?.bytes, 2 ** 40);
  t.equal(typeof vifs[0]?.bytes, 'number');
  t.equal(vifs[0]?.priority, 'low');
  t.same(vifs[0]?.hist, [1, 2]);
  t.equal((await client.getVif({ ifindex: 8 })).domid, 4);
  t.equal((await client.getVif({ domid: 3, handle: 0 })).ifindex, 7);
  const e = await client.getVif({ ifindex: 99 }).catch((x: unknown) => x);
  t.type(e, VifNotFoundError);
  t.match((e as VifNotFoundError).message, /no vif with ifindex 99/);
  t.equal((e as VifNotFoundError).exitCode, 4);
  t.type((e as VifNotFoundError).cause, NetlinkError);
});

t.test('setVif sends every attribute in one request; config get/set', async (t) => {
  const k = new FakeVifqKernel();
  k.addVif(7, 3);
  const { client } = await setup(k);
  await client.setVif({ ifindex: 7 }, { 'limit-bytes': 16384, 'limit-packets': 20, priority: 'low', group: 2, 'timeout-ms': 50 });
  const sets = k.requests.filter(([op]) => op === 'vif-set');
  t.equal(sets.length, 1, 'one vif-set');
  t.same(sets[0]?.[1], { ifindex: 7, 'limit-bytes': 16384, 'limit-packets': 20, priority: 'low', group: 2, 'timeout-ms': 50 });
  t.match(await client.getVif({ ifindex: 7 }), { 'limit-bytes': 16384, priority: 'low', group: 2 });
  await t.rejects(client.setVif({ domid: 9, handle: 0 }, { group: 1 }), VifNotFoundError);
  await t.rejects(client.setVif({ ifindex: 7 }, { 'timeout-ms': 0 }), NetlinkEncodeError, 'the spec\'s checks apply before the kernel');
  t.same(await client.getConfig(), { 'report-interval-ms': 1000 });
  await client.setConfig({ 'report-interval-ms': 100 });
  t.same(await client.getConfig(), { 'report-interval-ms': 100 });
});

t.test('no module, or an older family: typed errors that name the version needed', async (t) => {
  const k = new FakeVifqKernel();
  k.loaded = false;
  const e = await VifqClient.open({ transports: { requests: k.transport(1), events: k.transport(2) } }).catch((x: unknown) => x);
  t.type(e, VifqUnavailableError);
  t.match((e as VifqUnavailableError).message, new RegExp(`version ${VIFQ_FAMILY.version} or later`));
  t.match((e as VifqUnavailableError).hint, /vifq doctor/);
  t.equal((e as VifqUnavailableError).exitCode, 3);
  t.ok(k.transports.every((x) => x.closed), 'both sockets closed');
  const old = new FakeVifqKernel();
  old.version = 0;
  const e2 = await VifqClient.open({ transports: { requests: old.transport(1), events: old.transport(2) } }).catch((x: unknown) => x);
  t.type(e2, VifqVersionError);
  t.match((e2 as VifqVersionError).message, /family is version 0; .* version 1 or later/);
});

t.test('events: release reports as per-vif deltas, vif-new/vif-del; groups joined on the first next()', async (t) => {
  const k = new FakeVifqKernel();
  k.addVif(7, 3);
  const { client, events } = await setup(k);
  const it = client.events();
  const first = it.next();
  await tick();
  await tick();
  t.ok(events.groups.has(k.groups.reports) && events.groups.has(k.groups.config), 'joined reports and config');
  // the kernel's counters are cumulative: the first report only sets the baseline
  k.report(1000, [{ ifindex: 7, domid: 3, handle: 0, bytes: 1000, packets: 1, 'pending-bytes': 0, 'latency-max-ns': 5, hist: [0, 1] }]);
  k.report(1000, [{ ifindex: 7, domid: 3, handle: 0, bytes: 4000, packets: 3, 'pending-bytes': 1500, 'latency-max-ns': 9, hist: [0, 3] }]);
  k.vifNotification('vif-new', 7);
  k.vifNotification('vif-del', 7);
  const evs = [(await first).value as VifqEvent, ...(await take(it, 3))];
  t.same(evs.map((e) => e.type), ['release', 'release', 'vif-new', 'vif-del']);
  t.same(evs.shift(), { type: 'release', 'interval-ms': 1000, vifs: [] }, 'the first sight of a vif is its baseline: no delta');
  t.same(evs[0], {
    type: 'release', 'interval-ms': 1000,
    vifs: [{ ifindex: 7, domid: 3, handle: 0, 'interval-ms': 1000, 'pending-bytes': 1500, 'pending-packets': 0, 'latency-max-ns': 9,
      bytes: 3000, packets: 2, 'latency-sum-ns': 0, 'throttle-events': 0, 'throttled-ns': 0, hist: [0, 2] }],
  });
  t.match(evs[1], { type: 'vif-new', vif: { ifindex: 7, ifname: 'vif3.0' } });
  await it.return?.();
  t.notOk(events.groups.has(k.groups.reports), 'the last iterator gone: groups left, the kernel stops building reports');
});

t.test('module reload while the client is open: resync-needed, then requests and events use the new family', async (t) => {
  const k = new FakeVifqKernel();
  k.addVif(7, 3);
  const { client, events, requests } = await setup(k);
  const resyncs: string[] = [];
  client.on('resync-needed', (r) => resyncs.push(r));
  const it = client.events({ vifs: false });
  const p = take(it, 3);
  await tick();
  const oldId = k.familyId;
  k.unload();
  await t.rejects(client.listVifs(), VifqUnavailableError, 'while unloaded: the module is missing, typed');
  k.load();
  for (let i = 0; i < 10; i++) await tick();
  t.equal(client.family.id, oldId + 1, 'rebound to the new id');
  t.ok(events.groups.has(k.groups.reports), 'the new reports group is joined');
  k.report(500, [{ ifindex: 7, bytes: 10 }]);
  const evs = await p;
  t.same(evs.map((e) => (e.type === 'resync-needed' ? e.reason : e.type)), ['family-gone', 'family-new', 'release']);
  t.same(resyncs, ['family-gone', 'family-new']);
  t.equal((await client.listVifs()).length, 1, 'listVifs works without a new client');
  t.equal(requests.last().type, k.familyId);
});

t.test('a reload the client missed: the request meets ENOENT, re-resolves and is retried once', async (t) => {
  const k = new FakeVifqKernel();
  k.addVif(7, 3);
  const { client, requests } = await setup(k);
  k.load({ notify: false });
  const vifs = await client.listVifs();
  t.equal(vifs.length, 1);
  t.equal(client.family.id, k.familyId);
  t.equal(requests.sent.filter((m) => m.type === k.familyId - 1).length, 1, 'one request to the stale id');
  // a vif the kernel does not have is still a VifNotFoundError (ENOENT with a message), not a retry
  const before = requests.sent.length;
  await t.rejects(client.getVif({ ifindex: 5 }), VifNotFoundError);
  t.equal(requests.sent.length, before + 1);
});

t.test('an overrun on the listening socket: resync-needed on every iterator and as an event', async (t) => {
  const { client, events } = await setup();
  const reasons: string[] = [];
  client.on('resync-needed', (r) => reasons.push(r));
  const it = client.events();
  const p = it.next();
  await tick();
  events.fault(constants.errno.ENOBUFS);
  const r = await p;
  t.match(r.value, { type: 'resync-needed', reason: 'overrun' });
  t.same(reasons, ['overrun']);
});

t.test('a slow consumer loses its oldest events and is told to resync', async (t) => {
  const k = new FakeVifqKernel();
  const { client } = await setup(k, { maxQueuedEvents: 2 });
  const it = client.events();
  const first = it.next();
  await tick();
  await tick();
  for (let i = 1; i <= 5; i++) k.report(i, [{ ifindex: 7, bytes: i }]);
  const evs = [(await first).value as VifqEvent, ...(await take(it, 3))];
  t.same(evs.map((e) => (e.type === 'release' ? e['interval-ms'] : e.type === 'resync-needed' ? e.reason : e.type)), [1, 'slow-consumer', 4, 5]);
});

t.test('close ends the iterators and rejects requests', async (t) => {
  const { client } = await setup();
  const it = client.events();
  const p = it.next();
  await tick();
  const closed = new Promise((r) => client.once('close', r));
  client.close();
  t.same(await p, { value: undefined, done: true });
  await closed;
  await t.rejects(client.listVifs(), NetlinkClosedError);
  client.close();
});
