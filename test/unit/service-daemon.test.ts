/**
 * vifqd's loop (src/service/daemon.ts) against fakes: the real VifqClient on the fake vifq
 * kernel (test/helpers/vifq-fakes.ts), an in-memory xenstore with permissions and watches,
 * and a topology that puts every vif on one 4 Mbit/s tbf uplink.
 */
import t from 'tap';
import fc from 'fast-check';
import { readTree, rereadTree } from '../../src/service/sources.js';
import { computeDesired, mergeReports } from '../../src/service/desired.js';
import { parseMainArgs, VifqdUsageError } from '../../src/service/main.js';
import { defaultHostSettings } from '../../src/sla/index.js';
import { EMPTY_POLICY_STATE } from '../../src/policy/index.js';
import { VifqClient } from '../../src/vifq/client.js';
import { FakeVifqKernel } from '../helpers/vifq-fakes.js';
import { DOM0_ONLY, GUEST_OWNED, MemXenstore, startVifqd, waitFor } from '../helpers/service-fakes.js';

// ---- fakes: test/helpers/service-fakes.ts (shared with service-wiring.test.ts) --------------

/** A host with guests 5 and 6 (vif5.0 ifindex 10, vif6.0 ifindex 11), closed after the test. */
async function setup(opts: Parameters<typeof startVifqd>[0] = {}) {
  const host = await startVifqd(opts);
  t.teardown(host.close);
  return host;
}

const limitOf = (k: FakeVifqKernel, ifindex: number): unknown => k.vifs.get(ifindex)?.['limit-bytes'];

// ---- tests -----------------------------------------------------------------------------------

t.test('start: every running guest gets the policy\'s limits, explained, with the line rate and its source', async (t) => {
  const { k, d } = await setup();
  // 4 Mbit/s: the floor is two full-size frames (3028 B); both vifs are idle at start
  t.equal(limitOf(k, 10), 3028, 'vif5.0 at the floor');
  t.equal(limitOf(k, 11), 3028, 'vif6.0 at the floor');
  t.equal(k.vifs.get(10)?.group, 2, 'group = the uplink\'s ifindex');
  const s = d.snapshot();
  t.same(s.lineRates, [{ ifname: 'eth0', ifindex: 2, bitsPerSec: 4_000_000, source: 'qdisc', detail: 'qdisc-tbf' }]);
  t.equal(s.vifs.length, 2);
  t.match(s.vifs[0]?.why.map((r) => r.code), ['idle']);
  t.equal(s.vifs[0]?.kernel?.limitBytes, 3028, 'the kernel view agrees');
  t.equal(s.uplinks[0]?.floorBytes, 3028);
  t.equal(s.lastPass?.applied, 2);
  t.equal(s.lastPass?.resynced, true, 'the first pass dumped the kernel');
  t.equal(s.counters.vifSets, 2);
  const sets = k.requests.filter(([op]) => op === 'vif-set').length;
  await d.nudge('again');
  t.equal(k.requests.filter(([op]) => op === 'vif-set').length, sets, 'a second pass with nothing new sends nothing');
});

t.test('a trusted SLA write changes the kernel limit; priority low sets the class', async (t) => {
  const { k, xs, lines } = await setup();
  xs.write('/local/domain/5/vifq/pending-bytes', '2000', DOM0_ONLY(5));
  await waitFor('limit 2000', () => limitOf(k, 10) === 2000);
  t.pass('pending-bytes 2000 capped vif5.0');
  xs.write('/local/domain/6/vifq/priority', 'low', DOM0_ONLY(6));
  xs.write('/local/domain/6/vifq/timeout-ms', '40', DOM0_ONLY(6));
  await waitFor('low priority', () => k.vifs.get(11)?.priority === 'low' && k.vifs.get(11)?.['timeout-ms'] === 40);
  t.equal(k.vifs.get(11)?.['limit-packets'], 4, 'the low class\'s default packet cap');
  t.ok(lines.some((l) => l.fields.event === 'vif-set' && l.fields.domid === 6 && Array.isArray(l.fields.why)), 'one line per decision, with why');
});

t.test('a watch event re-reads only the node it names (and its subtree); removals and permission changes are followed', async (t) => {
  const { k, xs } = await setup();
  const base = '/local/domain/5/vifq';
  xs.write(`${base}/pending-bytes`, '2000', DOM0_ONLY(5));
  await waitFor('limit 2000', () => limitOf(k, 10) === 2000);
  xs.reads.length = 0;
  xs.write(`${base}/pending-bytes`, '2100', DOM0_ONLY(5));
  await waitFor('limit 2100', () => limitOf(k, 10) === 2100);
  t.same([...new Set(xs.reads)], [`${base}/pending-bytes`], 'one node read (value and permissions: a known leaf), not the guest\'s tree');
  // the same node, now guest-owned (a permission change fires the watch too): ignored
  xs.nodes.set(`${base}/pending-bytes`, { value: Buffer.from('2100'), perms: GUEST_OWNED(5) });
  xs.fire(`${base}/pending-bytes`);
  await waitFor('untrusted: back to the floor', () => limitOf(k, 10) === 3028);
  xs.write(`${base}/pending-bytes`, '2200', DOM0_ONLY(5));
  await waitFor('limit 2200', () => limitOf(k, 10) === 2200);
  xs.rm(`${base}/pending-bytes`);
  await waitFor('removed: back to the floor', () => limitOf(k, 10) === 3028);
  // a per-vif override, then its whole directory removed in one event
  xs.write(`${base}/vif/0/pending-bytes`, '1900', DOM0_ONLY(5));
  await waitFor('per-vif 1900', () => limitOf(k, 10) === 1900);
  t.same([...new Set(xs.reads)].filter((p) => p.startsWith(`${base}/vif`)).sort(), [`${base}/vif`, `${base}/vif/0`, `${base}/vif/0/pending-bytes`],
    'a node under directories not read yet: read from the highest one (their permissions count too)');
  xs.rm(`${base}/vif`);
  await waitFor('directory removed: back to the floor', () => limitOf(k, 10) === 3028);
  t.equal(limitOf(k, 11), 3028, 'the other guest untouched throughout');
});

t.test('property: re-reading only the paths the watch named gives the tree a full read gives', async (t) => {
  const base = '/local/domain/7/vifq';
  const paths = ['', '/pending-bytes', '/weight', '/vif', '/vif/0', '/vif/0/pending-bytes', '/vif/1/priority', '/vif/1/x/y'].map((p) => `${base}${p}`);
  const op = fc.record({ kind: fc.constantFrom('write', 'rm', 'perms'), path: fc.constantFrom(...paths), value: fc.constantFrom('1', '64k', ''), guest: fc.boolean() });
  // ops between two passes: their watch events are coalesced into one re-read
  const batches = fc.array(fc.array(op, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 12 });
  await fc.assert(fc.asyncProperty(batches, async (bs) => {
    const xs = new MemXenstore();
    xs.write(`${base}/pending-bytes`, '2000', DOM0_ONLY(7));
    let known = await readTree(xs, base);
    for (const b of bs) {
      for (const o of b) {
        if (o.kind === 'rm') xs.rm(o.path);
        else if (o.kind === 'write') xs.write(o.path, o.value, o.guest ? GUEST_OWNED(7) : DOM0_ONLY(7));
        else if (xs.nodes.has(o.path)) {
          xs.nodes.set(o.path, { value: xs.nodes.get(o.path)?.value ?? Buffer.alloc(0), perms: o.guest ? GUEST_OWNED(7) : DOM0_ONLY(7) });
        }
      }
      known = await rereadTree(xs, base, known, b.map((o) => o.path));
      const full = await readTree(xs, base);
      const view = (ns: typeof full): string => JSON.stringify(ns.map((n) => [n.path, n.value.toString(), n.perms]));
      if (view(known) !== view(full)) throw new Error(`after ${JSON.stringify(b)}: re-read ${view(known)}, full read ${view(full)}`);
    }
  }), { numRuns: 300 });
  t.pass('300 random sequences of writes, removals and permission changes: the same nodes every time');
});

t.test('a guest that writes its own priority or weight gains nothing: one log line, counted once', async (t) => {
  const { k, xs, d, lines } = await setup();
  const before = [limitOf(k, 10), k.vifs.get(10)?.priority];
  const sets = k.requests.filter(([op]) => op === 'vif-set').length;
  xs.write('/local/domain/5/vifq/weight', '1000', GUEST_OWNED(5));
  xs.write('/local/domain/5/vifq/priority', 'high', [{ domid: 0, access: 'none' }, { domid: 5, access: 'both' }]);
  await waitFor('two findings', () => d.snapshot().counters.untrustedIgnored === 2);
  xs.write('/local/domain/5/vifq/weight', '999', GUEST_OWNED(5)); // again: same node, same reason
  await d.nudge('test');
  t.same([limitOf(k, 10), k.vifs.get(10)?.priority], before, 'limits unchanged');
  t.equal(k.requests.filter(([op]) => op === 'vif-set').length, sets, 'no vif-set sent');
  t.equal(d.snapshot().counters.untrustedIgnored, 2, 'each untrusted node counted once');
  const warned = lines.filter((l) => l.fields.event === 'sla-finding' && l.fields.code === 'untrusted-node');
  t.same(warned.map((l) => l.fields.path).sort(), ['/local/domain/5/vifq/priority', '/local/domain/5/vifq/weight'], 'one line per untrusted node');
  t.match(warned[0]?.msg, /ignored xenstore node .*the default applies/);
  t.equal(d.snapshot().findings.length, 2, 'the snapshot lists them');
});

t.test('vif-new and vif-del from the kernel: the new vif is set, the gone one forgotten', async (t) => {
  const { k, xs, d } = await setup();
  k.addVif(12, 7, 0);
  xs.write('/local/domain/7/vifq/pending-bytes', '1600', DOM0_ONLY(7));
  xs.write('/local/domain/0/backend/vif/7/0/state', '4');
  k.vifNotification('vif-new', 12);
  await waitFor('vif7.0 set', () => limitOf(k, 12) === 1600);
  t.pass('vif7.0 got its SLA cap');
  k.vifNotification('vif-del', 12);
  k.vifs.delete(12);
  xs.rm('/local/domain/0/backend/vif/7');
  await waitFor('vif7.0 forgotten', () => !d.snapshot().vifs.some((v) => v.domid === 7));
  t.notOk(d.kernelView.has(12), 'not in the kernel view');
});

t.test('module reload (resync-needed): the kernel is re-dumped and the limits put back', async (t) => {
  const { k, d } = await setup();
  const resyncs = d.snapshot().counters.resyncs;
  k.unload();
  for (const v of k.vifs.values()) v['limit-bytes'] = 0; // a fresh module knows no limits
  k.load();
  await waitFor('limits back', () => limitOf(k, 10) === 3028 && limitOf(k, 11) === 3028);
  t.ok(d.snapshot().counters.resyncs > resyncs, 'counted as a resync');
});

t.test('xenstored reconnected: everything is re-read', async (t) => {
  const { k, xs, d } = await setup();
  xs.nodes.set('/local/domain/5/vifq/pending-bytes', { value: Buffer.from('1800'), perms: DOM0_ONLY(5) }); // no watch fired
  await d.nudge('test');
  t.equal(limitOf(k, 10), 3028, 'a write nobody saw changes nothing yet');
  xs.emit('reconnected', { downtimeMs: 100, attempts: 1, transport: 'fake', watches: [...xs.watches].map((w) => w.path), failedWatches: [] });
  await waitFor('re-read', () => limitOf(k, 10) === 1800);
  t.equal(d.snapshot().counters.xenstoreReconnects, 1);
});

t.test('a failing xenstore read is logged, counted and retried; the service keeps going', async (t) => {
  const { k, xs, d, lines } = await setup();
  xs.failReads = 2;
  xs.write('/local/domain/5/vifq/pending-bytes', '2500', DOM0_ONLY(5));
  await waitFor('retried', () => limitOf(k, 10) === 2500);
  t.ok(d.snapshot().counters.xenstoreReadFailures >= 1, 'counted');
  t.ok(lines.some((l) => l.level === 'warn' && /retried with backoff/.test(l.msg)), 'logged with what happens next');
});

t.test('a vif-set the kernel refuses is logged and retried on the next pass', async (t) => {
  const { k, xs, vifq, d } = await setup();
  const orig = vifq.setVif.bind(vifq);
  let fail = 1;
  vifq.setVif = async (sel, s) => {
    if (fail-- > 0) throw new Error('EBUSY (injected)');
    return orig(sel, s);
  };
  xs.write('/local/domain/6/vifq/pending-bytes', '2222', DOM0_ONLY(6));
  await waitFor('set after retry', () => limitOf(k, 11) === 2222);
  t.equal(d.snapshot().counters.vifSetFailures, 1);
});

t.test('release reports reach the policy (cumulative counters: the second gives deltas)', async (t) => {
  const { k, d } = await setup();
  const entry = (bytes: number, throttled: number) => ({
    ifindex: 10, domid: 5, handle: 0, bytes, packets: bytes / 1000, 'latency-sum-ns': bytes * 1000, 'latency-max-ns': 1e6,
    'throttle-events': throttled, 'throttled-ns': throttled * 1e6, 'pending-bytes': 3000, 'pending-packets': 3, hist: [0],
  });
  k.report(1000, [entry(100_000, 10)]);
  k.report(1000, [entry(600_000, 400)]);
  await waitFor('reports', () => d.snapshot().counters.reports === 2 && d.snapshot().lastPass?.reasons.includes('release-report') === true);
  const v = d.snapshot().vifs.find((x) => x.domid === 5);
  t.ok(v?.why.some((r) => r.code === 'budget-share'), `vif5.0 active after its report: ${JSON.stringify(v?.why)}`);
});

t.test('stop: on-stop keep leaves the limits, reset puts stock ones back', async (t) => {
  const keep = await setup();
  await keep.d.close();
  t.equal(limitOf(keep.k, 10), 3028, 'keep (the default): limits stay');
  await keep.d.close(); // idempotent
  const reset = await setup({ hostNodes: { 'on-stop': 'reset' } });
  t.equal(limitOf(reset.k, 10), 3028);
  await reset.d.close();
  t.same([limitOf(reset.k, 10), limitOf(reset.k, 11), reset.k.vifs.get(10)?.group], [0, 0, 0], 'reset: no limits, group 0');
  t.ok(reset.lines.some((l) => l.fields.event === 'stopped' && l.fields.onStop === 'reset'), 'said so');
});

t.test('host settings: report interval set in the kernel', async (t) => {
  const { k, xs } = await setup({ hostNodes: { 'report-interval-ms': '250' } });
  t.equal(k.config['report-interval-ms'], 250);
  xs.write('/local/domain/0/vifq/report-interval-ms', '500');
  await waitFor('500', () => k.config['report-interval-ms'] === 500);
  t.pass('changed at run time');
});

t.test('pure parts: unknown line rate, merged reports, argv', async (t) => {
  const r = computeDesired({
    nowNs: 0, host: defaultHostSettings(), guests: new Map(), vifs: [{ ifindex: 4, domid: 1, handle: 0 }],
    placements: [{ ifindex: 4, name: 'vif1.0', domid: 1, handle: 0, identity: 'kernel', bridge: undefined, group: 'name:veth0',
      uplinks: [{ ifindex: 9, name: 'veth0', kind: 'veth', id: 'name:veth0', lineRate: { bitsPerSecond: undefined, source: 'unknown' } }] }],
    report: null, state: EMPTY_POLICY_STATE,
  });
  t.same(r.lineRates[0], { ifname: 'veth0', ifindex: 9, bitsPerSec: 1e9, source: 'unknown-default', detail: 'unknown' });
  const e = { domid: 1, handle: 0, bytes: 10, packets: 1, latencySumNs: 5, latencyMaxNs: 5, throttleEvents: 1, throttledNs: 2, pendingBytes: 7, pendingPackets: 1 };
  const m = mergeReports({ intervalNs: 1e9, entries: [e] }, { intervalNs: 1e9, entries: [{ ...e, pendingBytes: 3, latencyMaxNs: 9 }] });
  t.same(m, { intervalNs: 2e9, entries: [{ ...e, bytes: 20, packets: 2, latencySumNs: 10, latencyMaxNs: 9, throttleEvents: 2, throttledNs: 4, pendingBytes: 3 }] });
  t.match(parseMainArgs(['--once', '--log-level', 'debug'], {}), { logLevel: 'debug', once: true });
  t.match(parseMainArgs([], { VIFQD_LOG_LEVEL: 'warn' }), { logLevel: 'warn', once: false });
  t.throws(() => parseMainArgs(['--log-level', 'loud'], {}), VifqdUsageError);
  t.throws(() => parseMainArgs(['--bogus'], {}), VifqdUsageError);
});

// ---- the SLA-write fast path (bench/vifqd-sla.ts measures it) ----------------------------------

/** setup() with no debounce, once the passes its watches' first events make are done. */
async function quiet() {
  const host = await setup({ daemon: { debounceMs: 0 } });
  await new Promise((r) => setTimeout(r, 20));
  return host;
}

t.test('an SLA write on an idle loop: one pass on the next turn, no debounce timer, no kernel dump, one vif-set', async (t) => {
  const { k, xs, d } = await quiet();
  const passes = d.snapshot().counters.passes;
  const ops = k.requests.length;
  xs.reads.length = 0;
  xs.write('/local/domain/5/vifq/pending-bytes', '2000', DOM0_ONLY(5));
  // the watch fires in a microtask; the pass starts on the next event-loop turn, without a timer
  await new Promise((r) => setImmediate(r));
  await waitFor('limit 2000', () => limitOf(k, 10) === 2000, 1000);
  t.equal(d.snapshot().counters.passes, passes + 1, 'one pass');
  t.same(k.requests.slice(ops).map(([op, a]) => [op, a.ifindex]), [['vif-set', 10]], 'no vif-get dump, no config-get: one vif-set, of the vif whose SLA changed');
  t.same([...new Set(xs.reads)], ['/local/domain/5/vifq/pending-bytes'], 'only the written node read');
  t.same(d.snapshot().lastPass?.reasons, ['xenstore:/local/domain/5/vifq/pending-bytes']);
  t.equal(d.snapshot().lastPass?.resynced, false);
});

t.test('the debug line of a pass: where its time went, and how much of it was this process\'s CPU', async (t) => {
  const { k, xs, lines } = await quiet();
  xs.write('/local/domain/5/vifq/pending-bytes', '2000', DOM0_ONLY(5));
  await waitFor('limit 2000', () => limitOf(k, 10) === 2000, 1000);
  await waitFor('its pass line', () => lines.some((l) => l.fields.event === 'pass' && JSON.stringify(l.fields.reasons).includes('pending-bytes')), 1000);
  const f = lines.filter((l) => l.fields.event === 'pass').pop()?.fields ?? {};
  const num = (x: unknown): number => (typeof x === 'number' ? x : NaN);
  t.same(Object.keys((f.phases ?? {}) as object), ['read', 'dump', 'config', 'policy', 'apply'], 'the phases');
  t.ok(num(f.queuedMs) >= 0 && num(f.durationMs) >= 0, `queuedMs ${String(f.queuedMs)}, durationMs ${String(f.durationMs)}`);
  t.ok(num(f.logMs) >= 0, `logMs ${String(f.logMs)} (its vif-set line)`);
  t.ok(num(f.readCpuMs) >= 0 && num(f.readCpuMs) <= num(f.cpuMs), `readCpuMs ${String(f.readCpuMs)} within cpuMs ${String(f.cpuMs)}`);
});

t.test('a write to a node already read (a leaf): its value and permissions only, no directory listing', async (t) => {
  const { k, xs } = await quiet();
  const base = '/local/domain/5/vifq';
  const listed: string[] = [];
  const directory = xs.directory.bind(xs);
  xs.directory = async (p: string) => { listed.push(p); return directory(p); };
  xs.write(`${base}/pending-bytes`, '2000', DOM0_ONLY(5));
  await waitFor('limit 2000', () => limitOf(k, 10) === 2000, 1000);
  t.same(listed, [`${base}/pending-bytes`], 'a node not read before: listed (it could have children)');
  listed.length = 0;
  xs.reads.length = 0;
  xs.write(`${base}/pending-bytes`, '2100', DOM0_ONLY(5));
  await waitFor('limit 2100', () => limitOf(k, 10) === 2100, 1000);
  t.same(listed, [], 'the known leaf: not listed');
  t.same(xs.reads, [`${base}/pending-bytes`, `${base}/pending-bytes`], 'two requests: value and permissions');
  // it gains a child: that write's own event reads the child; the parent stays as it was
  xs.write(`${base}/pending-bytes/x`, '1', DOM0_ONLY(5));
  xs.write(`${base}/pending-bytes`, '2200', DOM0_ONLY(5));
  await waitFor('limit 2200', () => limitOf(k, 10) === 2200, 1000);
  t.ok(listed.includes(`${base}/pending-bytes`), 'an event under the node in the same pass: the node is listed again');
});

t.test('a burst still coalesces: writes in one go make one pass, writes during a pass make one more', async (t) => {
  const { k, xs, d } = await quiet();
  const passes = d.snapshot().counters.passes;
  const sets = (): number => k.requests.filter(([op]) => op === 'vif-set').length;
  const sets0 = sets();
  for (let i = 0; i < 10; i++) xs.write('/local/domain/5/vifq/pending-bytes', String(2000 + i), DOM0_ONLY(5));
  xs.write('/local/domain/6/vifq/pending-bytes', '2500', DOM0_ONLY(6));
  await waitFor('both capped', () => limitOf(k, 10) === 2009 && limitOf(k, 11) === 2500);
  await d.nudge('settle');
  t.equal(d.snapshot().counters.passes, passes + 2, 'the burst made one pass (the nudge the other)');
  t.equal(sets() - sets0, 2, 'one vif-set per vif, with the last value');
  // writes while a pass runs: the next pass takes them all
  const before = d.snapshot().counters.passes;
  let during = 0;
  d.once('pass', () => {
    for (let i = 0; i < 5; i++) xs.write('/local/domain/5/vifq/pending-bytes', String(1500 + i), DOM0_ONLY(5));
    during = 5;
  });
  xs.write('/local/domain/6/vifq/pending-bytes', '2400', DOM0_ONLY(6));
  await waitFor('all applied', () => during === 5 && limitOf(k, 10) === 1504 && limitOf(k, 11) === 2400);
  await new Promise((r) => setTimeout(r, 20));
  t.equal(d.snapshot().counters.passes - before, 2, 'the write, then one pass for the five that came while it ran');
});

t.test('a change that comes while the pass loop is ending is not left waiting for the next event', async (t) => {
  const { k, xs, d } = await quiet();
  // a 'pass' listener whose promise chain writes a few microtask hops later: between the loop's
  // last check and its end (the window moves with the hops, so try several)
  for (let hops = 0; hops < 8; hops++) {
    const want = 2000 + hops;
    d.once('pass', () => {
      let p: Promise<void> = Promise.resolve();
      for (let i = 0; i < hops; i++) p = p.then(() => undefined);
      void p.then(() => xs.write('/local/domain/5/vifq/pending-bytes', String(want), DOM0_ONLY(5)));
    });
    await d.nudge(`hops ${hops}`);
    await waitFor(`limit ${want} (${hops} hops)`, () => limitOf(k, 10) === want, 500);
  }
  t.pass('every write reached the kernel');
});
