/** `vifq limits`: the dump through the real VifqClient on the fake vifq kernel, the table, and the set arguments. */
import t from 'tap';
import { VifqClient } from '../../src/vifq/client.js';
import { LimitArgumentError, listLimits, parseLimitArgs, parseVifSelector, renderLimits, VifArgumentError } from '../../src/cli/limits/limits.js';
import { describeFailure, failureLine } from '../../src/cli/failure.js';
import { FakeVifqKernel } from '../helpers/vifq-fakes.js';

t.test('limits lists every vif the kernel reports, by domid and handle, spec names in --json', async (t) => {
  const k = new FakeVifqKernel();
  k.addVif(11, 6, 0);
  k.addVif(10, 5, 0);
  k.addVif(12, 5, 1);
  const client = await VifqClient.open({ transports: { requests: k.transport(100), events: k.transport(200) }, timeoutMs: 500 });
  t.teardown(() => client.close());
  await client.setVif({ ifindex: 10 }, { 'limit-bytes': 65536, 'limit-packets': 64, priority: 'low' });
  const r = await listLimits(client);
  t.same(r.vifs.map((v) => `vif${v.domid}.${v.handle}`), ['vif5.0', 'vif5.1', 'vif6.0']);
  t.match(r.vifs[0], { ifindex: 10, 'limit-bytes': 65536, 'limit-packets': 64, priority: 'low' });
  const lines = renderLimits(r, 80);
  t.comment(lines.join('\n'));
  t.same(lines.filter((l) => l.length > 80), [], 'fits 80 columns');
  t.match(lines[1], /^vif5\.0\s+10\s+64K\s+64\s+low/);
  t.same(JSON.parse(JSON.stringify(r)), r, 'JSON-safe');
  t.match(renderLimits({ vifs: [] }, 80), [/no vif/]);
});

t.test('limits set: the vif by name or ifindex; values checked before anything is sent', async (t) => {
  t.same(parseVifSelector('vif5.0'), { domid: 5, handle: 0 });
  t.same(parseVifSelector('12'), { ifindex: 12 });
  t.throws(() => parseVifSelector('eth0'), VifArgumentError);
  t.same(parseLimitArgs({ bytes: '64k', packets: '0', priority: 'low', 'timeout-ms': '50' }), { 'limit-bytes': 65536, 'limit-packets': 0, priority: 'low', 'timeout-ms': 50 });
  t.same(parseLimitArgs({ bytes: '0' }), { 'limit-bytes': 0 }, '0: no limit');
  const bad = t.throws(() => parseLimitArgs({ bytes: '12XB' }));
  t.type(bad, LimitArgumentError);
  t.match(failureLine(describeFailure(bad)), /^Error: --bytes 12XB: .*nothing was set\)$/);
  t.equal(describeFailure(bad).exitCode, 2);
  t.throws(() => parseLimitArgs({}), LimitArgumentError);
});
