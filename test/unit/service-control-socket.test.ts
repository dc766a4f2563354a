import t from 'tap';
import { connect, type Socket } from 'node:net';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ControlClient, ControlClosedError, ControlConnectError, ControlMethodError, ControlRequestError, ControlServer,
  ControlSocketInUseError, ControlSocketPathError, ControlTimeoutError, type ControlHandlers, type EventSink, type JsonValue,
} from '../../src/service/index.js';
import { VifqError } from '../../src/errors.js';

const base = mkdtempSync(join(tmpdir(), 'vifq-ctl-'));
t.teardown(() => { rmSync(base, { recursive: true, force: true }); });
let nDir = 0;
const freshPath = (): string => join(base, `d${nDir++}`, 'control.sock');

/** A fake daemon's table: status, echo, a slow method, a failing one, and an event stream the test drives. */
function handlers(): { table: ControlHandlers; sinks: Set<EventSink>; stops: { n: number } } {
  const sinks = new Set<EventSink>();
  const stops = { n: 0 };
  const table: ControlHandlers = {
    status: { kind: 'request', handle: () => ({ vifs: 3, uplinks: ['eth0'] }) },
    echo: { kind: 'request', handle: async (params) => params ?? null },
    slow: { kind: 'request', handle: () => new Promise<JsonValue>((resolve) => setTimeout(() => resolve('late'), 300)) },
    'domain.set': {
      kind: 'request',
      handle: (params) => {
        if (typeof params !== 'object' || params === null || Array.isArray(params) || typeof params.domid !== 'number') {
          throw new ControlMethodError('invalid-params', 'domain.set needs {"domid": number}', 'vifq domain set <domid> ...');
        }
        return { ok: true };
      },
    },
    nudge: { kind: 'request', handle: () => { throw new VifqError('xenstore is not reachable', { hint: 'check xenstored' }); } },
    buggy: { kind: 'request', handle: () => { throw new TypeError('undefined is not a function'); } },
    events: {
      kind: 'stream',
      subscribe: (_params, sink) => {
        sinks.add(sink);
        return () => { sinks.delete(sink); stops.n++; };
      },
    },
  };
  return { table, sinks, stops };
}

/** A raw connection that collects lines. */
async function raw(path: string): Promise<{ s: Socket; lines: unknown[]; next: () => Promise<unknown>; closed: Promise<void> }> {
  const s = connect(path);
  await new Promise<void>((resolve, reject) => { s.once('connect', resolve); s.once('error', reject); });
  const lines: unknown[] = [];
  const waiters: Array<(v: unknown) => void> = [];
  let buf = '';
  s.setEncoding('utf8');
  s.on('data', (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const obj: unknown = JSON.parse(buf.slice(0, i));
      buf = buf.slice(i + 1);
      const w = waiters.shift();
      if (w) w(obj); else lines.push(obj);
    }
  });
  s.on('error', () => { /* reset by the server in some tests */ });
  const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
  const next = (): Promise<unknown> => (lines.length > 0 ? Promise.resolve(lines.shift()) : new Promise((resolve) => { waiters.push(resolve); }));
  return { s, lines, next, closed };
}

t.test('socket 0600 in a 0700 directory; removed on close; close idempotent', async (t) => {
  const path = freshPath();
  const { table } = handlers();
  const server = await ControlServer.open({ path, handlers: table });
  t.equal(statSync(path).mode & 0o777, 0o600, 'socket 0600');
  t.ok(lstatSync(path).isSocket());
  t.equal(statSync(join(path, '..')).mode & 0o777, 0o700, 'directory 0700');
  let closes = 0;
  server.on('close', () => { closes++; });
  await Promise.all([server.close(), server.close()]);
  await server.close();
  t.equal(closes, 1);
  t.notOk(existsSync(path), 'socket file removed');
});

t.test('an existing directory open to others is refused and left alone; a non-socket path is refused', async (t) => {
  const path = freshPath();
  const dir = join(path, '..');
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  const open = await ControlServer.open({ path, handlers: {} }).catch((e: unknown) => e);
  t.ok(open instanceof ControlSocketPathError, 'a 0755 directory');
  t.match((open as Error).message, /has mode 0755: others may enter it/);
  t.match((open as ControlSocketPathError).hint, /chmod 0700/);
  t.equal(statSync(dir).mode & 0o777, 0o755, 'not chmod-ed (it might be /tmp)');
  t.notOk(existsSync(path));

  chmodSync(dir, 0o700);
  writeFileSync(path, 'not a socket');
  const err = await ControlServer.open({ path, handlers: {} }).catch((e: unknown) => e);
  t.ok(err instanceof ControlSocketPathError, 'a regular file at the path');
  t.match((err as Error).message, /is not a socket/);
  t.ok(existsSync(path), 'the file was not removed');

  // an existing private directory (systemd's RuntimeDirectory=vifq, 0700) is used as it is
  rmSync(path);
  const s = await ControlServer.open({ path, handlers: {} });
  t.equal(statSync(path).mode & 0o777, 0o600);
  await s.close();
});

t.test('a live socket at the path is refused; a stale one is replaced', async (t) => {
  const path = freshPath();
  const a = await ControlServer.open({ path, handlers: handlers().table });
  const err = await ControlServer.open({ path, handlers: {} }).catch((e: unknown) => e);
  t.ok(err instanceof ControlSocketInUseError, 'live: refused');
  t.match((err as Error).message, /another vifqd/);
  t.ok(existsSync(path), 'the live socket is left alone');
  await a.close();

  // a stale socket: its listener was killed (SIGKILL: nothing unlinked it)
  const stalePath = freshPath();
  mkdirSync(join(stalePath, '..'), { recursive: true, mode: 0o700 });
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stalePath)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
  t.ok(lstatSync(stalePath).isSocket(), 'a stale socket file exists');
  const b = await ControlServer.open({ path: stalePath, handlers: handlers().table });
  const c = await ControlClient.open({ path: stalePath });
  t.same(await c.request('status'), { vifs: 3, uplinks: ['eth0'] }, 'the new server answers');
  await c.close();
  await b.close();
});

t.test('requests and responses by id; errors with code and hint', async (t) => {
  const path = freshPath();
  const server = await ControlServer.open({ path, handlers: handlers().table });
  t.teardown(() => server.close());
  const c = await ControlClient.open({ path });
  t.teardown(() => c.close());
  t.same(await c.request('status'), { vifs: 3, uplinks: ['eth0'] });
  t.same(await c.request('echo', { a: [1, 'x', null] }), { a: [1, 'x', null] });
  // out of order: slow is asked first, answered last
  const [slow, fast] = await Promise.all([c.request('slow'), c.request('echo', 'fast')]);
  t.equal(slow, 'late');
  t.equal(fast, 'fast');
  const missing = await c.request('nope').catch((e: unknown) => e);
  t.ok(missing instanceof ControlRequestError);
  t.equal((missing as ControlRequestError).code, 'method-not-found');
  t.match((missing as Error).message, /known: .*status/);
  const bad = await c.request('domain.set', { domid: 'x' }).catch((e: unknown) => e) as ControlRequestError;
  t.equal(bad.code, 'invalid-params');
  t.equal(bad.hint, 'vifq domain set <domid> ...');
  t.same(await c.request('domain.set', { domid: 3 }), { ok: true });
  const failed = await c.request('nudge').catch((e: unknown) => e) as ControlRequestError;
  t.equal(failed.code, 'failed');
  t.equal(failed.hint, 'check xenstored');
  const warnings: VifqError[] = [];
  server.on('warning', (w) => warnings.push(w));
  const internal = await c.request('buggy').catch((e: unknown) => e) as ControlRequestError;
  t.equal(internal.code, 'internal-error');
  t.match(internal.message, /buggy failed: undefined is not a function/);
  t.equal(warnings.length, 1, 'a non-typed throw is a warning for the log');
  const late = await c.request('slow', null, { timeoutMs: 50 }).catch((e: unknown) => e);
  t.ok(late instanceof ControlTimeoutError, 'per-request timeoutMs');
  t.same(await c.request('status'), { vifs: 3, uplinks: ['eth0'] }, 'the late answer is ignored, the connection goes on');
});

t.test('malformed input: error responses, the connection is kept', async (t) => {
  const path = freshPath();
  const server = await ControlServer.open({ path, handlers: handlers().table });
  t.teardown(() => server.close());
  const r = await raw(path);
  r.s.write('{not json\n');
  t.match(await r.next(), { id: null, error: { code: 'parse-error' } });
  r.s.write('[1,2]\n');
  t.match(await r.next(), { id: null, error: { code: 'invalid-request' } });
  r.s.write('{"id": 7}\n');
  t.match(await r.next(), { id: 7, error: { code: 'invalid-request' } });
  r.s.write('{"id": {"x":1}, "method": "status"}\n');
  t.match(await r.next(), { id: null, error: { code: 'invalid-request' } });
  r.s.write('{"id": 8, "method": "__proto__"}\n');
  t.match(await r.next(), { id: 8, error: { code: 'method-not-found' } });
  r.s.write('\n\n{"id": "a", "method": "sta');
  await new Promise((resolve) => setTimeout(resolve, 20));
  r.s.write('tus"}\n');
  t.same(await r.next(), { id: 'a', result: { vifs: 3, uplinks: ['eth0'] } }, 'a request split over two writes, blank lines skipped');
  r.s.write('{"id":1,"method":"echo","params":"\u00e9"}\n{"id":2,"method":"echo","params":2}\n');
  t.same(await r.next(), { id: 1, result: '\u00e9' });
  t.same(await r.next(), { id: 2, result: 2 });
  r.s.destroy();
});

t.test('an oversized line: an error, then the connection is closed', async (t) => {
  const path = freshPath();
  const server = await ControlServer.open({ path, handlers: handlers().table, maxLineBytes: 1024 });
  t.teardown(() => server.close());
  const warnings: VifqError[] = [];
  server.on('warning', (w) => warnings.push(w));
  const r = await raw(path);
  r.s.write(`{"id":1,"method":"echo","params":"${'x'.repeat(2000)}"}\n`);
  t.match(await r.next(), { id: null, error: { code: 'line-too-long' } });
  t.match(await r.next(), { event: 'dropped', data: { code: 'line-too-long' } });
  await r.closed;
  t.pass('closed');
  // also without any newline (a client streaming garbage)
  const r2 = await raw(path);
  r2.s.write('y'.repeat(1500));
  t.match(await r2.next(), { error: { code: 'line-too-long' } });
  await r2.closed;
  t.equal(warnings.length, 2);
  // a line of exactly the limit is fine
  const r3 = await raw(path);
  const req = `{"id":1,"method":"echo","params":"${'z'.repeat(1024 - 36)}"}`;
  t.equal(Buffer.byteLength(req), 1024);
  r3.s.write(`${req}\n`);
  t.match(await r3.next(), { id: 1 });
  r3.s.destroy();
});

t.test('event stream: subscribe, receive, unsubscribe when the client goes', async (t) => {
  const path = freshPath();
  const h = handlers();
  const server = await ControlServer.open({ path, handlers: h.table });
  t.teardown(() => server.close());
  const c = await ControlClient.open({ path });
  const sub = await c.subscribe('events', { kinds: ['release'] });
  t.equal(h.sinks.size, 1);
  for (const sink of h.sinks) {
    t.equal(sink.send('release', { vifs: 1 }), true);
    sink.send('vif-new', { ifindex: 4 });
  }
  const got: unknown[] = [];
  for await (const ev of sub) {
    got.push(ev);
    if (got.length === 2) break;
  }
  t.same(got, [{ event: 'release', data: { vifs: 1 } }, { event: 'vif-new', data: { ifindex: 4 } }]);
  // break closed the subscription and with it the client's connection
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal(h.sinks.size, 0, 'the producer was stopped');
  t.equal(h.stops.n, 1);
  t.equal(server.connectionCount, 0);
});

t.test('a producer that ends its stream ends the subscription', async (t) => {
  const path = freshPath();
  const h = handlers();
  const server = await ControlServer.open({ path, handlers: h.table });
  t.teardown(() => server.close());
  const c = await ControlClient.open({ path });
  const sub = await c.subscribe('events');
  for (const sink of h.sinks) { sink.send('x', 1); sink.end(); t.equal(sink.send('y', 2), false); }
  const got: unknown[] = [];
  for await (const ev of sub) got.push(ev);
  t.same(got, [{ event: 'x', data: 1 }]);
});

t.test('a client that does not read is dropped from the stream; memory stays bounded', async (t) => {
  const path = freshPath();
  const h = handlers();
  const server = await ControlServer.open({ path, handlers: h.table, maxBufferedBytes: 64 * 1024, dropGraceMs: 200 });
  t.teardown(() => server.close());
  const warnings: VifqError[] = [];
  server.on('warning', (w) => warnings.push(w));
  const r = await raw(path);
  r.s.write('{"id":1,"method":"events"}\n');
  t.same(await r.next(), { id: 1, result: { subscribed: 'events' } });
  r.s.pause(); // stops reading: the kernel buffers fill, then the server's
  const [sink] = [...h.sinks];
  if (!sink) throw new Error('no sink');
  const payload = 'p'.repeat(1000);
  let sent = 0;
  // push until the server gives up on the client (write returns false), with a hard cap
  for (let i = 0; i < 100_000 && sink.send('release', payload); i++) {
    sent++;
    if (i % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  t.ok(sink.closed, 'the sink says closed');
  t.ok(sent < 100_000, `dropped after ${sent} events of 1 KB`);
  t.equal(h.sinks.size, 0, 'the producer was stopped');
  t.match(warnings.map((w) => w.message).join('\n'), /dropped: more than 65536 bytes were waiting/);
  r.s.resume(); // reading again, it finds the end of the connection
  await r.closed;
  t.pass('the connection was closed');
  // the server still serves others
  const c = await ControlClient.open({ path });
  t.same(await c.request('status'), { vifs: 3, uplinks: ['eth0'] });
  await c.close();
});

t.test('the client learns why its stream was dropped', async (t) => {
  const path = freshPath();
  const h = handlers();
  const server = await ControlServer.open({ path, handlers: h.table, maxBufferedBytes: 16 * 1024, dropGraceMs: 2000 });
  t.teardown(() => server.close());
  const c = await ControlClient.open({ path, maxQueuedEvents: 10 });
  const sub = await c.subscribe('events');
  const [sink] = [...h.sinks];
  if (!sink) throw new Error('no sink');
  // the client's queue holds 10, then it stops reading the socket: the server sees backpressure
  for (let i = 0; i < 100_000 && sink.send('e', 'q'.repeat(500)); i++) {
    if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  t.ok(sink.closed, 'dropped');
  let n = 0;
  const err = await (async () => { for await (const _ of sub) n++; })().catch((e: unknown) => e);
  t.ok(n >= 10, `read what was queued (${n})`);
  t.ok(err instanceof ControlClosedError, 'then the reason');
  t.match((err as Error).message, /ended the connection: more than 16384 bytes/);
  t.match((err as ControlClosedError).hint, /read the event stream continuously/);
});

t.test('server close ends streams and tells clients; pending requests reject', async (t) => {
  const path = freshPath();
  const h = handlers();
  const server = await ControlServer.open({ path, handlers: h.table });
  const c = await ControlClient.open({ path });
  const sub = await c.subscribe('events');
  const c2 = await ControlClient.open({ path });
  const pending = c2.request('slow', null, { timeoutMs: 5000 });
  await new Promise((resolve) => setTimeout(resolve, 20));
  await server.close();
  t.equal(h.sinks.size, 0);
  const err = await (async () => { for await (const _ of sub) { /* none */ } })().catch((e: unknown) => e);
  t.ok(err instanceof ControlClosedError);
  t.match((err as Error).message, /vifqd is stopping/);
  const perr = await pending.catch((e: unknown) => e);
  t.ok(perr instanceof ControlClosedError, 'pending request rejected');
  const after = await c2.request('status').catch((e: unknown) => e);
  t.ok(after instanceof ControlClosedError);
  await c.close();
  await c2.close();
});

t.test('client: no daemon -> ControlConnectError with an actionable hint', async (t) => {
  const err = await ControlClient.open({ path: join(base, 'nope', 'control.sock') }).catch((e: unknown) => e);
  t.ok(err instanceof ControlConnectError);
  t.equal((err as ControlConnectError).code, 'ENOENT');
  t.match((err as ControlConnectError).hint, /vifqd is not running/);
  t.equal((err as ControlConnectError).exitCode, 3);
});

t.test('connections over the limit are refused with a line saying why', async (t) => {
  const path = freshPath();
  const server = await ControlServer.open({ path, handlers: handlers().table, maxConnections: 1 });
  t.teardown(() => server.close());
  const a = await raw(path);
  await new Promise((resolve) => setTimeout(resolve, 20));
  const b = await raw(path);
  t.match(await b.next(), { event: 'dropped', data: { code: 'too-many-connections' } });
  await b.closed;
  a.s.write('{"id":1,"method":"status"}\n');
  t.match(await a.next(), { id: 1, result: { vifs: 3 } });
  a.s.destroy();
});

t.test('the client takes answers far over the request line limit (a status of hundreds of vifs)', async (t) => {
  const path = freshPath();
  const big = Array.from({ length: 2000 }, (_, i) => ({ vif: `vif${i}.0`, limitBytes: 3028, why: [{ code: 'budget-share', detail: 'x'.repeat(200) }] }));
  const server = await ControlServer.open({ path, handlers: { status: { kind: 'request', handle: () => ({ vifs: big }) } } });
  t.teardown(() => server.close());
  const c = await ControlClient.open({ path });
  t.teardown(() => c.close());
  const answer = await c.request('status') as { vifs: unknown[] };
  t.ok(JSON.stringify(answer).length > 400 * 1024, `a ${Math.round(JSON.stringify(answer).length / 1024)} KiB line`);
  t.equal(answer.vifs.length, 2000);
  const small = await ControlClient.open({ path, maxLineBytes: 64 * 1024 });
  t.teardown(() => small.close());
  await t.rejects(small.request('status'), 'a client limit still applies when given');
});
