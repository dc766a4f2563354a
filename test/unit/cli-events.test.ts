/** `vifq events`: a real Vifqd (fake vifq kernel) behind a real control server, lines and NDJSON, --domain, --count. */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Config, Errors } from '@oclif/core';
import Events from '../../src/commands/events.js';
import { servingVifqd } from '../helpers/service-fakes.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const base = mkdtempSync(join(tmpdir(), 'vifq-cli-events-'));
t.teardown(() => { rmSync(base, { recursive: true, force: true }); });

const entry = (ifindex: number, domid: number, bytes: number) => ({
  ifindex, domid, handle: 0, bytes, packets: 1, 'latency-sum-ns': 0, 'latency-max-ns': 0,
  'throttle-events': 0, 'throttled-ns': 0, 'pending-bytes': 1500, 'pending-packets': 1, hist: [0, bytes / 25_000, 0], // 5 more packets in bucket 1 per report
});

async function run(argv: string[], whileRunning: () => void): Promise<{ out: string; err: string; exit: number | undefined }> {
  const config = await Config.load(repo);
  let out = '';
  let err = '';
  const write = { out: process.stdout.write.bind(process.stdout), err: process.stderr.write.bind(process.stderr) };
  process.stdout.write = ((s: string) => { out += s; return true; }) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => { err += s; return true; }) as typeof process.stderr.write;
  let exit: number | undefined;
  try {
    const running = Events.run(argv, config);
    const timer = setInterval(whileRunning, 50);
    try {
      await running;
    } finally {
      clearInterval(timer);
    }
  } catch (e) {
    if (!(e instanceof Errors.ExitError)) throw e;
    exit = e.oclif.exit;
  } finally {
    process.stdout.write = write.out;
    process.stderr.write = write.err;
  }
  return { out, err, exit };
}

t.test('--json --domain: NDJSON, only that domain\'s vifs in release reports', async (t) => {
  const { k, path } = await servingVifqd(t, base);
  let bytes = 0;
  const r = await run(['--json', '--domain', '6', '--count', '2', '--socket', path], () => {
    bytes += 125_000;
    k.report(1000, [entry(10, 5, bytes), entry(11, 6, bytes)]);
  });
  t.equal(r.exit, undefined, r.err);
  const lines = r.out.trim().split('\n');
  t.equal(lines.length, 2, `two records (--count 2): ${r.out}`);
  const recs = lines.map((l) => JSON.parse(l) as { event: string; at: string; data: { vifs?: { domid: number }[] } });
  t.ok(recs.every((x) => typeof x.at === 'string' && ['release', 'pass'].includes(x.event)));
  const releases = recs.filter((x) => x.event === 'release');
  t.ok(releases.every((x) => x.data.vifs?.every((v) => v.domid === 6)), 'domain 5 filtered out');
});

t.test('lines: one per vif of a release, one per pass', async (t) => {
  const { k, path } = await servingVifqd(t, base);
  let bytes = 0;
  const r = await run(['--count', '4', '--socket', path], () => {
    bytes += 125_000;
    k.report(1000, [entry(10, 5, bytes)]);
  });
  t.equal(r.exit, undefined, r.err);
  t.comment(r.out);
  t.match(r.out, /\d\d:\d\d:\d\d\.\d release vif5\.0 sent 1Mbit\/s pending 1.46K throttled 0% p99 2.05us/);
  t.match(r.out, /\d\d:\d\d:\d\d\.\d pass \d+ms applied \d+ unchanged \d+ failed 0 \(release-report\)/);
});

t.test('a vif that goes away is a vif-del event (lines and --domain)', async (t) => {
  const { k, xs, path } = await servingVifqd(t, base);
  let sent = false;
  const r = await run(['--domain', '5', '--count', '2', '--socket', path], () => {
    if (sent) return;
    sent = true;
    k.vifNotification('vif-del', 10);
    k.vifs.delete(10);
    xs.rm('/local/domain/0/backend/vif/5');
  });
  t.equal(r.exit, undefined, r.err);
  t.comment(r.out);
  t.match(r.out, /\d\d:\d\d:\d\d\.\d vif removed vif5\.0 \(ifindex 10, uplink eth0\)/);
});

t.test('vifqd not running: exit 3, one line', async (t) => {
  const r = await run(['--socket', join(base, 'none', 'control.sock')], () => {});
  t.equal(r.exit, 3);
  t.match(r.err, /^Error: cannot connect to vifqd.*vifqd is not running/);
});
