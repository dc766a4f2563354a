/**
 * `vifq doctor`'s service and xenstore checks: against a real ControlServer serving a real
 * Vifqd (fake vifq kernel), and the in-memory xenstore of the service tests.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlClient, ControlServer } from '../../src/service/control-socket.js';
import { controlMethods } from '../../src/service/control-methods.js';
import { checkNetbackRate, checkService, checkSlaNodes } from '../../src/doctor/service-checks.js';
import { DOM0_ONLY, GUEST_OWNED, MemXenstore, startVifqd } from '../helpers/service-fakes.js';

const base = mkdtempSync(join(tmpdir(), 'vifq-doctor-svc-'));
t.teardown(() => { rmSync(base, { recursive: true, force: true }); });

t.test('vifqd: running with a known line rate is ok; not running fails with the start command', async (t) => {
  const f = await startVifqd();
  const path = join(base, 'a', 'control.sock');
  const server = await ControlServer.open({ handlers: controlMethods(f.d), path });
  t.teardown(async () => { await server.close(); await f.close(); });
  const ok = await checkService(() => ControlClient.open({ path }), path);
  t.match(ok, [{ check: 'vifqd', status: 'ok', detail: /2 vif/ }, { check: 'line rate eth0', status: 'ok', detail: /4 Mbit\/s from qdisc/ }]);
  const gone = join(base, 'none', 'control.sock');
  const down = await checkService(() => ControlClient.open({ path: gone }), gone);
  t.match(down, [{ check: 'vifqd', status: 'fail', hint: /systemctl start vifqd/ }]);
  t.equal(down.length, 1);
});

t.test('an unknown line rate is an error naming the node to write', async (t) => {
  const path = join(base, 'b', 'control.sock');
  const server = await ControlServer.open({ path, handlers: { status: { kind: 'request', handle: () => ({ vifs: [], lineRates: [{ ifname: 'veth9', source: 'unknown-default', bitsPerSec: 1e9, detail: 'unknown' }] }) } } });
  t.teardown(() => server.close());
  const r = await checkService(() => ControlClient.open({ path }), path);
  t.match(r[1], { check: 'line rate veth9', status: 'fail', detail: /unknown/, hint: /xenstore-write \/local\/domain\/0\/vifq\/uplink\/veth9\/rate/ });
});

t.test('SLA nodes: guest-writable is an error with the chmod that fixes it; a bad value a warning', async (t) => {
  const xs = new MemXenstore();
  xs.write('/local/domain/0/name', 'Domain-0');
  xs.write('/local/domain/5/vifq', '', DOM0_ONLY(5));
  xs.write('/local/domain/5/vifq/weight', '300', DOM0_ONLY(5));
  t.match(await checkSlaNodes(xs), [{ check: 'SLA nodes', status: 'ok', detail: /2 node\(s\) under 1 guest/ }]);
  xs.write('/local/domain/6/vifq', '', DOM0_ONLY(6));
  xs.write('/local/domain/6/vifq/priority', 'low', GUEST_OWNED(6));
  xs.write('/local/domain/5/vifq/timeout-ms', 'soon', DOM0_ONLY(5));
  const bad = await checkSlaNodes(xs);
  t.match(bad, [
    { check: 'SLA domain 5', status: 'warn', detail: /timeout-ms/ },
    { check: 'SLA domain 6', status: 'fail', detail: /\/local\/domain\/6\/vifq\/priority/, hint: 'xenstore-chmod -r /local/domain/6/vifq n0 r6' },
  ]);
});

t.test('netback rate on a vif is a warning', async (t) => {
  const xs = new MemXenstore();
  xs.write('/local/domain/0/backend/vif/5/0/state', '4');
  t.same(await checkNetbackRate(xs), []);
  xs.write('/local/domain/0/backend/vif/5/0/rate', '10000000,50000');
  t.match(await checkNetbackRate(xs), [{ check: 'netback rate vif5.0', status: 'warn', hint: /rate=/ }]);
});
