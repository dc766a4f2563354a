#!/usr/bin/env node
// vifq-nl.mjs - the vifq generic netlink family from dom0, through the project's
// own YNL codec (dist/genl) driven by kernel-patch/vifq.yaml. Prints JSON.
//   node vifq-nl.mjs dump                       all vifs (vif-get dump)
//   node vifq-nl.mjs get '{"ifindex":7}'        one vif (vif-get do)
//   node vifq-nl.mjs set '{"ifindex":7,"limit-bytes":65536}'
//   node vifq-nl.mjs config-get | config-set '{"report-interval-ms":100}'
//   node vifq-nl.mjs listen SECS                reports + config notifications as JSON lines
//   node vifq-nl.mjs sample IFINDEX SECS        poll vif-get as fast as it answers; prints the
//                                               sample count and the largest pending bytes/packets
//   node vifq-nl.mjs raw CMD HEX                send a raw genl request (malformed-input tests)
// A kernel error prints {"error":{"code":"EINVAL","message":"<extack>"}} and exits 1.
import { GenlClient, YnlFamily, loadYnlSpecFile } from '../../../dist/genl/index.js';

const SPEC = process.env.VIFQ_SPEC ?? new URL('../../../kernel-patch/vifq.yaml', import.meta.url).pathname;
const [cmd = 'dump', arg = '{}'] = process.argv.slice(2);
const replacer = (_k, v) => (typeof v === 'bigint' ? Number(v) : Buffer.isBuffer(v) ? v.toString('hex') : v);
const print = (x) => process.stdout.write(JSON.stringify(x, replacer) + '\n');

const client = GenlClient.open();
try {
  const vifq = await YnlFamily.open(client, loadYnlSpecFile(SPEC));
  switch (cmd) {
    case 'dump': print(await vifq.dump('vif-get')); break;
    case 'get': print(await vifq.do('vif-get', JSON.parse(arg))); break;
    case 'set': print((await vifq.do('vif-set', JSON.parse(arg))) ?? { ok: true }); break;
    case 'config-get': print(await vifq.do('config-get')); break;
    case 'config-set': print((await vifq.do('config-set', JSON.parse(arg))) ?? { ok: true }); break;
    case 'listen': {
      const secs = Number(arg === '{}' ? 5 : arg);
      const events = GenlClient.open();
      const ev = await YnlFamily.open(events, loadYnlSpecFile(SPEC));
      await ev.subscribe('reports');
      await ev.subscribe('config');
      ev.on('notification', (n) => print({ t: Date.now(), op: n.op, attrs: n.attrs }));
      print({ ready: true });
      await new Promise((r) => setTimeout(r, secs * 1000));
      events.close();
      break;
    }
    case 'sample': {
      const [ifindex, secs = '5'] = process.argv.slice(3);
      const end = Date.now() + Number(secs) * 1000;
      const out = { samples: 0, maxPendingBytes: 0, maxPendingPackets: 0, nonZero: 0 };
      while (Date.now() < end) {
        const v = await vifq.do('vif-get', { ifindex: Number(ifindex) });
        const b = Number(v['pending-bytes']);
        out.samples++;
        if (b > 0) out.nonZero++;
        out.maxPendingBytes = Math.max(out.maxPendingBytes, b);
        out.maxPendingPackets = Math.max(out.maxPendingPackets, Number(v['pending-packets']));
      }
      print(out);
      break;
    }
    default: throw new Error(`unknown command ${cmd}`);
  }
} catch (error) {
  print({ error: { name: error?.name, code: error?.code, errno: error?.errno, message: error?.extack?.message ?? error?.message } });
  process.exitCode = 1;
} finally {
  client.close();
}
