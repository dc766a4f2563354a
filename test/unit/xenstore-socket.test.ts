/**
 * The client over a real unix socket, against a fault-injecting server:
 * dropped connections mid-reply, EAGAIN on commit, slow replies, oversize
 * frames, non-UTF-8 payloads, a server that restarts.
 */
import t, { type Test } from 'tap';
import { XenstoreClient, type XenstoreClientEvents, type XsWatchEvent } from '../../src/xenstore/client.js';
import {
  XsConnectError,
  XsConnectionLostError,
  XsProtocolError,
  XsTimeoutError,
  XsTooBigError,
} from '../../src/xenstore/errors.js';
import { defaultConnector } from '../../src/xenstore/transport.js';
import { XsType } from '../../src/xenstore/wire.js';
import { FaultServer, frame, okHandler, rawHeader, strings } from '../helpers/xenstore-fakes.js';

async function start(t: Test, handler = okHandler()) {
  const server = await FaultServer.start(handler);
  const client = await XenstoreClient.open({
    connector: defaultConnector({ socketPath: server.socketPath, devicePath: false }),
    timeoutMs: 2000,
    reconnect: { initialMs: 10, maxMs: 40 },
  });
  t.teardown(async () => {
    await client.close();
    await server.stop();
  });
  return { server, client };
}

/** Resolves with the arguments of the client's next `event`. */
function next<K extends keyof XenstoreClientEvents>(c: XenstoreClient, event: K): Promise<XenstoreClientEvents[K]> {
  return new Promise((resolve) => c.once(event, (...args) => resolve(args)));
}

t.test('ops over the socket, pipelined', async (t) => {
  const { server, client } = await start(t);
  await Promise.all([client.write('/vifq/a', 'one'), client.write('/vifq/b', 'two'), client.mkdir('/vifq/c')]);
  t.same(await Promise.all([client.read('/vifq/a'), client.read('/vifq/b')]), ['one', 'two']);
  t.same((await client.directory('/vifq')).sort(), ['a', 'b']);
  t.equal(await client.tryRead('/vifq/zzz'), undefined);
  t.equal(server.requests.length, 7);
});

t.test('no xenstored: XsConnectError naming what was tried', async (t) => {
  const err = await t.rejects(
    XenstoreClient.open({ connector: defaultConnector({ socketPath: '/nonexistent/vifq/socket', devicePath: '/nonexistent/xenbus' }) }),
    XsConnectError,
  );
  t.match((err as unknown as XsConnectError).tried, [/\/nonexistent\/vifq\/socket: ENOENT/, /\/nonexistent\/xenbus: ENOENT/]);
});

t.test('connection dropped mid-reply: typed error, then reconnect and re-watch', async (t) => {
  const handler = okHandler(new Map([['/a', 'AAAA']]));
  let cut = true;
  const { server, client } = await start(t, (req, conn) => {
    if (req.type === XsType.READ && cut) {
      cut = false;
      const whole = frame(XsType.READ, req.reqId, 'AAAA');
      conn.send(whole.subarray(0, 18)); // header + 2 of 4 payload bytes
      setTimeout(() => conn.kill(), 20);
      return;
    }
    handler(req, conn);
  });
  const events: XsWatchEvent[] = [];
  await client.watch('/local/domain', (e) => events.push(e));
  const reconnected = next(client, 'reconnected');
  const err = (await t.rejects(client.read('/a'), XsConnectionLostError)) as unknown as XsConnectionLostError;
  t.match(err.message, /2 bytes into a reply|18 bytes into a reply/);
  t.type(err.cause, XsProtocolError);
  const [r] = await reconnected;
  t.same(r.watches, ['/local/domain']);
  t.ok(r.downtimeMs >= 0);
  t.equal(server.conns.length, 2, 'a second connection');
  const watches = server.requestsOf(XsType.WATCH);
  t.equal(watches.length, 2, 'WATCH sent again on the new connection');
  t.same(strings(watches[0]!), strings(watches[1]!), 'same path and token');
  t.ok(events.some((e) => e.reconnect), 'watch fired after reconnect');
  t.equal(await client.read('/a'), 'AAAA', 'works again');
});

t.test('xenstored restart: socket gone for a while, then back', async (t) => {
  const { server, client } = await start(t);
  await client.watch('/w');
  const disconnected = next(client, 'disconnected');
  await server.stop();
  await disconnected;
  const pending = client.read('/during'); // queued until the server is back
  await new Promise((r) => setTimeout(r, 60)); // a few failed attempts
  t.notOk(client.connected);
  const reconnected = next(client, 'reconnected');
  server.handler = okHandler(new Map([['/during', 'back']]));
  await server.listen();
  const [r] = await reconnected;
  t.ok(r.attempts >= 2, `took ${r.attempts} attempts`);
  t.ok(r.downtimeMs >= 50, `downtime ${r.downtimeMs} ms`);
  t.equal(await pending, 'back');
});

t.test('EAGAIN on transaction end is retried by transaction()', async (t) => {
  // Just enough transaction state: writes in a transaction land only when it commits.
  const store = new Map([['/counter', '5']]);
  const txWrites = new Map<number, Map<string, string>>();
  const base = okHandler(store);
  let conflicts = 1;
  const { server, client } = await start(t, (req, conn) => {
    const writes = txWrites.get(req.txId) ?? new Map<string, string>();
    txWrites.set(req.txId, writes);
    if (req.type === XsType.WRITE && req.txId !== 0) {
      const [p = '', v = ''] = req.payload.toString().split('\0');
      writes.set(p, v);
      return conn.reply(req, 'OK\0');
    }
    if (req.type === XsType.TRANSACTION_END) {
      if (strings(req)[0] === 'T' && conflicts > 0) {
        conflicts--;
        return conn.error(req, 'EAGAIN');
      }
      if (strings(req)[0] === 'T') for (const [p, v] of writes) store.set(p, v);
      return conn.reply(req, 'OK\0');
    }
    base(req, conn);
  });
  let runs = 0;
  const v = await client.transaction(async (tx) => {
    runs++;
    const n = Number(await tx.read('/counter'));
    await tx.write('/counter', String(n + 1));
    return n + 1;
  });
  t.equal(v, 6);
  t.equal(runs, 2);
  t.equal(server.requestsOf(XsType.TRANSACTION_END).length, 2);
  t.equal(store.get('/counter'), '6', 'only the committed attempt landed');
});

t.test('slow replies time out; the connection stays usable', async (t) => {
  const base = okHandler(new Map([['/fast', 'f']]));
  const server = await FaultServer.start((req, conn) => {
    if (strings(req)[0] === '/slow') return; // never answered
    base(req, conn);
  });
  const client = await XenstoreClient.open({
    connector: defaultConnector({ socketPath: server.socketPath, devicePath: false }),
    timeoutMs: 80,
  });
  t.teardown(async () => {
    await client.close();
    await server.stop();
  });
  const t0 = Date.now();
  await t.rejects(client.read('/slow'), XsTimeoutError);
  t.ok(Date.now() - t0 >= 75);
  t.equal(await client.read('/fast'), 'f');
});

t.test('oversize frame from the server: XsProtocolError(oversize), reconnect', async (t) => {
  let evil = true;
  const base = okHandler(new Map([['/x', 'x']]));
  const { client } = await start(t, (req, conn) => {
    if (evil && req.type === XsType.READ) {
      evil = false;
      return conn.send(Buffer.concat([rawHeader(XsType.READ, req.reqId, 0, 1 << 20), Buffer.alloc(64)]));
    }
    base(req, conn);
  });
  const reconnected = next(client, 'reconnected');
  const err = (await t.rejects(client.read('/x'), XsProtocolError)) as unknown as XsProtocolError;
  t.equal(err.fault, 'oversize');
  await reconnected;
  t.equal(await client.read('/x'), 'x');
});

t.test('non-UTF-8 value and error payloads are typed errors', async (t) => {
  const { client } = await start(t, (req, conn) => {
    if (strings(req)[0] === '/err') return conn.send(frame(XsType.ERROR, req.reqId, Buffer.from([0xff, 0])));
    conn.reply(req, Buffer.from([0x80, 0x81]));
  });
  t.equal(((await t.rejects(client.read('/bin'), XsProtocolError)) as unknown as XsProtocolError).fault, 'encoding');
  t.same([...(await client.readBytes('/bin'))], [0x80, 0x81]);
  t.equal(((await t.rejects(client.read('/err'), XsProtocolError)) as unknown as XsProtocolError).fault, 'encoding');
  t.ok(client.connected);
});

t.test('payload over 4096 is refused before sending', async (t) => {
  const { server, client } = await start(t);
  await t.rejects(client.write('/big', Buffer.alloc(5000)), XsTooBigError);
  t.equal(server.requests.length, 0);
});
