#!/usr/bin/env node
// vifq-nl.mjs - the vifq generic netlink family from dom0, through the project's
// own YNL codec (dist/genl) driven by kernel-patch/vifq.yaml. Prints JSON.
//   node vifq-nl.mjs dump                       all vifs (vif-get dump)
//   node vifq-nl.mjs get '{"ifindex":7}'        one vif (vif-get do)
//   node vifq-nl.mjs set '{"ifindex":7,"limit-bytes":65536}'
//   node vifq-nl.mjs config-get | config-set '{"report-interval-ms":100}'
//   node vifq-nl.mjs listen SECS                reports + config notifications as JSON lines
//   node vifq-nl.mjs sample IFINDEX[,...] SECS [READYFILE]
//                                               poll vif-get as fast as it answers; prints per vif the
//                                               sample count, how many saw pending > 0, and the
//                                               largest and median nonzero pending bytes/packets
//   node vifq-nl.mjs batch '[[CMD,ARG...],...]' several requests in one process, one JSON line each
//   node vifq-nl.mjs raw CMD HEX                send a raw genl `do` request (CMD: op name or
//                                               number, HEX: the attributes as they go on the wire),
//                                               bypassing the codec's own encoding and checks
// Option --as-nobody (anywhere): switch to uid/gid 65534 before opening the socket, so
// the kernel sees a caller without CAP_NET_ADMIN (the EPERM check of admin-perm ops).
// A kernel error prints {"error":{"code":"EINVAL","message":"<extack>"}} and exits 1.
import { GenlClient, YnlFamily, loadYnlSpecFile } from '../../../dist/genl/index.js';

const SPEC = process.env.VIFQ_SPEC ?? new URL('../../../kernel-patch/vifq.yaml', import.meta.url).pathname;
const argv = process.argv.slice(2);
const asNobody = argv.includes('--as-nobody');
const args = argv.filter((a) => a !== '--as-nobody');
const [cmd = 'dump', arg = '{}'] = args;
const replacer = (_k, v) => (typeof v === 'bigint' ? Number(v) : Buffer.isBuffer(v) ? v.toString('hex') : v);
const print = (x) => process.stdout.write(JSON.stringify(x, replacer) + '\n');

// read the spec before dropping privileges (the checkout may not be world-readable)
const spec = loadYnlSpecFile(SPEC);
if (asNobody) {
  process.setgroups?.([]);
  process.setgid(65534);
  process.setuid(65534);
}
const errorOf = (error) => ({
  error: {
    name: error?.name, code: error?.code, errno: error?.errno,
    message: error?.extack?.message ?? error?.message,
    extack: error?.extack ? { message: error.extack.message, offset: error.extack.offset, policy: error.extack.policy !== undefined } : undefined,
  },
});

const client = GenlClient.open();
let vifq;

async function run(cmd, arg = '{}', rest = []) {
  switch (cmd) {
    case 'dump': return vifq.dump('vif-get');
    case 'get': return vifq.do('vif-get', typeof arg === 'string' ? JSON.parse(arg) : arg);
    case 'set': return (await vifq.do('vif-set', typeof arg === 'string' ? JSON.parse(arg) : arg)) ?? { ok: true };
    case 'config-get': return vifq.do('config-get');
    case 'config-set': return (await vifq.do('config-set', typeof arg === 'string' ? JSON.parse(arg) : arg)) ?? { ok: true };
    case 'raw': {
      const [op, hex = ''] = [arg, ...rest];
      const fam = await client.resolveFamily(spec.name);
      const n = /^\d+$/.test(String(op)) ? Number(op) : vifq.op(op).requestValue;
      const replies = await client.request(fam.id, n, fam.version, Buffer.from(hex, 'hex'), { name: `vifq raw cmd ${n}` });
      return { ok: true, replies: replies.length };
    }
    default: throw new Error(`unknown command ${cmd}`);
  }
}

try {
  vifq = await YnlFamily.open(client, spec);
  switch (cmd) {
    case 'batch': {
      // batch '[["get",{"ifindex":9999}],["raw","vif-get","0600010005000000"]]': one JSON line
      // per request (the result or {"error":...}); saves a node start per request in dom0
      for (const [c, a, ...r] of JSON.parse(arg)) {
        try {
          print(await run(c, a, r));
        } catch (error) {
          print(errorOf(error));
        }
      }
      break;
    }
    case 'listen': {
      const secs = Number(arg === '{}' ? 5 : arg);
      const events = GenlClient.open();
      const ev = await YnlFamily.open(events, spec);
      await ev.subscribe('reports');
      await ev.subscribe('config');
      ev.on('notification', (n) => print({ t: Date.now(), op: n.op, attrs: n.attrs }));
      print({ ready: true });
      await new Promise((r) => setTimeout(r, secs * 1000));
      events.close();
      break;
    }
    case 'sample': {
      // sample IFINDEX[,IFINDEX...] SECS [READYFILE]: READYFILE is created once the
      // socket is open, so a script can start the traffic after node's slow start
      const [list = '', secs = '5', ready] = args.slice(1);
      const ifindexes = list.split(',').map(Number);
      const stats = new Map(ifindexes.map((i) => [i, { samples: 0, maxPendingBytes: 0, maxPendingPackets: 0, nonZero: 0, medianNonZeroBytes: 0, nz: [] }]));
      if (ready) (await import('node:fs')).writeFileSync(ready, '');
      const end = Date.now() + Number(secs) * 1000;
      while (Date.now() < end) {
        for (const [i, out] of stats) {
          const v = await vifq.do('vif-get', { ifindex: i });
          const b = Number(v['pending-bytes']);
          out.samples++;
          if (b > 0) { out.nonZero++; out.nz.push(b); }
          out.maxPendingBytes = Math.max(out.maxPendingBytes, b);
          out.maxPendingPackets = Math.max(out.maxPendingPackets, Number(v['pending-packets']));
        }
      }
      const result = {};
      for (const [i, { nz, ...out }] of stats) {
        nz.sort((a, b) => a - b);
        out.medianNonZeroBytes = nz.length ? nz[Math.floor(nz.length / 2)] : 0;
        result[i] = out;
      }
      print(ifindexes.length === 1 ? result[ifindexes[0]] : result);
      break;
    }
    default: print(await run(cmd, arg, args.slice(2)));
  }
} catch (error) {
  print(errorOf(error));
  process.exitCode = 1;
} finally {
  client.close();
}
