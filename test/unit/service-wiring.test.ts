/**
 * vifqd's wiring (src/service/wiring.ts, control-methods.ts) on a Vifqd running on the fake
 * vifq kernel (test/helpers/service-fakes.ts): the metrics follow the passes and the release
 * reports, a gone vif leaves no series; the control socket (a real unix socket in a temp dir)
 * answers status, domain.show, nudge and streams the events.
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlClient, ControlRequestError, ControlServer, type ControlEventLine, type JsonValue } from '../../src/service/control-socket.js';
import { controlMethods, toJson } from '../../src/service/control-methods.js';
import { openServiceExtras, parseMainArgs, VifqdUsageError } from '../../src/service/main.js';
import { VifqMetrics } from '../../src/service/metrics.js';
import { MetricsWiring } from '../../src/service/wiring.js';
import { DOM0_ONLY, GUEST_OWNED, memLogger, startVifqd, waitFor, type LogLine } from '../helpers/service-fakes.js';

const base = mkdtempSync(join(tmpdir(), 'vifq-wiring-'));
t.teardown(() => { rmSync(base, { recursive: true, force: true }); });
let nsock = 0;

async function setup(opts: { guests?: number[] } = {}) {
  const f = await startVifqd(opts);
  const metrics = new VifqMetrics();
  const wiring = MetricsWiring.attach(f.d, metrics);
  t.teardown(async () => { wiring.detach(); await f.close(); });
  return { ...f, metrics, wiring };
}

async function withControl(d: Parameters<typeof controlMethods>[0]) {
  const path = join(base, `s${nsock++}`, 'control.sock');
  const server = await ControlServer.open({ handlers: controlMethods(d), path });
  const client = await ControlClient.open({ path, timeoutMs: 3000 });
  t.teardown(async () => { await client.close(); await server.close(); });
  return { path, server, client };
}

/** The sample lines of one metric name. */
const series = (text: string, name: string): string[] => text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));

/** A report entry with the kernel's cumulative counters (the client hands on deltas from the second report on). */
const releaseEntry = (ifindex: number, domid: number, bytes: number, hist = [0, 0, 0]) => ({
  ifindex, domid, handle: 0, bytes, packets: bytes / 1000, 'latency-sum-ns': bytes * 1000, 'latency-max-ns': 1e6,
  'throttle-events': 2, 'throttled-ns': 2e6, 'pending-bytes': 1500, 'pending-packets': 1, hist,
});

t.test('after a pass /metrics has each vif\'s limit and the uplink\'s line rate with its source', async (t) => {
  const { d, metrics } = await setup();
  const text = await metrics.metrics();
  t.same(series(text, 'vifq_vif_limit_bytes').sort(), [
    'vifq_vif_limit_bytes{domid="5",domain="",vif="vif5.0",uplink="eth0"} 3028',
    'vifq_vif_limit_bytes{domid="6",domain="",vif="vif6.0",uplink="eth0"} 3028',
  ], 'the floor at 4 Mbit/s for both vifs (what the kernel holds), labelled with the uplink');
  t.same(series(text, 'vifq_uplink_line_rate_bits_per_second'), ['vifq_uplink_line_rate_bits_per_second{uplink="eth0",source="qdisc-tbf"} 4000000'],
    'the line rate with the source topology found');
  t.same(series(text, 'vifq_uplink_floor_bytes'), ['vifq_uplink_floor_bytes{uplink="eth0"} 3028']);
  t.same(series(text, 'vifq_reconcile_passes_total'), [`vifq_reconcile_passes_total ${d.snapshot().counters.passes}`], 'the passes run in open() counted');
  t.same(series(text, 'vifq_resyncs_total'), ['vifq_resyncs_total{reason="startup"} 1'], 'the first pass\'s kernel dump is a startup resync');
});

t.test('SLA changes, untrusted nodes and release reports reach the metrics', async (t) => {
  const { k, xs, d, metrics } = await setup();
  xs.write('/local/domain/5/vifq/pending-bytes', '2000', DOM0_ONLY(5));
  xs.write('/local/domain/6/vifq/priority', 'low', GUEST_OWNED(6));
  await waitFor('limit 2000 in the metrics', () => d.snapshot().vifs.find((v) => v.domid === 5)?.kernel?.limitBytes === 2000);
  await d.nudge('test');
  let text = await metrics.metrics();
  t.match(series(text, 'vifq_vif_limit_bytes').join('\n'), /vif="vif5\.0",uplink="eth0"\} 2000/, 'the new limit');
  t.same(series(text, 'vifq_untrusted_writes_total'), ['vifq_untrusted_writes_total 1'], 'the guest-owned priority node counted once');
  k.report(1000, [releaseEntry(10, 5, 50_000)]);
  k.report(1000, [releaseEntry(10, 5, 150_000, [0, 3, 1])]);
  await waitFor('two release reports', () => d.snapshot().counters.reports === 2);
  text = await metrics.metrics();
  t.match(series(text, 'vifq_vif_transmit_bytes_total').join('\n'), /vif="vif5\.0",uplink="eth0"\} 100000/, 'transmit bytes from the report');
  t.match(series(text, 'vifq_vif_pending_bytes').join('\n'), /vif="vif5\.0",uplink="eth0"\} 1500/, 'pending gauge');
  t.match(series(text, 'vifq_vif_inflight_seconds_count').join('\n'), /vif="vif5\.0",uplink="eth0"\} 4/, 'histogram count');
});

t.test('a resync (module reload) is counted with its reason; a gone vif leaves no series', async (t) => {
  const { k, xs, d, metrics } = await setup();
  k.unload();
  k.load();
  await waitFor('resync pass', () => d.snapshot().counters.resyncs > 0 && d.snapshot().lastPass?.resynced === true);
  await d.nudge('test');
  t.match(series(await metrics.metrics(), 'vifq_resyncs_total').join('\n'), /reason="family-(gone|new)"\} 1/, 'counted by reason');

  k.report(1000, [releaseEntry(11, 6, 50_000)]);
  k.report(1000, [releaseEntry(11, 6, 60_000)]);
  await waitFor('report', () => d.snapshot().counters.reports === 2);
  t.match(await metrics.metrics(), /vif="vif6\.0"/, 'vif6.0 has series');
  k.vifNotification('vif-del', 11);
  k.vifs.delete(11);
  xs.rm('/local/domain/0/backend/vif/6');
  await waitFor('vif6.0 forgotten', () => !d.snapshot().vifs.some((v) => v.domid === 6));
  await d.nudge('test');
  const text = await metrics.metrics();
  t.notMatch(text, /vif="vif6\.0"/, 'no series of vif6.0 left (limits, counters, histogram)');
  t.same(metrics.knownVifs(), [10]);
  t.match(series(text, 'vifq_uplink_active_vifs').join('\n'), /uplink="eth0"/, 'the uplink still has vif5.0');
  k.vifNotification('vif-del', 10);
  k.vifs.delete(10);
  xs.rm('/local/domain/0/backend/vif/5');
  await waitFor('no vif', () => d.snapshot().vifs.length === 0);
  await d.nudge('test');
  t.same(series(await metrics.metrics(), 'vifq_uplink_line_rate_bits_per_second'), [], 'an uplink no vif reaches has no series');
});

t.test('a listener that throws is a warning, the loop goes on', async (t) => {
  const { d } = await setup();
  const warnings: string[] = [];
  d.on('warning', (w) => warnings.push(w.summary));
  const bad = (): void => { throw new Error('boom'); };
  d.on('pass', bad);
  await d.nudge('test');
  d.off('pass', bad);
  t.match(warnings, [/'pass' event threw: boom/]);
  await d.nudge('again');
  t.pass('the next pass runs');
});

t.test('control socket: status, domain.show, nudge', async (t) => {
  const { d } = await setup();
  const { client } = await withControl(d);
  const status = await client.request('status') as { [k: string]: JsonValue };
  t.equal((status.vifs as JsonValue[]).length, 2, 'status has the vifs');
  t.match(status, { counters: { passes: Number, vifSets: 2 }, lastPass: { durationMs: Number }, lineRates: [{ ifname: 'eth0', detail: 'qdisc-tbf' }] });
  t.type((status.host as { [k: string]: JsonValue }).uplinks, 'object', 'the host\'s uplink Map as an object');
  t.same(status, JSON.parse(JSON.stringify(status)), 'JSON-safe');

  const show = await client.request('domain.show', { domid: 5 });
  t.match(show, {
    domid: 5,
    vifs: [{ vif: 'vif5.0', ifindex: 10, handle: 0, uplink: 'eth0', desired: { limitBytes: 3028 }, kernel: { limitBytes: 3028 }, why: [{ code: 'idle' }], sla: { priority: { value: 'high', source: 'default' } } }],
    findings: [],
  });
  const unknown = await client.request('domain.show', { domid: 42 }).catch((e: unknown) => e);
  t.type(unknown, ControlRequestError);
  t.match(unknown, { code: 'not-found', message: /no vif of domain 42/, hint: /domains with vifs: 5, 6/ });
  const bad = await client.request('domain.show', { domid: 'x' }).catch((e: unknown) => e);
  t.match(bad, { code: 'invalid-params', hint: /usage/ });

  const passes = d.snapshot().counters.passes;
  t.same(await client.request('nudge', { vif: 'vif5.0', reason: 'hotplug' }), { ok: true });
  t.ok(d.snapshot().counters.passes > passes, 'a pass ran before the answer');
  t.same(d.snapshot().lastPass?.reasons, ['control:hotplug:vif5.0'], 'named by its reason and vif');
  t.same(await client.request('nudge'), { ok: true }, 'no params');
  t.match(await client.request('nudge', { reason: 7 }).catch((e: unknown) => e), { code: 'invalid-params' });
  t.match(await client.request('domain.set', { domid: 5 }).catch((e: unknown) => e), { code: 'method-not-found' }, 'no SLA writes over the socket');
});

t.test('control socket: the hook\'s one-line request gets {ok:true}', async (t) => {
  const { d } = await setup();
  const { path } = await withControl(d);
  const { connect } = await import('node:net');
  const line = await new Promise<string>((resolve, reject) => {
    const s = connect(path, () => { s.write('{"id":1,"method":"nudge","params":{"vif":"vif6.0","reason":"hotplug"}}\n'); });
    let buf = '';
    s.on('data', (c) => { buf += String(c); if (buf.includes('\n')) { s.end(); resolve(buf.trim()); } });
    s.on('error', reject);
  });
  t.same(JSON.parse(line), { id: 1, result: { ok: true } });
});

t.test('control socket: events streams pass summaries and release reports', async (t) => {
  const { k, d } = await setup();
  const { path } = await withControl(d);
  const sub = await (await ControlClient.open({ path })).subscribe('events');
  const got: ControlEventLine[] = [];
  const reading = (async () => {
    for await (const ev of sub) {
      got.push(ev);
      if (got.filter((e) => e.event === 'release').length === 2 && got.some((e) => e.event === 'pass')) break;
    }
  })();
  k.report(1000, [releaseEntry(10, 5, 10_000)]);
  k.report(1000, [releaseEntry(10, 5, 20_000)]);
  await reading;
  const rel = got.filter((e) => e.event === 'release')[1];
  t.match(rel?.data, { intervalMs: 1000, vifs: [{ ifindex: 10, domid: 5, bytes: 10_000, 'pending-bytes': 1500 }] });
  t.match(got.find((e) => e.event === 'pass')?.data, { reasons: ['release-report'], applied: Number });
  await waitFor('stream stopped', () => d.listenerCount('release') === 2, 2000); // the metrics wiring's and the status method's
  t.pass('the stream\'s listeners are removed when the client goes');
});

t.test('toJson: Maps, Sets, typed arrays, undefined, non-finite numbers', async (t) => {
  t.same(toJson({ a: new Map([[1, { x: undefined, y: 2 }]]), s: new Set(['q']), h: new Float64Array([1, 2]), n: Infinity, u: undefined, l: [undefined, 1n] }),
    { a: { 1: { y: 2 } }, s: ['q'], h: [1, 2], n: null, l: [null, 1] });
});

t.test('main args: metrics port and control socket', async (t) => {
  t.match(parseMainArgs([], {}), { metricsPort: 9851, controlSocket: '/run/vifq/control.sock' });
  t.match(parseMainArgs(['--metrics-port', '0', '--control-socket', 'off'], {}), { metricsPort: 0, controlSocket: null });
  t.match(parseMainArgs([], { VIFQD_METRICS_PORT: '9900', VIFQD_CONTROL_SOCKET: '/tmp/x.sock' }), { metricsPort: 9900, controlSocket: '/tmp/x.sock' });
  t.throws(() => parseMainArgs(['--metrics-port', '70000'], {}), VifqdUsageError);
  t.throws(() => parseMainArgs(['--control-socket', 'rel.sock'], {}), VifqdUsageError);
});

t.test('a metrics port in use or an unusable socket path is logged and skipped, never fatal', async (t) => {
  const { d } = await setup();
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  t.teardown(() => { busy.close(); });
  const port = (busy.address() as { port: number }).port;
  const notDir = join(base, 'a-file');
  writeFileSync(notDir, '');
  const lines: LogLine[] = [];
  const x = await openServiceExtras(d, { metricsPort: port, controlSocket: join(notDir, 'control.sock') }, memLogger(lines));
  t.same([x.metricsServer, x.wiring, x.control], [undefined, undefined, undefined], 'running without either');
  t.match(lines.filter((l) => l.level === 'error').map((l) => l.msg), [/EADDRINUSE.*running without the metrics endpoint/, /running without the control socket/]);
  t.equal(d.listenerCount('pass'), 1, 'no wiring left listening (the test\'s own wiring only)');

  const ok = await openServiceExtras(d, { metricsPort: 0, controlSocket: join(base, 'ok', 'control.sock') }, memLogger(lines));
  t.ok(ok.control, 'the control socket opens');
  t.equal(ok.metricsServer, undefined, 'port 0: no metrics endpoint');
  await ok.control?.close();
});
