import t from 'tap';
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import {
  INFLIGHT_BUCKET_BOUNDS_SECONDS, MetricsListenError, MetricsServer, VifqMetrics, type DesiredVif,
} from '../../src/service/index.js';
import { VIFQ_HIST_BUCKETS, toReleaseDeltas, type ReleaseBaseline, type VifRelease } from '../../src/vifq/index.js';
import type { UplinkDecision, VifDecision } from '../../src/policy/index.js';

interface Line { name: string; labels: Record<string, string>; value: number }

/** Parses the text exposition (no escapes in our label values but the ones tested). */
function parse(text: string): { lines: Line[]; types: Map<string, string>; helps: Set<string> } {
  const lines: Line[] = [];
  const types = new Map<string, string>();
  const helps = new Set<string>();
  for (const raw of text.split('\n')) {
    if (raw === '') continue;
    const ty = /^# TYPE (\S+) (\S+)$/.exec(raw);
    if (ty) { types.set(ty[1] as string, ty[2] as string); continue; }
    const he = /^# HELP (\S+) /.exec(raw);
    if (he) { helps.add(he[1] as string); continue; }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(raw);
    if (!m) throw new Error(`unparsable line: ${raw}`);
    const labels: Record<string, string> = {};
    for (const lm of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1] as string] = (lm[2] as string).replace(/\\(.)/g, '$1');
    lines.push({ name: m[1] as string, labels, value: m[3] === '+Inf' ? Infinity : Number(m[3]) });
  }
  return { lines, types, helps };
}

function find(lines: Line[], name: string, labels: Record<string, string> = {}): Line[] {
  return lines.filter((l) => l.name === name && Object.entries(labels).every(([k, v]) => l.labels[k] === v));
}

function release(ifindex: number, domid: number, handle: number, o: Partial<VifRelease> = {}): VifRelease {
  return {
    ifindex, domid, handle, 'interval-ms': 1000, 'pending-bytes': 0, 'pending-packets': 0, 'latency-max-ns': 0,
    bytes: 0, packets: 0, 'latency-sum-ns': 0, 'throttle-events': 0, 'throttled-ns': 0, hist: new Array<number>(VIFQ_HIST_BUCKETS).fill(0), ...o,
  };
}

const decision = (ifindex: number, domid: number, handle: number, limitBytes: number, uplinkId: string | null): VifDecision => ({
  ifindex, domid, handle, uplinkId, why: [],
  settings: { limitBytes, limitPackets: 0, priority: 'high', group: 7, timeoutMs: 100 },
});

t.test('bucket bounds follow the kernel: < 1024 ns, then x2, last +Inf', async (t) => {
  t.equal(INFLIGHT_BUCKET_BOUNDS_SECONDS.length, VIFQ_HIST_BUCKETS - 1);
  t.equal(INFLIGHT_BUCKET_BOUNDS_SECONDS[0], 1024e-9);
  t.equal(INFLIGHT_BUCKET_BOUNDS_SECONDS[1], 2048e-9);
  t.equal(INFLIGHT_BUCKET_BOUNDS_SECONDS[22], (2 ** 22 * 1024) / 1e9);
});

t.test('every metric of the issue is exposed with its type, labels domid/domain/vif/uplink', async (t) => {
  const m = new VifqMetrics();
  m.setVif({ ifindex: 10, domid: 2, handle: 0, ifname: 'vif2.0', domain: 'web', uplink: 'eth0' });
  m.setVifState(decision(10, 2, 0, 3000, 'eth0'));
  m.observeRelease({ type: 'release', 'interval-ms': 1000, vifs: [release(10, 2, 0, { 'pending-bytes': 2900, 'pending-packets': 2, bytes: 15000, packets: 10, 'throttle-events': 3, 'throttled-ns': 250_000_000 })] });
  const up: UplinkDecision = {
    id: 'eth0', rateBitsPerSec: 4e6, rateSource: 'qdisc', budgetNs: 4e6, budgetBytes: 2000, poolBytes: 2000, floorBytes: 3028, activeVifs: 1, why: [],
  };
  m.setUplink(up, 'qdisc-tbf');
  m.countUntrustedWrite();
  m.countReconcilePass();
  m.countReconcilePass();
  m.countReconcileError('vif-set', 2);
  m.countResync('overrun');
  const { lines, types, helps } = parse(await m.metrics());
  const expected: Record<string, string> = {
    vifq_vif_pending_bytes: 'gauge', vifq_vif_pending_packets: 'gauge', vifq_vif_limit_bytes: 'gauge', vifq_vif_limit_packets: 'gauge',
    vifq_vif_transmit_bytes_total: 'counter', vifq_vif_transmit_packets_total: 'counter', vifq_vif_throttled_seconds_total: 'counter',
    vifq_vif_throttle_events_total: 'counter', vifq_vif_inflight_seconds: 'histogram', vifq_uplink_budget_bytes: 'gauge',
    vifq_uplink_line_rate_bits_per_second: 'gauge', vifq_untrusted_writes_total: 'counter', vifq_reconcile_passes_total: 'counter',
    vifq_reconcile_errors_total: 'counter', vifq_resyncs_total: 'counter',
  };
  for (const [name, type] of Object.entries(expected)) {
    t.equal(types.get(name), type, `${name} is a ${type}`);
    t.ok(helps.has(name), `${name} has help`);
  }
  const vl = { domid: '2', domain: 'web', vif: 'vif2.0', uplink: 'eth0' };
  const one = (name: string, labels: Record<string, string> = vl): number | undefined => {
    const f = find(lines, name, labels);
    t.equal(f.length, 1, `one ${name} ${JSON.stringify(labels)}`);
    return f[0]?.value;
  };
  t.same(find(lines, 'vifq_vif_pending_bytes')[0]?.labels, vl, 'exactly the four vif labels');
  t.equal(one('vifq_vif_pending_bytes'), 2900);
  t.equal(one('vifq_vif_pending_packets'), 2);
  t.equal(one('vifq_vif_limit_bytes'), 3000);
  t.equal(one('vifq_vif_limit_packets'), 0);
  t.equal(one('vifq_vif_transmit_bytes_total'), 15000);
  t.equal(one('vifq_vif_transmit_packets_total'), 10);
  t.equal(one('vifq_vif_throttled_seconds_total'), 0.25);
  t.equal(one('vifq_vif_throttle_events_total'), 3);
  t.equal(one('vifq_uplink_budget_bytes', { uplink: 'eth0' }), 2000);
  t.same(find(lines, 'vifq_uplink_line_rate_bits_per_second')[0], { name: 'vifq_uplink_line_rate_bits_per_second', labels: { uplink: 'eth0', source: 'qdisc-tbf' }, value: 4e6 });
  t.equal(one('vifq_untrusted_writes_total', {}), 1);
  t.equal(one('vifq_reconcile_passes_total', {}), 2);
  t.equal(one('vifq_reconcile_errors_total', { kind: 'vif-set' }), 2);
  t.equal(one('vifq_resyncs_total', { reason: 'overrun' }), 1);
  t.equal(m.registry.contentType, m.contentType);
});

t.test('the histogram: cumulative buckets, +Inf = count, sum in seconds, across reports', async (t) => {
  const m = new VifqMetrics();
  const h1 = new Array<number>(VIFQ_HIST_BUCKETS).fill(0);
  h1[0] = 5; // < 1.024 us
  h1[3] = 2; // [4, 8) * 1024 ns
  h1[23] = 1; // everything longer
  const h2 = new Array<number>(VIFQ_HIST_BUCKETS).fill(0);
  h2[3] = 4;
  h2[10] = 1;
  m.observeRelease([release(5, 1, 0, { hist: h1, 'latency-sum-ns': 3_000_000_000 })]);
  m.observeRelease([release(5, 1, 0, { hist: h2, 'latency-sum-ns': 500_000_000 })]);
  const { lines } = parse(await m.metrics());
  const buckets = find(lines, 'vifq_vif_inflight_seconds_bucket', { vif: 'vif1.0' });
  t.equal(buckets.length, VIFQ_HIST_BUCKETS, 'one bucket line per kernel bucket');
  const les = buckets.map((b) => b.labels.le);
  t.same(les.slice(0, 3), ['0.000001024', '0.000002048', '0.000004096']);
  t.equal(les[VIFQ_HIST_BUCKETS - 1], '+Inf');
  t.same(les.slice(0, -1).map(Number), INFLIGHT_BUCKET_BOUNDS_SECONDS, 'le = 2^k * 1024 ns');
  const values = buckets.map((b) => b.value);
  for (let i = 1; i < values.length; i++) t.ok((values[i] ?? 0) >= (values[i - 1] ?? 0), `bucket ${i} is cumulative`);
  t.equal(values[0], 5);
  t.equal(values[2], 5);
  t.equal(values[3], 11, '5 + 2 + 4');
  t.equal(values[9], 11);
  t.equal(values[10], 12);
  t.equal(values[22], 12);
  t.equal(values[23], 13, '+Inf counts everything');
  t.equal(find(lines, 'vifq_vif_inflight_seconds_count')[0]?.value, 13);
  t.equal(find(lines, 'vifq_vif_inflight_seconds_sum')[0]?.value, 3.5);
  t.notOk(buckets.some((b) => b.labels.le === undefined), 'every bucket has le');
  // a longer histogram (a future kernel) folds into +Inf; a shorter one fills the first buckets
  m.observeRelease([release(5, 1, 0, { hist: [...new Array<number>(VIFQ_HIST_BUCKETS).fill(0), 2, 3] }), release(5, 1, 0, { hist: [1] })]);
  const after = find(parse(await m.metrics()).lines, 'vifq_vif_inflight_seconds_bucket', { vif: 'vif1.0' }).map((b) => b.value);
  t.equal(after[0], 6);
  t.equal(after[22], 13);
  t.equal(after[23], 19, '+Inf got the 5 beyond the kernel\'s buckets');
});

t.test('fed by the client\'s cumulative -> delta conversion, totals equal the kernel\'s growth', async (t) => {
  const m = new VifqMetrics();
  const baseline: ReleaseBaseline = new Map();
  const entry = (bytes: number, packets: number, hist0: number) => ({
    ifindex: 9, domid: 3, handle: 1, 'pending-bytes': 100, 'pending-packets': 1, bytes, packets, 'latency-sum-ns': 0,
    'latency-max-ns': 0, hist: [hist0, ...new Array<number>(VIFQ_HIST_BUCKETS - 1).fill(0)], 'throttle-events': 0, 'throttled-ns': 0,
  });
  m.observeRelease(toReleaseDeltas(1000, [entry(1000, 1, 1)], baseline)); // baseline only
  m.observeRelease(toReleaseDeltas(1000, [entry(5000, 4, 4)], baseline));
  m.observeRelease(toReleaseDeltas(1000, [entry(9000, 9, 9)], baseline));
  const { lines } = parse(await m.metrics());
  t.equal(find(lines, 'vifq_vif_transmit_bytes_total')[0]?.value, 8000);
  t.equal(find(lines, 'vifq_vif_transmit_packets_total')[0]?.value, 8);
  t.equal(find(lines, 'vifq_vif_inflight_seconds_count')[0]?.value, 8);
});

t.test('a vif that goes away takes every one of its series with it', async (t) => {
  const m = new VifqMetrics();
  m.setVif({ ifindex: 10, domid: 2, handle: 0, domain: 'a', uplink: 'eth0' });
  m.setVif({ ifindex: 11, domid: 3, handle: 0, domain: 'b', uplink: 'eth0' });
  m.setVifState(decision(10, 2, 0, 3000, 'eth0'));
  m.setVifState(decision(11, 3, 0, 4000, 'eth0'));
  m.observeRelease([release(10, 2, 0, { bytes: 1 }), release(11, 3, 0, { bytes: 2 })]);
  let { lines } = parse(await m.metrics());
  t.ok(lines.some((l) => l.labels.domid === '2'));
  t.equal(m.vifGone(10), true);
  t.equal(m.vifGone(10), false, 'twice is harmless');
  ({ lines } = parse(await m.metrics()));
  t.same(lines.filter((l) => l.labels.domid === '2'), [], 'no series of the gone vif');
  t.ok(find(lines, 'vifq_vif_limit_bytes', { domid: '3' }).length === 1, 'the other vif stays');
  t.same(m.knownVifs(), [11]);
  t.equal(m.uplinkGone('eth0'), false, 'no uplink set');
  // after a resync: keep what exists, whatever vif-dels were lost
  m.observeRelease([release(12, 4, 0), release(13, 5, 0)]);
  t.same(m.retainVifs([13, 99]).sort(), [11, 12]);
  t.same(m.knownVifs(), [13]);
  const up = { rateBitsPerSec: 1e9, rateSource: 'link-speed', budgetNs: 1e6, budgetBytes: 1, poolBytes: 1, floorBytes: 1, activeVifs: 0, why: [] } as const;
  m.setUplink({ ...up, id: 'eth0' });
  m.setUplink({ ...up, id: 'eth1' });
  t.same(m.retainUplinks(['eth1']), ['eth0']);
  ({ lines } = parse(await m.metrics()));
  t.same(find(lines, 'vifq_uplink_budget_bytes').map((l) => l.labels.uplink), ['eth1']);
  t.same([...new Set(lines.filter((l) => l.labels.domid !== undefined).map((l) => l.labels.domid))], ['5']);
});

t.test('labels change in place: a renamed domain or a moved vif has one series, under its new labels', async (t) => {
  const m = new VifqMetrics();
  m.setVif({ ifindex: 10, domid: 2, handle: 0 });
  m.observeRelease([release(10, 2, 0, { bytes: 100 })]);
  let { lines } = parse(await m.metrics());
  t.same(find(lines, 'vifq_vif_transmit_bytes_total')[0]?.labels, { domid: '2', domain: '', vif: 'vif2.0', uplink: '' }, 'defaults before names are known');
  m.setVif({ ifindex: 10, domid: 2, handle: 0, domain: 'db "prod"' });
  m.setVifState({ ifindex: 10, domid: 2, handle: 0, settings: { limitBytes: 9000, limitPackets: 0, priority: 'high', group: 1, timeoutMs: 100 } } satisfies DesiredVif);
  m.setVifState(decision(10, 2, 0, 9000, 'eth1'));
  ({ lines } = parse(await m.metrics()));
  const tx = find(lines, 'vifq_vif_transmit_bytes_total');
  t.equal(tx.length, 1);
  t.same(tx[0]?.labels, { domid: '2', domain: 'db "prod"', vif: 'vif2.0', uplink: 'eth1' }, 'escaped and moved');
  t.equal(tx[0]?.value, 100, 'counter kept across a label change');
  // the same ifindex reused by another vif starts afresh
  m.observeRelease([release(10, 5, 0, { bytes: 7 })]);
  ({ lines } = parse(await m.metrics()));
  t.same(find(lines, 'vifq_vif_transmit_bytes_total').map((l) => [l.labels.vif, l.value]), [['vif5.0', 7]]);
});

t.test('observeKernelVif: limits, pending and name from a vif-get dump; no pending gauge until known', async (t) => {
  const m = new VifqMetrics();
  m.setVif({ ifindex: 4, domid: 1, handle: 0 });
  let { lines } = parse(await m.metrics());
  t.same(find(lines, 'vifq_vif_pending_bytes'), [], 'no made-up zero before a report or dump');
  t.same(find(lines, 'vifq_vif_limit_bytes'), []);
  m.observeKernelVif({ ifindex: 4, domid: 1, handle: 0, ifname: 'vif1.0-emu', 'limit-bytes': 6000, 'limit-packets': 8, 'pending-bytes': 1500, 'pending-packets': 1 });
  m.observeKernelVif({ domid: 1 }); // no identity: ignored
  ({ lines } = parse(await m.metrics()));
  t.equal(find(lines, 'vifq_vif_limit_bytes', { vif: 'vif1.0-emu' })[0]?.value, 6000);
  t.equal(find(lines, 'vifq_vif_limit_packets')[0]?.value, 8);
  t.equal(find(lines, 'vifq_vif_pending_bytes')[0]?.value, 1500);
});

t.test('registries are per instance (no global default registry)', async (t) => {
  const a = new VifqMetrics();
  const b = new VifqMetrics({ defaultLabels: { host: 'dom0-a' } });
  a.countReconcilePass();
  const pa = parse(await a.metrics());
  const pb = parse(await b.metrics());
  t.equal(find(pa.lines, 'vifq_reconcile_passes_total')[0]?.value, 1);
  t.equal(find(pb.lines, 'vifq_reconcile_passes_total')[0]?.value, 0);
  t.equal(find(pb.lines, 'vifq_reconcile_passes_total')[0]?.labels.host, 'dom0-a');
});

function get(port: number, path: string, method = 'GET'): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('MetricsServer: GET /metrics on 127.0.0.1, 404 elsewhere, close idempotent', async (t) => {
  const m = new VifqMetrics();
  m.observeRelease([release(3, 1, 0, { bytes: 42 })]);
  const s = await MetricsServer.open({ metrics: m, port: 0 });
  const { host, port } = s.address();
  t.equal(host, '127.0.0.1', 'localhost only by default');
  const ok = await get(port, '/metrics');
  t.equal(ok.status, 200);
  t.match(ok.type, /^text\/plain; version=0\.0\.4/);
  t.match(ok.body, /vifq_vif_transmit_bytes_total\{domid="1",domain="",vif="vif1\.0",uplink=""\} 42/);
  t.equal((await get(port, '/')).status, 404);
  t.equal((await get(port, '/metricsx')).status, 404);
  t.equal((await get(port, '/metrics?x=1')).status, 200);
  t.equal((await get(port, '/metrics', 'POST')).status, 404, 'GET only');
  t.equal((await get(port, '/metrics', 'HEAD')).status, 200);
  let closes = 0;
  s.on('close', () => { closes++; });
  await Promise.all([s.close(), s.close()]);
  await s.close();
  t.equal(closes, 1, 'close emitted once');
  await t.rejects(get(port, '/metrics'), 'no longer listening');
});

t.test('MetricsServer: a port in use is a typed error with a hint', async (t) => {
  const m = new VifqMetrics();
  const a = await MetricsServer.open({ metrics: m, port: 0 });
  const { port } = a.address();
  const err = await MetricsServer.open({ metrics: m, port }).catch((e: unknown) => e);
  t.ok(err instanceof MetricsListenError);
  t.equal((err as MetricsListenError).code, 'EADDRINUSE');
  t.match((err as MetricsListenError).message, /another process holds port/);
  await a.close();
});

t.test('a 1000-vif report updates in well under a millisecond', async (t) => {
  const m = new VifqMetrics();
  const vifs = Array.from({ length: 1000 }, (_, i) => release(100 + i, 1 + (i >> 1), i & 1, {
    bytes: 1e6, packets: 700, hist: Array.from({ length: VIFQ_HIST_BUCKETS }, (_, k) => k), 'throttled-ns': 1e6,
  }));
  for (let i = 0; i < 50; i++) m.observeRelease(vifs);
  const t0 = process.hrtime.bigint();
  const N = 50;
  for (let i = 0; i < N; i++) m.observeRelease(vifs);
  const us = Number(process.hrtime.bigint() - t0) / 1e3 / N;
  t.ok(us < 5000, `${us.toFixed(0)} µs per 1000-vif report (bench/metrics.ts measures it properly)`);
  const { lines } = parse(await m.metrics());
  t.equal(find(lines, 'vifq_vif_transmit_bytes_total').length, 1000);
});

t.test('metrics() (own formatting) is byte for byte prom-client\'s registry.metrics()', async (t) => {
  for (const defaultLabels of [undefined, { host: 'dom0 "a"\\b' }]) {
    const m = new VifqMetrics(defaultLabels ? { defaultLabels } : {});
    m.setVif({ ifindex: 1, domid: 1, handle: 0, domain: 'we"ird\\name\nx', uplink: 'eth0' });
    m.setVif({ ifindex: 2, domid: 2, handle: 1 });
    m.setVifState(decision(1, 1, 0, 3000, 'eth0'));
    const h = new Array<number>(VIFQ_HIST_BUCKETS).fill(1);
    m.observeRelease([release(1, 1, 0, { hist: h, bytes: 5, 'latency-sum-ns': 1234 }), release(2, 2, 1, { 'throttled-ns': 1 })]);
    m.setUplink({ id: 'eth0', rateBitsPerSec: 1e9, rateSource: 'link-speed', budgetNs: 1e6, budgetBytes: 125000, poolBytes: 125000, floorBytes: 3028, activeVifs: 2, why: [] });
    m.countReconcileError('resync');
    m.countResync('family-new');
    t.equal(await m.metrics(), await m.registry.metrics(), `default labels ${JSON.stringify(defaultLabels)}`);
    const json = await m.registry.getMetricsAsJSON();
    const hist = json.find((x) => x.name === 'vifq_vif_inflight_seconds');
    t.equal(hist?.values.filter((v) => v.labels.le !== undefined).length, 2 * VIFQ_HIST_BUCKETS, 'JSON view has the buckets too');
  }
});

t.test('the Grafana dashboard reads only metrics VifqMetrics exposes, with labels they have', async (t) => {
  const dash = JSON.parse(readFileSync(new URL('../../dom0-scripts/grafana/vifq-dashboard.json', import.meta.url), 'utf8')) as {
    panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
    templating: { list: Array<{ definition?: string }> };
  };
  const m = new VifqMetrics();
  m.setVif({ ifindex: 1, domid: 1, handle: 0, domain: 'a', uplink: 'eth0' });
  m.setVifState(decision(1, 1, 0, 3000, 'eth0'));
  m.observeRelease([release(1, 1, 0)]);
  m.setUplink({ id: 'eth0', rateBitsPerSec: 1e9, rateSource: 'link-speed', budgetNs: 1e6, budgetBytes: 125000, poolBytes: 125000, floorBytes: 3028, activeVifs: 1, why: [] });
  m.countReconcileError('vif-set');
  m.countResync('overrun');
  const { lines } = parse(await m.metrics());
  const labelsOfName = new Map<string, Set<string>>();
  for (const l of lines) {
    const set = labelsOfName.get(l.name) ?? new Set<string>(['instance', 'job']);
    for (const k of Object.keys(l.labels)) set.add(k);
    labelsOfName.set(l.name, set);
  }
  const exprs = [
    ...dash.panels.flatMap((p) => (p.targets ?? []).map((x) => x.expr)),
    ...dash.templating.list.flatMap((v) => (v.definition ? [v.definition] : [])),
  ];
  t.ok(exprs.length > 15, `${exprs.length} queries`);
  const used = new Set<string>();
  for (const e of exprs) {
    for (const mm of e.matchAll(/\b(vifq_[a-z_]+)(?:\{([^}]*)\})?/g)) {
      const name = mm[1] as string;
      used.add(name.replace(/_(bucket|sum|count)$/, ''));
      const labels = labelsOfName.get(name);
      t.ok(labels, `${name} is exposed`);
      for (const lm of (mm[2] ?? '').matchAll(/(\w+)=~?"/g)) t.ok(labels?.has(lm[1] as string), `${name} has label ${lm[1]}`);
    }
    for (const bm of e.matchAll(/by \(([^)]*)\)/g)) {
      for (const l of (bm[1] as string).split(',').map((x) => x.trim())) t.ok(l === 'le' || [...labelsOfName.values()].some((s) => s.has(l)), `by label ${l} exists`);
    }
  }
  for (const name of ['vifq_vif_pending_bytes', 'vifq_vif_limit_bytes', 'vifq_vif_transmit_bytes_total', 'vifq_vif_throttled_seconds_total',
    'vifq_vif_inflight_seconds', 'vifq_uplink_budget_bytes', 'vifq_uplink_line_rate_bits_per_second']) {
    t.ok(used.has(name), `the dashboard shows ${name}`);
  }
  t.ok(exprs.some((e) => e.startsWith('histogram_quantile(0.99, sum by (le')), 'p99 via histogram_quantile over le');
});
