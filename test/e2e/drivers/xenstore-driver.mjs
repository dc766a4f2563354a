#!/usr/bin/env node
// xenstore-driver.mjs: runs inside dom0 against the real xenstored.
//   node /vifq/test/e2e/drivers/xenstore-driver.mjs <scenario> [args]
// Scenarios:
//   ops                       write/read/directory/mkdir/rm/get+set perms/transaction round trip
//   txn-conflict              two connections race a transaction on one node; EAGAIN retried
//   watch [seconds]           watch /local/domain, @introduceDomain, @releaseDomain; JSON lines
//   reconnect [seconds]       watch; wait for xenstored to be killed and restarted; JSON lines
//   as-guest <domid>          prepare nodes for a guest-side permission test; print the trust verdicts
// Prints JSON on stdout (one object, or JSON lines ending with {"done":true,...}); exit 0 = ok.
import {
  XenstoreClient,
  XenstoreError,
  XsNoEntryError,
  XsTooBigError,
  ownedByDom0AndNotGuestWritable,
} from '../../../dist/xenstore/index.js';

const BASE = '/local/domain/0/vifq-test';
const [scenario, ...args] = process.argv.slice(2);

const out = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const errInfo = (e) => ({ name: e?.name, code: e?.code, message: e?.message });

async function connect(opts = {}) {
  return XenstoreClient.open({ timeoutMs: 10_000, ...opts });
}

async function ops() {
  const c = await connect();
  const checks = {};
  try {
    await c.rm(BASE);
    await c.write(`${BASE}/a`, 'hello');
    checks.read = (await c.read(`${BASE}/a`)) === 'hello';
    await c.write(`${BASE}/bin`, Buffer.from([0, 1, 2, 255]));
    checks.readBytes = Buffer.compare(await c.readBytes(`${BASE}/bin`), Buffer.from([0, 1, 2, 255])) === 0;
    await c.mkdir(`${BASE}/dir/sub`);
    checks.mkdirEmpty = (await c.read(`${BASE}/dir/sub`)) === '';
    await c.write(`${BASE}/dir/sub`, 'kept');
    await c.mkdir(`${BASE}/dir/sub`);
    checks.mkdirKeepsValue = (await c.read(`${BASE}/dir/sub`)) === 'kept';
    checks.directory = JSON.stringify((await c.directory(BASE)).sort()) === JSON.stringify(['a', 'bin', 'dir']);
    const pipelined = await Promise.all(Array.from({ length: 50 }, (_, i) => c.write(`${BASE}/p/${i}`, String(i)).then(() => c.read(`${BASE}/p/${i}`))));
    checks.pipelined = pipelined.every((v, i) => v === String(i));
    const before = await c.getPerms(`${BASE}/a`);
    checks.defaultOwnerDom0 = before[0].domid === 0;
    await c.setPerms(`${BASE}/a`, [{ domid: 0, access: 'read' }]);
    const after = await c.getPerms(`${BASE}/a`);
    checks.setPerms = JSON.stringify(after) === JSON.stringify([{ domid: 0, access: 'read' }]);
    await c.setPerms(`${BASE}/a`, [{ domid: 0, access: 'none' }, { domid: 0, access: 'both' }]);
    checks.setPermsList = (await c.getPerms(`${BASE}/a`)).length === 2;
    checks.enoent = await c.read(`${BASE}/missing`).then(() => false, (e) => e instanceof XsNoEntryError && e.errno === 2);
    checks.e2big = await c.write(`${BASE}/big`, 'x'.repeat(5000)).then(() => false, (e) => e instanceof XsTooBigError);
    checks.transaction = (await c.transaction(async (tx) => {
      await tx.write(`${BASE}/tx`, 'in-tx');
      return tx.read(`${BASE}/tx`);
    })) === 'in-tx' && (await c.read(`${BASE}/tx`)) === 'in-tx';
    const aborted = await c.transactionStart();
    await aborted.write(`${BASE}/aborted`, 'no');
    await aborted.abort();
    checks.abort = (await c.tryRead(`${BASE}/aborted`)) === undefined;
    checks.domainPath = (await c.getDomainPath(0)) === '/local/domain/0';
    await c.rm(`${BASE}/dir`);
    checks.rm = (await c.tryRead(`${BASE}/dir/sub`)) === undefined && (await c.tryRead(`${BASE}/dir`)) === undefined;
    await c.rm(`${BASE}/dir`); // rm of a missing node whose parent exists is fine
    checks.rmMissing = true;
  } finally {
    await c.rm(BASE).catch(() => undefined);
    await c.close();
  }
  const ok = Object.values(checks).every(Boolean);
  out({ scenario: 'ops', ok, checks });
  return ok;
}

async function txnConflict() {
  const a = await connect();
  const b = await connect();
  const node = `${BASE}/counter`;
  await a.write(node, '100');
  // Both read before either commits, so the second commit must get EAGAIN.
  let arrived = 0;
  let release;
  const barrier = new Promise((r) => (release = r));
  const runs = { a: 0, b: 0 };
  const bump = (client, who) =>
    client.transaction(async (tx) => {
      runs[who]++;
      const v = Number(await tx.read(node));
      if (runs[who] === 1) {
        if (++arrived === 2) release();
        await barrier;
      }
      await tx.write(node, String(v + 1));
      return v + 1;
    });
  let results;
  try {
    results = await Promise.all([bump(a, 'a'), bump(b, 'b')]);
  } catch (e) {
    out({ scenario: 'txn-conflict', ok: false, error: errInfo(e) });
    return false;
  }
  const final = Number(await a.read(node));
  await a.rm(BASE).catch(() => undefined);
  await Promise.all([a.close(), b.close()]);
  const retried = runs.a + runs.b;
  const ok = final === 102 && retried >= 3 && results.sort().join() === '101,102';
  out({ scenario: 'txn-conflict', ok, final, results, runs, retriedAttempts: retried - 2 });
  return ok;
}

async function watch(seconds = 30) {
  const c = await connect();
  let count = 0;
  c.on('watch', (e) => {
    count++;
    out({ event: 'watch', path: e.path, watchPath: e.watchPath, reconnect: e.reconnect, t: Date.now() });
  });
  c.on('warning', (w) => out({ event: 'warning', message: w.message }));
  for (const p of ['/local/domain', '@introduceDomain', '@releaseDomain']) await c.watch(p);
  out({ ready: true, watches: c.watchedPaths() });
  await sleep(seconds * 1000);
  await c.close();
  out({ done: true, scenario: 'watch', ok: true, count });
  return true;
}

async function reconnect(seconds = 60) {
  const c = await connect({ reconnect: { initialMs: 50, maxMs: 500 } });
  const node = `${BASE}/reconnect`;
  await c.write(node, 'before');
  const state = { disconnected: null, reconnected: null, firedOnReconnect: false, sawWriteAfter: false };
  let afterWrite = false;
  c.on('watch', (e) => {
    out({ event: 'watch', path: e.path, reconnect: e.reconnect, t: Date.now() });
    if (e.reconnect) state.firedOnReconnect = true;
    if (afterWrite && e.path === `${node}/after`) state.sawWriteAfter = true;
  });
  c.on('disconnected', (d) => {
    state.disconnected = { reason: d.reason, rejected: d.rejected };
    out({ event: 'disconnected', ...state.disconnected, t: Date.now() });
  });
  const reconnected = new Promise((resolve) =>
    c.on('reconnected', (r) => {
      state.reconnected = { downtimeMs: r.downtimeMs, attempts: r.attempts, watches: r.watches, failed: r.failedWatches.map((f) => f.path) };
      out({ event: 'reconnected', ...state.reconnected, t: Date.now() });
      resolve();
    }),
  );
  await c.watch(node);
  out({ ready: true, pid: process.pid });
  const timedOut = await Promise.race([reconnected.then(() => false), sleep(seconds * 1000).then(() => true)]);
  if (!timedOut) {
    // The restarted xenstored starts empty: write below the watch and expect its event.
    await sleep(200);
    afterWrite = true;
    await c.write(`${node}/after`, 'x');
    for (let i = 0; i < 50 && !state.sawWriteAfter; i++) await sleep(100);
  }
  await c.close();
  const ok = !timedOut && state.disconnected !== null && state.firedOnReconnect && state.sawWriteAfter;
  out({ done: true, scenario: 'reconnect', ok, timedOut, ...state });
  return ok;
}

async function asGuest(domid) {
  if (!Number.isInteger(domid) || domid <= 0) throw new Error('as-guest needs the guest domid (xl domid domu1)');
  const c = await connect();
  const ro = `${BASE}/guest-ro`;
  const own = `/local/domain/${domid}/vifq-test`;
  await c.write(ro, 'secret');
  await c.setPerms(ro, [{ domid: 0, access: 'none' }, { domid, access: 'read' }]);
  await c.write(own, 'guest-owned');
  await c.setPerms(own, [{ domid, access: 'none' }]);
  const roPerms = await c.getPerms(ro);
  const ownPerms = await c.getPerms(own);
  await c.close();
  out({
    scenario: 'as-guest',
    ok: true,
    nodes: { readOnly: ro, guestOwned: own },
    perms: { readOnly: roPerms, guestOwned: ownPerms },
    trusted: { readOnly: ownedByDom0AndNotGuestWritable(roPerms, domid), guestOwned: ownedByDom0AndNotGuestWritable(ownPerms, domid) },
  });
  return true;
}

const scenarios = {
  ops: () => ops(),
  'txn-conflict': () => txnConflict(),
  watch: () => watch(Number(args[0] ?? 30)),
  reconnect: () => reconnect(Number(args[0] ?? 60)),
  'as-guest': () => asGuest(Number(args[0])),
};

const run = scenarios[scenario ?? ''];
if (!run) {
  out({ ok: false, error: `unknown scenario ${JSON.stringify(scenario)}; one of ${Object.keys(scenarios).join(', ')}` });
  process.exit(2);
}
run().then(
  (ok) => process.exit(ok ? 0 : 1),
  (e) => {
    out({ scenario, ok: false, error: errInfo(e), xenstore: e instanceof XenstoreError });
    process.exit(1);
  },
);
