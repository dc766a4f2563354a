// vifqd-xs.mjs - runs in dom0 next to a running vifqd, on the compiled clients (/vifq/dist).
//   latency <domid> <n>   writes /local/domain/<domid>/vifq/pending-bytes n times (a new value
//                         each time, below the floor so the SLA cap decides the limit), waits
//                         250-300 ms without touching anything (a poll of vif-get is a node
//                         process's CPU taken from vifqd under TCG: polling every 25 ms added
//                         its own delay to what it measured), then reads the limit back with
//                         vif-get, every 50 ms until it equals the write or 5 s passed; prints
//                         {"ifindex", "writes": [{want, writtenAt (epoch ms, before the write),
//                         readBackMs}], "missed"}. The host side takes the exact latency from
//                         vifqd's vif-set log line.
//   untrusted <domid>     as dom0 but with the guest as owner (what a guest-written node looks
//                         like), in one transaction: vifq/priority = low, vifq/weight = 1000;
//                         waits 2 s and prints the vif as vif-get reports it
//   state [sock]          what the kernel holds (vif-get dump) beside what vifqd says it wants
//                         (its control socket's `status`, default /run/vifq/control.sock), in one
//                         process (node starts slowly in dom0): prints {"kernel": [...], "status": {...}}
//                         without touching xenstore (it may have just been restarted)
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { XenstoreClient } from '/vifq/dist/xenstore/index.js';
import { VifqClient } from '/vifq/dist/vifq/index.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const [cmd, ...args] = process.argv.slice(2);
const domid = Number(args[0]);

/** One request on vifqd's control socket (newline-delimited JSON), its answer line parsed. */
function control(path, method) {
  return new Promise((resolve, reject) => {
    const s = connect(path, () => s.write(`${JSON.stringify({ id: 1, method })}\n`));
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`no answer to ${method} on ${path} in 20 s`)); }, 20_000);
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      s.end();
      const reply = JSON.parse(buf.slice(0, nl));
      if (reply.error) reject(new Error(`${method}: ${JSON.stringify(reply.error)}`));
      else resolve(reply.result);
    });
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

if (cmd === 'state') {
  const vifq = await VifqClient.open();
  try {
    const kernel = await vifq.listVifs();
    const status = await control(args[0] ?? '/run/vifq/control.sock', 'status');
    console.log(JSON.stringify({ kernel, status }, (_k, v) => (typeof v === 'bigint' ? Number(v) : v)));
  } catch (e) {
    console.log(JSON.stringify({ error: { name: e?.name, message: e?.message } }));
    process.exitCode = 1;
  } finally {
    vifq.close();
  }
  process.exit();
}

const xs = await XenstoreClient.open();
const vifq = await VifqClient.open();
try {
  const vif = (await vifq.listVifs()).find((v) => v.domid === domid && v.handle === 0);
  if (!vif) throw new Error(`no vif of domain ${domid}`);
  if (cmd === 'latency') {
    const n = Number(args[1]);
    const path = `/local/domain/${domid}/vifq/pending-bytes`;
    const writes = [];
    const missed = [];
    for (let i = 0; i < n; i++) {
      const want = 2000 + 8 * (i + 1);
      const writtenAt = Date.now();
      const t0 = performance.now();
      await xs.write(path, String(want));
      await sleep(250 + Math.floor(Math.random() * 50));
      let got;
      while (performance.now() - t0 < 5000) {
        got = (await vifq.getVif({ ifindex: vif.ifindex }))['limit-bytes'];
        if (got === want) break;
        await sleep(50);
      }
      if (got === want) writes.push({ want, writtenAt, readBackMs: performance.now() - t0 });
      else missed.push({ want, got });
    }
    await xs.write(path, 'none');
    console.log(JSON.stringify({ ifindex: vif.ifindex, writes, missed }));
  } else if (cmd === 'untrusted') {
    const base = `/local/domain/${domid}/vifq`;
    await xs.transaction(async (tx) => {
      for (const [name, value] of [['priority', 'low'], ['weight', '1000']]) {
        await tx.write(`${base}/${name}`, value);
        await tx.setPerms(`${base}/${name}`, [{ domid, access: 'none' }]);
      }
    });
    await sleep(2000);
    console.log(JSON.stringify(await vifq.getVif({ ifindex: vif.ifindex })));
  } else {
    throw new Error(`unknown command ${cmd}`);
  }
} catch (e) {
  console.log(JSON.stringify({ error: { name: e?.name, message: e?.message } }));
  process.exitCode = 1;
} finally {
  vifq.close();
  await xs.close();
}
