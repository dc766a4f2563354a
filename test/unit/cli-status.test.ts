/**
 * `vifq status`: the view from vifqd's `status` answer, its rendering width, and the command
 * against a real control server serving a real Vifqd (on the fake vifq kernel) snapshot.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Config, Errors } from '@oclif/core';
import Status from '../../src/commands/status.js';
import { ControlServer, type JsonValue } from '../../src/service/control-socket.js';
import { histQuantileNs, statusView, type StatusView } from '../../src/cli/status/view.js';
import { renderStatus } from '../../src/cli/status/render.js';
import { bytesShort, durationShort, rateShort } from '../../src/cli/render/units.js';
import { servingVifqd } from '../helpers/service-fakes.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const base = mkdtempSync(join(tmpdir(), 'vifq-cli-status-'));
t.teardown(() => { rmSync(base, { recursive: true, force: true }); });
// no xenstore on this machine: names come out unknown, quickly
process.env['XENSTORED_PATH'] = join(base, 'no-xenstored.sock');

async function runStatus(argv: string[]): Promise<{ out: string; err: string; exit: number | undefined }> {
  const config = await Config.load(repo);
  let out = '';
  let err = '';
  const write = { out: process.stdout.write.bind(process.stdout), err: process.stderr.write.bind(process.stderr) };
  // captured only while the command runs, so tap's own output goes through
  process.stdout.write = ((s: string) => { out += s; return true; }) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => { err += s; return true; }) as typeof process.stderr.write;
  let exit: number | undefined;
  try {
    await Status.run(argv, config);
  } catch (e) {
    if (!(e instanceof Errors.ExitError)) throw e;
    exit = e.oclif.exit;
  } finally {
    process.stdout.write = write.out;
    process.stderr.write = write.err;
  }
  return { out, err, exit };
}

/** A kernel report entry with cumulative counters (the client hands on deltas from the second). */
const entry = (ifindex: number, domid: number, bytes: number, throttledNs: number, hist: number[]) => ({
  ifindex, domid, handle: 0, bytes, packets: Math.round(bytes / 1000), 'latency-sum-ns': 0, 'latency-max-ns': 0,
  'throttle-events': 0, 'throttled-ns': throttledNs, 'pending-bytes': 2900, 'pending-packets': 2, hist,
});

t.test('histogram quantiles: the upper edge of the bucket, the last bucket by its lower edge', async (t) => {
  t.equal(histQuantileNs([], 0.5), null);
  t.equal(histQuantileNs([0, 0, 0], 0.99), null);
  t.equal(histQuantileNs([10], 0.5), 1024, 'bucket 0 ends at 1024 ns');
  t.equal(histQuantileNs([0, 0, 0, 4, 0], 0.5), 8192, 'bucket 3 is [4096, 8192) ns');
  t.equal(histQuantileNs([98, 0, 1, 1], 0.5), 1024);
  t.equal(histQuantileNs([98, 0, 1, 1], 0.99), 4096, 'p99 of 100 packets: the 99th, in bucket 2');
  t.equal(histQuantileNs([0, 0, 0, 1], 0.99), 4096, 'the last bucket: its lower edge (it is unbounded)');
});

t.test('short units', async (t) => {
  t.same([bytesShort(1536), bytesShort(3028), bytesShort(4 * 1024 * 1024), bytesShort(null)], ['1.5K', '2.96K', '4M', '-']);
  t.same([rateShort(4_000_000), rateShort(123_456), rateShort(0)], ['4M', '123k', '0']);
  t.same([durationShort(850), durationShort(1_200_000), durationShort(2.5e9)], ['850ns', '1.2ms', '2.5s']);
});

t.test('status of a real Vifqd: uplinks, vifs with limit and why, traffic from the last report', async (t) => {
  const { k, d, path } = await servingVifqd(t, base);
  const before = await runStatus(['--json', '--socket', path]);
  t.equal(before.exit, undefined, before.err);
  const v0 = JSON.parse(before.out) as StatusView;
  t.equal(v0.reportAt, null, 'no report yet');
  t.match(v0.vifs, [{ vif: 'vif5.0', domid: 5, name: null, throughputBitsPerSec: null, pendingBytes: null }, { vif: 'vif6.0' }]);
  t.match(v0.uplinks, [{ ifname: 'eth0', rateBitsPerSec: 4_000_000, rateSource: 'qdisc', rateDetail: 'qdisc-tbf', throughputBitsPerSec: null }]);
  t.equal(v0.vifs[0]?.limitBytes, d.snapshot().vifs[0]?.desired.limitBytes, 'the limit is the daemon\'s');
  t.ok((v0.vifs[0]?.why.length ?? 0) > 0, 'with its reasons');

  const released = new Promise<void>((resolve) => { d.once('release', () => resolve()); });
  k.report(1000, [entry(10, 5, 1_000_000, 0, [0, 0, 0, 0]), entry(11, 6, 0, 0, [0, 0, 0, 0])]);
  k.report(1000, [entry(10, 5, 1_250_000, 400_000_000, [90, 0, 0, 10])]);
  await released; // the first report only sets the client's baseline (cumulative counters)
  const after = await runStatus(['--json', '--socket', path]);
  const v1 = JSON.parse(after.out) as StatusView;
  t.equal(v1.intervalMs, 1000);
  t.equal(v1.reportStale, false);
  const a = v1.vifs.find((v) => v.vif === 'vif5.0');
  const b = v1.vifs.find((v) => v.vif === 'vif6.0');
  t.match(a, { throughputBitsPerSec: 2_000_000, pendingBytes: 2900, pendingPackets: 2, throttledFraction: 0.4, latencyP50Ns: 1024, latencyP99Ns: 4096 },
    '250 KB in 1 s is 2 Mbit/s; 400 ms throttled of 1000');
  t.match(b, { throughputBitsPerSec: 0, pendingBytes: 0 }, 'absent from the report: idle');
  t.match(v1.uplinks[0], { throughputBitsPerSec: 2_000_000, utilisation: 0.5 });

  const human = await runStatus(['--socket', path, '--width', '80']);
  t.equal(human.exit, undefined);
  const lines = human.out.trimEnd().split('\n');
  t.comment(human.out);
  t.same(lines.filter((l) => l.length > 80), [], 'every line fits 80 columns');
  t.match(lines[0], /^vifqd up since \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ; last report \d\d:\d\d:\d\dZ \(1000 ms interval\)$/);
  t.match(human.out, /UPLINK\s+RATE/);
  t.match(human.out, /vif5\.0\s+high\s+100\s+\S+/);
  t.match(human.err, /domain names unavailable/, 'without xenstore: a warning, names shown as ?');
});

t.test('rendering: 80 columns lose the optional columns, 200 keep them; long names are cut', async (t) => {
  const answer = {
    startedAt: '2026-01-01T00:00:00.000Z', lastPass: { at: '2026-01-01T00:00:01.000Z' }, findings: [],
    uplinks: [{ id: 'uplink-with-a-long-name0', rateBitsPerSec: 10e9, rateSource: 'link-speed', budgetBytes: 1_250_000, budgetNs: 1e6, activeVifs: 2 }],
    lineRates: [{ ifname: 'uplink-with-a-long-name0', detail: 'link-speed' }],
    vifs: [0, 1, 2].map((i) => ({
      ifindex: 20 + i, domid: 100 + i, handle: i, uplink: 'uplink-with-a-long-name0',
      desired: { limitBytes: 123_456_789, limitPackets: 65535, priority: i === 2 ? 'low' : 'high', group: 2, timeoutMs: 100 },
      kernel: null, why: [{ code: 'budget-share', detail: 'x' }, { code: 'sla-cap', detail: 'y' }],
      sla: { fields: { weight: { value: 1000, source: 'guest', path: '/local/domain/100/vifq/weight' } } },
    })),
    traffic: { at: '2026-01-01T00:00:01.000Z', intervalMs: 1000, vifs: [{ ifindex: 20, bytes: 1e9, 'pending-bytes': 1e8, 'pending-packets': 9999, 'throttled-ns': 5e9, hist: [1, 2, 3] }] },
  } satisfies JsonValue;
  const names = new Map([[100, 'a-guest-with-a-very-long-name-indeed'], [101, 'web'], [102, 'db']]);
  const view = statusView(answer, names, new Date('2026-01-01T00:00:01.500Z'));
  const narrow = renderStatus(view, 80);
  t.comment(narrow.join('\n'));
  t.same(narrow.filter((l) => l.length > 80), [], 'every line fits 80');
  t.notMatch(narrow.join('\n'), /P50|PKTS/, 'optional columns dropped');
  t.match(narrow.join('\n'), /a-guest-wit…/, 'a long name is cut with an ellipsis');
  const wide = renderStatus(view, 200);
  t.match(wide.join('\n'), /PKTS.*P50\s+P99/, 'a wide terminal shows them');
  t.match(wide.join('\n'), /a-guest-with-a-very-long-name-indeed/);
  const stale = statusView(answer, names, new Date('2026-01-01T00:00:09.000Z'));
  t.equal(stale.reportStale, true);
  t.match(renderStatus(stale, 80)[1], /no report since/);
  t.match(stale.vifs[0], { throughputBitsPerSec: 0, pendingBytes: 0 }, 'a stale report: idle');
});

t.test('service not running: one line, what to do, exit 3; --json: the error object', async (t) => {
  const gone = join(base, 'nothing-here', 'control.sock');
  const human = await runStatus(['--socket', gone]);
  t.equal(human.exit, 3);
  t.equal(human.out, '');
  t.equal(human.err.trimEnd().split('\n').length, 1, human.err);
  t.match(human.err, /^Error: cannot connect to vifqd at .*control\.sock.*\(vifqd is not running: start it with `systemctl start vifqd`/);
  t.notMatch(human.err, /\bat .*\.ts:\d+/, 'no stack trace');
  const json = await runStatus(['--json', '--socket', gone]);
  t.equal(json.exit, 3);
  t.match(JSON.parse(json.out), { error: { name: 'ControlConnectError', exitCode: 3, hint: /vifqd is not running/ } });
});

t.test('an answer of another shape: exit 3 naming the field, not a TypeError', async (t) => {
  const path = join(base, 'other-shape', 'control.sock'); // apart from servingVifqd's s<n>/
  const server = await ControlServer.open({ path, handlers: { status: { kind: 'request', handle: () => ({ startedAt: 'x', vifs: [{ domid: 'five' }] }) } } });
  t.teardown(() => server.close());
  const r = await runStatus(['--json', '--socket', path]);
  t.equal(r.exit, 3);
  t.match(JSON.parse(r.out), { error: { name: 'ControlShapeError', message: /no object at \$\.traffic|no number at \$\.vifs\[0\]\.domid/, hint: /same version/ } });
});

t.test('bad flags are usage errors (2)', async (t) => {
  const r = await runStatus(['--width', '10']);
  t.equal(r.exit, 2);
  t.match(r.err, /^Error: Parsing --width: Expected an integer greater than or equal to 40 but received: 10 \(see --help\)\n$/);
});
