#!/usr/bin/env node
// vifq-nl.mjs - the vifq generic netlink family from dom0, through the project's typed
// client (dist/vifq: VifqClient, its codec driven by kernel-patch/vifq.yaml). Prints JSON.
//   node vifq-nl.mjs dump                       all vifs (vif-get dump)
//   node vifq-nl.mjs get '{"ifindex":7}'        one vif (vif-get do)
//   node vifq-nl.mjs set '{"ifindex":7,"limit-bytes":65536}'
//   node vifq-nl.mjs config-get | config-set '{"report-interval-ms":100}'
//   node vifq-nl.mjs listen SECS                release deltas, vif-new/vif-del and resync-needed
//                                               events of VifqClient.events() as JSON lines
//   node vifq-nl.mjs reload-check MODULE        with one client open: unload and load MODULE
//                                               (a path to the .ko), then list the vifs again on
//                                               the same client; prints {before, after, events}
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
import { execFileSync } from 'node:child_process';
import { VifqClient } from '../../../dist/vifq/index.js';

const argv = process.argv.slice(2);
const asNobody = argv.includes('--as-nobody');
const args = argv.filter((a) => a !== '--as-nobody');
const [cmd = 'dump', arg = '{}'] = args;
const replacer = (_k, v) => (typeof v === 'bigint' ? Number(v) : Buffer.isBuffer(v) ? v.toString('hex') : v);
const print = (x) => process.stdout.write(JSON.stringify(x, replacer) + '\n');

if (asNobody) {
  process.setgroups?.([]);
  process.setgid(65534);
  process.setuid(65534);
}
// the kernel's errno and extack live on the NetlinkError, which typed client errors
// (VifNotFoundError...) carry as their cause
const errorOf = (error) => {
  let k = error;
  while (k && k.extack === undefined && k.errno === undefined && k.code === undefined && k.cause) k = k.cause;
  return {
    error: {
      name: error?.name, code: k?.code, errno: k?.errno,
      message: k?.extack?.message ?? error?.message,
      extack: k?.extack ? { message: k.extack.message, offset: k.extack.offset, policy: k.extack.policy !== undefined } : undefined,
    },
  };
};
const json = (a) => (typeof a === 'string' ? JSON.parse(a) : a);
/** {ifindex | domid, handle, ...settings} -> [selector, settings] (passed on as given: the kernel judges) */
function split(a) {
  const { ifindex, domid, handle, ...settings } = json(a);
  const sel = Object.fromEntries(Object.entries({ ifindex, domid, handle }).filter(([, v]) => v !== undefined));
  return [sel, settings];
}

let client;

async function run(cmd, arg = '{}', rest = []) {
  switch (cmd) {
    case 'dump': return client.listVifs();
    case 'get': return client.getVif(json(arg));
    case 'set': { const [sel, settings] = split(arg); await client.setVif(sel, settings); return { ok: true }; }
    case 'config-get': return client.getConfig();
    case 'config-set': await client.setConfig(json(arg)); return { ok: true };
    case 'raw': {
      const [op, hex = ''] = [arg, ...rest];
      const replies = await client.raw(/^\d+$/.test(String(op)) ? Number(op) : op, Buffer.from(hex, 'hex'));
      return { ok: true, replies };
    }
    default: throw new Error(`unknown command ${cmd}`);
  }
}

/** Collects the client's events until `ms` pass (the iterator is ended by return()). */
async function collect(it, ms, onEvent) {
  const timer = setTimeout(() => void it.return(), ms);
  try {
    for await (const ev of it) onEvent(ev);
  } finally {
    clearTimeout(timer);
  }
}

try {
  client = await VifqClient.open();
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
      const it = client.events();
      await it.ready(); // joins the groups: EPERM without CAP_NET_ADMIN
      print({ ready: true });
      await collect(it, secs * 1000, (ev) => print({ t: Date.now(), ...ev }));
      break;
    }
    case 'reload-check': {
      // one client across a module reload: the next listVifs() must work without a new client
      const ko = arg;
      const before = (await client.listVifs()).length;
      const events = [];
      const it = client.events({ reports: false });
      await it.ready();
      execFileSync('rmmod', ['xen_netback']);
      execFileSync('insmod', [ko]);
      await collect(it, 3000, (ev) => events.push(ev.type === 'resync-needed' ? ev.reason : ev.type));
      const after = (await client.listVifs()).length;
      print({ before, after, events, familyId: client.family.id });
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
          const v = await client.getVif({ ifindex: i });
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
  client?.close();
}
