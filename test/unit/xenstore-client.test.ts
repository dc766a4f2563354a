/**
 * The client over an in-memory transport: pipelining, req_id matching,
 * typed errors, timeouts, watches, transactions and reconnects, with sinon's
 * fake timers wherever time matters.
 */
import t from 'tap';
import sinon from 'sinon';
import { XenstoreClient, type XsReconnectedEvent, type XsWatchEvent } from '../../src/xenstore/client.js';
import {
  XenstoreError,
  XsAccessError,
  XsAgainError,
  XsClosedError,
  XsConnectError,
  XsConnectionLostError,
  XsInvalidError,
  XsNoEntryError,
  XsProtocolError,
  XsTimeoutError,
  XsTooBigError,
  XsTransactionConflictError,
} from '../../src/xenstore/errors.js';
import { XsType } from '../../src/xenstore/wire.js';
import { FakeConnector, flush, rawHeader, strings } from '../helpers/xenstore-fakes.js';

async function setup(opts: { timeoutMs?: number; transactionAttempts?: number } = {}) {
  const fc = new FakeConnector();
  const client = await XenstoreClient.open({
    connector: fc.connect,
    timeoutMs: opts.timeoutMs ?? 1000,
    transactionAttempts: opts.transactionAttempts ?? 3,
  });
  const warnings: XenstoreError[] = [];
  client.on('warning', (w) => warnings.push(w));
  return { fc, client, warnings };
}

t.test('pipelined requests are matched by req_id, replies in any order', async (t) => {
  const { fc, client } = await setup();
  const a = client.read('/a');
  const b = client.read('/b');
  const c = client.directory('/c');
  await flush();
  const tr = fc.current;
  t.equal(tr.sent.length, 3, 'all three sent before any reply');
  const [ra, rb, rc] = tr.sent;
  t.ok(ra && rb && rc);
  if (!ra || !rb || !rc) return;
  t.same(new Set(tr.sent.map((f) => f.reqId)).size, 3, 'distinct req_ids');
  t.notOk(tr.sent.some((f) => f.reqId === 0), 'req_id 0 is never used');
  t.same(strings(ra), ['/a']);
  t.equal(ra.type, XsType.READ);
  tr.reply(rc, 'x\0y\0');
  tr.reply(rb, 'B');
  tr.reply(ra, 'A');
  t.same(await Promise.all([a, b, c]), ['A', 'B', ['x', 'y']]);
  t.equal(client.inflightCount, 0);
  await client.close();
});

t.test('request payloads follow xenstore.txt', async (t) => {
  const { fc, client } = await setup();
  const ops = [
    client.write('/w', 'val'),
    client.mkdir('/m'),
    client.rm('/r'),
    client.setPerms('/p', [{ domid: 0, access: 'none' }, { domid: 5, access: 'read' }]),
    client.getPerms('/p'),
    client.getDomainPath(7),
  ];
  await flush();
  const hex = fc.current.sent.map((f) => [f.type, f.payload.toString('latin1')]);
  t.same(hex, [
    [XsType.WRITE, '/w\0val'],
    [XsType.MKDIR, '/m\0'],
    [XsType.RM, '/r\0'],
    [XsType.SET_PERMS, '/p\0n0\0r5\0'],
    [XsType.GET_PERMS, '/p\0'],
    [XsType.GET_DOMAIN_PATH, '7\0'],
  ]);
  const [w, m, r, sp, gp, dp] = fc.current.sent;
  if (!w || !m || !r || !sp || !gp || !dp) return t.fail('missing frames');
  for (const f of [w, m, r, sp]) fc.current.reply(f, 'OK\0');
  fc.current.reply(gp, 'b0\0r5\0');
  fc.current.reply(dp, '/local/domain/7\0');
  const res = await Promise.all(ops);
  t.same(res[4], [
    { domid: 0, access: 'both' },
    { domid: 5, access: 'read' },
  ]);
  t.equal(res[5], '/local/domain/7');
  await client.close();
});

t.test('XS_ERROR replies become typed errors with the request context', async (t) => {
  const { fc, client } = await setup();
  const p1 = client.read('/nope');
  const p2 = client.write('/ro', 'x');
  const p3 = client.tryRead('/gone');
  await flush();
  const [f1, f2, f3] = fc.current.sent;
  if (!f1 || !f2 || !f3) return t.fail('missing frames');
  fc.current.error(f1, 'ENOENT');
  fc.current.error(f2, 'EACCES');
  fc.current.error(f3, 'ENOENT');
  const e1 = await t.rejects(p1, XsNoEntryError);
  t.equal((e1 as unknown as XsNoEntryError).path, '/nope');
  await t.rejects(p2, XsAccessError);
  t.equal(await p3, undefined, 'tryRead maps ENOENT to undefined');
  await client.close();
});

t.test('client-side refusals send nothing: E2BIG over 4096 bytes, NUL or empty paths', async (t) => {
  const { fc, client } = await setup();
  const big = t.rejects(client.write('/big', 'x'.repeat(4096)), XsTooBigError);
  const ok = client.write('/fits', 'x'.repeat(4096 - '/fits\0'.length));
  await t.rejects(client.read('/a\0b'), XsInvalidError);
  await t.rejects(client.read(''), XsInvalidError);
  await t.rejects(client.watch('/a\0'), XsInvalidError);
  await t.rejects(client.setPerms('/a', []), XsInvalidError);
  await big;
  await flush();
  t.equal(fc.current.sent.length, 1, 'only the request that fits went out');
  t.equal(fc.current.sent[0]?.payload.length, 4096);
  fc.current.reply(fc.current.last(), 'OK\0');
  await ok;
  await client.close();
});

t.test('bad replies: wrong type, non-UTF-8, malformed perms; stray replies are warnings', async (t) => {
  const { fc, client, warnings } = await setup();
  const p1 = client.read('/a');
  const p2 = client.read('/bin');
  const p3 = client.readBytes('/bin2');
  const p4 = client.getPerms('/p');
  const p5 = client.directory('/d');
  await flush();
  const [f1, f2, f3, f4, f5] = fc.current.sent;
  if (!f1 || !f2 || !f3 || !f4 || !f5) return t.fail('missing frames');
  fc.current.push(Buffer.concat([rawHeader(XsType.READ, 999_999, 0, 0)])); // matches nothing
  fc.current.reply(f1, 'OK\0', XsType.WRITE);
  fc.current.reply(f2, Buffer.from([0xff, 0xfe]));
  fc.current.reply(f3, Buffer.from([0xff, 0xfe]));
  fc.current.reply(f4, 'q9\0');
  fc.current.reply(f5, Buffer.from([0x61, 0, 0xc3, 0]));
  t.equal(((await t.rejects(p1, XsProtocolError)) as unknown as XsProtocolError).fault, 'unexpected-reply');
  t.equal(((await t.rejects(p2, XsProtocolError)) as unknown as XsProtocolError).fault, 'encoding');
  t.same([...(await p3)], [0xff, 0xfe], 'readBytes returns binary values');
  t.equal(((await t.rejects(p4, XsProtocolError)) as unknown as XsProtocolError).fault, 'malformed');
  t.equal(((await t.rejects(p5, XsProtocolError)) as unknown as XsProtocolError).fault, 'encoding');
  t.equal(warnings.length, 1);
  t.match(warnings[0]?.message, /req_id 999999 matches no request/);
  t.ok(client.connected, 'a bad payload does not cost the connection');
  await client.close();
});

t.test('an oversize frame fails what is in flight and reconnects', async (t) => {
  const clock = sinon.useFakeTimers();
  t.teardown(() => clock.restore());
  const { fc, client } = await setup();
  const p = client.read('/a');
  await flush();
  const first = fc.current;
  first.push(rawHeader(XsType.READ, first.last().reqId, 0, 5000));
  const err = (await t.rejects(p, XsProtocolError)) as unknown as XsProtocolError;
  t.equal(err.fault, 'oversize');
  t.equal(err.path, '/a');
  t.ok(first.closed, 'the out-of-sync connection is closed');
  await clock.tickAsync(50);
  t.equal(fc.transports.length, 2, 'reconnected after the first backoff step');
  const p2 = client.read('/b');
  await flush();
  fc.current.reply(fc.current.last(), 'B');
  t.equal(await p2, 'B');
  await client.close();
});

t.test('each request times out on its own; late replies are ignored', async (t) => {
  const clock = sinon.useFakeTimers();
  t.teardown(() => clock.restore());
  const { fc, client, warnings } = await setup({ timeoutMs: 500 });
  const slow = client.read('/slow');
  await clock.tickAsync(300);
  const fast = client.read('/fast');
  await flush();
  const [fs, ff] = fc.current.sent;
  if (!fs || !ff) return t.fail('missing frames');
  fc.current.reply(ff, 'F');
  t.equal(await fast, 'F');
  const rejected = t.rejects(slow, XsTimeoutError);
  await clock.tickAsync(200);
  const err = (await rejected) as unknown as XsTimeoutError;
  t.equal(err.timeoutMs, 500);
  t.match(err.message, /XS_READ \/slow got no reply from xenstored within 500 ms/);
  t.equal(client.inflightCount, 0);
  fc.current.reply(fs, 'late');
  t.equal(warnings.length, 1, 'late reply reported, not crashed on');
  await client.close();
});

t.test('staggered requests each time out exactly timeoutMs after they were sent', async (t) => {
  const clock = sinon.useFakeTimers();
  t.teardown(() => clock.restore());
  const { fc, client } = await setup({ timeoutMs: 500 });
  const outcome = new Map<string, string>();
  const track = (name: string, p: Promise<unknown>): void => {
    p.then(
      () => outcome.set(name, `ok@${Date.now()}`),
      (e: Error) => outcome.set(name, `${e.name}@${Date.now()}`),
    );
  };
  track('a', client.read('/a')); // t=0
  await clock.tickAsync(100);
  track('b', client.read('/b')); // t=100
  await clock.tickAsync(150);
  track('c', client.read('/c')); // t=250
  await flush();
  const [, rb] = fc.current.sent;
  if (!rb) return t.fail('missing frame');
  fc.current.reply(rb, 'B');
  await clock.tickAsync(249); // t=499
  t.same([...outcome.entries()], [['b', 'ok@250']], 'nothing times out early');
  await clock.tickAsync(1); // t=500
  t.equal(outcome.get('a'), 'XsTimeoutError@500');
  await clock.tickAsync(249); // t=749
  t.notOk(outcome.has('c'));
  await clock.tickAsync(1); // t=750
  t.equal(outcome.get('c'), 'XsTimeoutError@750');
  t.equal(client.inflightCount, 0);
  // a request while disconnected (queued) times out as well
  fc.current.drop();
  track('d', client.read('/d')); // queued until the reconnect
  fc.failNext = 100;
  await clock.tickAsync(500);
  t.equal(outcome.get('d'), 'XsTimeoutError@1250');
  await client.close();
});

t.test('no timer keeps the process alive once nothing is pending', async (t) => {
  const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = timers();
  const { fc, client } = await setup({ timeoutMs: 60_000 });
  const a = client.read('/a');
  const b = client.read('/b');
  await flush();
  t.ok(timers() > before, 'a request waiting for its reply holds a timer');
  const [ra, rb] = fc.current.sent;
  if (!ra || !rb) return t.fail('missing frames');
  fc.current.reply(ra, 'A');
  await a;
  t.ok(timers() > before, 'still one pending');
  fc.current.reply(rb, 'B');
  await b;
  t.equal(timers(), before, 'all answered: no ref\'d timer left');
  const c = client.read('/c');
  await flush();
  t.ok(timers() > before, 'a new request holds it again');
  fc.current.reply(fc.current.last(), 'C');
  t.equal(await c, 'C');
  t.equal(timers(), before);
  await client.close();
});

t.test('close() rejects pending and queued requests and is idempotent', async (t) => {
  const { fc, client } = await setup();
  const p = client.read('/a');
  await flush();
  let closed = 0;
  client.on('close', () => closed++);
  await client.close();
  await client.close();
  await t.rejects(p, XsClosedError);
  await t.rejects(client.read('/b'), XsClosedError);
  t.ok(fc.current.closed);
  t.equal(closed, 1);
});

t.test('watches: registration, events to listener and client, unwatch', async (t) => {
  const { fc, client, warnings } = await setup();
  const seen: XsWatchEvent[] = [];
  const all: XsWatchEvent[] = [];
  client.on('watch', (e) => all.push(e));
  const wp = client.watch('/local/domain', (e) => seen.push(e));
  await flush();
  const req = fc.current.last();
  t.equal(req.type, XsType.WATCH);
  const [path, token] = strings(req);
  t.equal(path, '/local/domain');
  // xenstored may send the initial event before the reply is read
  fc.current.push(Buffer.concat([
    rawHeader(XsType.WATCH_EVENT, 0, 0, `/local/domain\0${token}\0`.length),
    Buffer.from(`/local/domain\0${token}\0`),
  ]));
  fc.current.reply(req, 'OK\0');
  const w = await wp;
  t.equal(w.token, token);
  fc.current.push(Buffer.concat([rawHeader(XsType.WATCH_EVENT, 0, 0, `/local/domain/3/name\0${token}\0`.length), Buffer.from(`/local/domain/3/name\0${token}\0`)]));
  fc.current.push(Buffer.concat([rawHeader(XsType.WATCH_EVENT, 0, 0, 'x\0other\0'.length), Buffer.from('x\0other\0')]));
  fc.current.push(Buffer.concat([rawHeader(XsType.WATCH_EVENT, 0, 0, 2), Buffer.from('x\0')]));
  t.same(seen.map((e) => e.path), ['/local/domain', '/local/domain/3/name']);
  t.same(seen[1], { path: '/local/domain/3/name', watchPath: '/local/domain', token, reconnect: false });
  t.equal(all.length, 2);
  t.equal(warnings.length, 1, 'malformed event is a warning');
  const up = w.unwatch();
  await flush();
  const un = fc.current.last();
  t.equal(un.type, XsType.UNWATCH);
  t.same(strings(un), ['/local/domain', token]);
  fc.current.reply(un, 'OK\0');
  await up;
  fc.current.push(Buffer.concat([rawHeader(XsType.WATCH_EVENT, 0, 0, `/local/domain/4\0${token}\0`.length), Buffer.from(`/local/domain/4\0${token}\0`)]));
  t.equal(seen.length, 2, 'no events after unwatch');
  t.same(client.watchedPaths(), []);
  await client.close();
});

t.test('a throwing watch listener is reported, not fatal', async (t) => {
  const { fc, client, warnings } = await setup();
  const wp = client.watch('/x', () => {
    throw new Error('boom');
  });
  await flush();
  const req = fc.current.last();
  fc.current.reply(req, 'OK\0');
  await wp;
  const [, token] = strings(req);
  fc.current.push(Buffer.concat([rawHeader(XsType.WATCH_EVENT, 0, 0, `/x\0${token}\0`.length), Buffer.from(`/x\0${token}\0`)]));
  t.equal(warnings.length, 1);
  t.match(warnings[0]?.message, /watch listener for \/x threw: Error: boom/);
  t.ok(client.connected);
  await client.close();
});

t.test('a failed WATCH leaves no watch behind', async (t) => {
  const { fc, client } = await setup();
  const wp = client.watch('/secret');
  await flush();
  fc.current.error(fc.current.last(), 'EACCES');
  await t.rejects(wp, XsAccessError);
  t.same(client.watchedPaths(), []);
  await client.close();
});

/** Answers transaction requests: start → id, ops → OK/value, end → from `ends`. */
function txResponder(fc: FakeConnector, ends: string[]) {
  let id = 40;
  let handled = 0;
  return () => {
    const tr = fc.current;
    for (; handled < tr.sent.length; handled++) {
      const f = tr.sent[handled];
      if (!f) continue;
      if (f.type === XsType.TRANSACTION_START) tr.reply(f, `${++id}\0`);
      else if (f.type === XsType.TRANSACTION_END) {
        const r = ends.shift() ?? 'OK';
        if (r === 'OK') tr.reply(f, 'OK\0');
        else tr.error(f, r);
      } else if (f.type === XsType.READ) tr.reply(f, '7');
      else tr.reply(f, 'OK\0');
    }
  };
}

async function drive(pump: () => void, p: Promise<unknown>): Promise<void> {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < 200 && !done; i++) {
    pump();
    await flush(2);
  }
}

t.test('transaction(): EAGAIN on commit retries the whole function', async (t) => {
  const { fc, client } = await setup();
  let runs = 0;
  const p = client.transaction(async (tx) => {
    runs++;
    const v = Number(await tx.read('/counter'));
    await tx.write('/counter', String(v + 1));
    return v + 1;
  });
  await drive(txResponder(fc, ['EAGAIN', 'EAGAIN', 'OK']), p);
  t.equal(await p, 8);
  t.equal(runs, 3);
  const sent = fc.current.sent;
  const ends = sent.filter((f) => f.type === XsType.TRANSACTION_END);
  t.same(ends.map((f) => f.payload.toString('latin1')), ['T\0', 'T\0', 'T\0']);
  t.same(ends.map((f) => f.txId), [41, 42, 43], 'each attempt on its own transaction');
  const writes = sent.filter((f) => f.type === XsType.WRITE);
  t.same(writes.map((f) => f.txId), [41, 42, 43], 'ops carry the tx_id');
  t.equal(sent.find((f) => f.type === XsType.TRANSACTION_START)?.payload.toString('hex'), '00', 'start payload is one NUL');
  await client.close();
});

t.test('transaction(): gives up after maxAttempts with XsTransactionConflictError', async (t) => {
  const { fc, client } = await setup({ transactionAttempts: 3 });
  const p = client.transaction(async (tx) => tx.write('/x', '1'));
  await drive(txResponder(fc, ['EAGAIN', 'EAGAIN', 'EAGAIN', 'OK']), p);
  const err = (await t.rejects(p, XsTransactionConflictError)) as unknown as XsTransactionConflictError;
  t.equal(err.attempts, 3);
  t.type(err.cause, XsAgainError);
  t.equal(fc.current.sent.filter((f) => f.type === XsType.TRANSACTION_START).length, 3);
  await client.close();
});

t.test('transaction(): an error in fn aborts (F) and is rethrown, not retried', async (t) => {
  const { fc, client } = await setup();
  const p = client.transaction(async (tx) => {
    await tx.read('/counter');
    throw new Error('validation failed');
  });
  await drive(txResponder(fc, []), p);
  await t.rejects(p, /validation failed/);
  const ends = fc.current.sent.filter((f) => f.type === XsType.TRANSACTION_END);
  t.same(ends.map((f) => f.payload.toString('latin1')), ['F\0']);
  t.equal(fc.current.sent.filter((f) => f.type === XsType.TRANSACTION_START).length, 1);
  await client.close();
});

t.test('a transaction handle is dead after commit and after a reconnect', async (t) => {
  const clock = sinon.useFakeTimers();
  t.teardown(() => clock.restore());
  const { fc, client } = await setup();
  const pump = txResponder(fc, []);
  const txp = client.transactionStart();
  await drive(pump, txp);
  const tx = await txp;
  t.equal(tx.id, 41);
  const cp = tx.commit();
  await drive(pump, cp);
  await cp;
  await t.rejects(tx.read('/x'), /after it ended/);
  const tx2p = client.transactionStart();
  await drive(pump, tx2p);
  const tx2 = await tx2p;
  fc.current.drop();
  await clock.tickAsync(50);
  t.ok(client.connected);
  await t.rejects(tx2.read('/x'), XsConnectionLostError, 'tx_ids do not survive a reconnect');
  await client.close();
});

t.test('a bad TRANSACTION_START reply is a protocol error', async (t) => {
  const { fc, client } = await setup();
  const p = client.transactionStart();
  await flush();
  fc.current.reply(fc.current.last(), 'zero\0');
  t.equal(((await t.rejects(p, XsProtocolError)) as unknown as XsProtocolError).fault, 'malformed');
  await client.close();
});

t.test('reconnect: pending rejected, backoff, watches re-registered, gap reported, watches fired', async (t) => {
  const clock = sinon.useFakeTimers({ now: 1_000_000 });
  t.teardown(() => clock.restore());
  const { fc, client } = await setup();
  const seen: XsWatchEvent[] = [];
  const wp = client.watch('/local/domain', (e) => seen.push(e));
  await flush();
  const [, token] = strings(fc.current.last());
  fc.current.reply(fc.current.last(), 'OK\0');
  await wp;
  const inflight = client.read('/a');
  await flush();
  const disc: string[] = [];
  const recon: XsReconnectedEvent[] = [];
  client.on('disconnected', (d) => disc.push(d.reason));
  client.on('reconnected', (r) => recon.push(r));

  fc.failNext = 2; // xenstored is down for the first two attempts
  fc.current.push(rawHeader(XsType.READ, fc.current.last().reqId, 0, 10).subarray(0, 9)); // half a header
  fc.current.drop();
  const lost = (await t.rejects(inflight, XsConnectionLostError)) as unknown as XsConnectionLostError;
  t.match(lost.message, /closed by peer, 9 bytes into a reply/);
  t.type(lost.cause, XsProtocolError);
  t.same(disc, ['closed by peer, 9 bytes into a reply']);

  const queued = client.read('/queued'); // waits for the next connection
  await clock.tickAsync(50); // attempt 1 fails
  await clock.tickAsync(100); // attempt 2 fails
  t.equal(fc.attempts, 3);
  t.equal(fc.transports.length, 1);
  await clock.tickAsync(199);
  t.equal(fc.transports.length, 1, 'third attempt waits 200 ms');
  await clock.tickAsync(1);
  t.equal(fc.transports.length, 2);
  const tr = fc.current;
  t.same(tr.sent.map((f) => [f.type, ...strings(f)]), [
    [XsType.READ, '/queued'],
    [XsType.WATCH, '/local/domain', token],
  ], 'queued request flushed, watch re-registered with its token');
  t.equal(recon.length, 0, 'reconnected waits for the watches');
  const [q, w] = tr.sent;
  if (!q || !w) return t.fail('missing frames');
  tr.reply(q, 'Q');
  tr.reply(w, 'OK\0');
  t.equal(await queued, 'Q');
  await flush(10);
  t.equal(recon.length, 1);
  t.same(recon[0], { downtimeMs: 350, attempts: 3, transport: 'fake#2', watches: ['/local/domain'], failedWatches: [] });
  t.same(seen.at(-1), { path: '/local/domain', watchPath: '/local/domain', token, reconnect: true }, 'watch fired once');
  // events on the new connection still reach the watch
  tr.push(Buffer.concat([rawHeader(XsType.WATCH_EVENT, 0, 0, `/local/domain/9\0${token}\0`.length), Buffer.from(`/local/domain/9\0${token}\0`)]));
  t.equal(seen.at(-1)?.path, '/local/domain/9');
  await client.close();
});

t.test('reconnect: a watch xenstored now refuses is dropped and reported', async (t) => {
  const clock = sinon.useFakeTimers();
  t.teardown(() => clock.restore());
  const { fc, client } = await setup();
  for (const p of ['/ok', '/denied']) {
    const wp = client.watch(p);
    await flush();
    fc.current.reply(fc.current.last(), 'OK\0');
    await wp;
  }
  const recon: XsReconnectedEvent[] = [];
  client.on('reconnected', (r) => recon.push(r));
  fc.current.drop();
  await clock.tickAsync(50);
  const [a, b] = fc.current.sent;
  if (!a || !b) return t.fail('missing frames');
  fc.current.reply(a, 'OK\0');
  fc.current.error(b, 'EACCES');
  await flush(10);
  t.equal(recon.length, 1);
  t.same(recon[0]?.watches, ['/ok']);
  t.equal(recon[0]?.failedWatches[0]?.path, '/denied');
  t.type(recon[0]?.failedWatches[0]?.error, XsAccessError);
  t.same(client.watchedPaths(), ['/ok']);
  await client.close();
});

t.test('reconnect gives up after maxAttempts and closes', async (t) => {
  const clock = sinon.useFakeTimers();
  t.teardown(() => clock.restore());
  const fc = new FakeConnector();
  const client = await XenstoreClient.open({ connector: fc.connect, reconnect: { maxAttempts: 2, initialMs: 10, maxMs: 10 } });
  const failed: XenstoreError[] = [];
  client.on('reconnect-failed', (e) => failed.push(e));
  fc.failNext = 5;
  fc.current.drop();
  const q = t.rejects(client.read('/x'), XsClosedError, 'queued request rejected on give-up');
  await clock.tickAsync(10);
  t.equal(failed.length, 0);
  await clock.tickAsync(10);
  t.equal(failed.length, 1);
  await q;
  t.notOk(client.connected);
  t.equal(fc.attempts, 3);
});

t.test('with reconnect off, a drop rejects and later calls fail fast', async (t) => {
  const fc = new FakeConnector();
  const client = await XenstoreClient.open({ connector: fc.connect, reconnect: false });
  const p = client.read('/a');
  await flush();
  fc.current.drop();
  await t.rejects(p, XsConnectionLostError);
  await t.rejects(client.read('/b'), /reconnecting is off/);
  t.equal(fc.attempts, 1);
  await client.close();
});

t.test('directory() falls back to DIRECTORY_PART on E2BIG', async (t) => {
  const { fc, client } = await setup();
  const p = client.directory('/big');
  const tr = fc.current;
  const answers = [
    (f: ReturnType<typeof tr.last>) => tr.error(f, 'E2BIG'),
    (f: ReturnType<typeof tr.last>) => tr.reply(f, '17\0aa\0bb\0'), // offset 0
    (f: ReturnType<typeof tr.last>) => tr.reply(f, '17\0cc\0\0'), // offset 6, last part
  ];
  await drive(() => {
    const f = tr.sent[answers.length === 3 ? 0 : 3 - answers.length];
    const next = answers[0];
    if (f && next && tr.sent.length === 4 - answers.length) {
      answers.shift();
      next(f);
    }
  }, p);
  t.same(await p, ['aa', 'bb', 'cc']);
  t.same(tr.sent.slice(1).map((f) => [f.type, f.payload.toString('latin1')]), [
    [XsType.DIRECTORY_PART, '/big\x000\0'],
    [XsType.DIRECTORY_PART, '/big\x006\0'],
  ]);
  await client.close();
});

t.test('directory(): E2BIG stands when DIRECTORY_PART is unknown', async (t) => {
  const { fc, client } = await setup();
  const p = client.directory('/big');
  await flush();
  fc.current.error(fc.current.last(), 'E2BIG');
  await flush(5);
  fc.current.error(fc.current.last(), 'EINVAL');
  await t.rejects(p, XsTooBigError);
  await client.close();
});

t.test('open() retries a refused first connection with backoff', async (t) => {
  const clock = sinon.useFakeTimers();
  t.teardown(() => clock.restore());
  const fc = new FakeConnector();
  fc.failNext = 2;
  let opened: XenstoreClient | undefined;
  const p = XenstoreClient.open({ connector: fc.connect, reconnect: { initialMs: 10, maxMs: 40 } }).then((c) => { opened = c; });
  await clock.tickAsync(9);
  t.equal(fc.attempts, 1, 'no retry before the first backoff delay');
  t.notOk(opened);
  await clock.tickAsync(1 + 20);
  await p;
  t.equal(fc.attempts, 3);
  t.ok(opened?.connected);
  await opened?.close();
});

t.test('open() gives up after connectAttempts with one XsConnectError, and nothing unhandled', async (t) => {
  const seen: unknown[] = [];
  const onRej = (r: unknown): void => { seen.push(r); };
  process.on('unhandledRejection', onRej);
  t.teardown(() => { process.off('unhandledRejection', onRej); });
  const fc = new FakeConnector();
  fc.failNext = 100;
  const err = await XenstoreClient.open({ connector: fc.connect, connectAttempts: 3, reconnect: { initialMs: 1, maxMs: 2 } })
    .catch((e: unknown) => e);
  t.type(err, XsConnectError);
  t.equal((err as XsConnectError).attempts, 3);
  t.match((err as XsConnectError).message, /3 attempts/);
  t.equal(fc.attempts, 3);
  await new Promise((r) => setTimeout(r, 10));
  t.same(seen, []);
});

t.test('closing after reconnecting gave up says why; a reconnect asks for a resync', async (t) => {
  const fc = new FakeConnector();
  const client = await XenstoreClient.open({ connector: fc.connect, reconnect: { maxAttempts: 50, initialMs: 1, maxMs: 1 } });
  const resyncs: Error[] = [];
  client.on('resync-needed', (e) => resyncs.push(e));
  fc.current.drop();
  await new Promise<void>((r) => client.once('reconnected', () => r()));
  t.equal(resyncs.length, 1);
  t.type(resyncs[0], XsConnectionLostError);
  fc.failNext = 1000;
  const closed = new Promise<Error | undefined>((r) => client.once('close', r));
  const pending = new Promise<Error | undefined>((r) => client.once('reconnect-failed', r));
  fc.current.drop();
  const cause = await closed;
  t.equal(cause, await pending, 'close carries the reconnect failure');
});
