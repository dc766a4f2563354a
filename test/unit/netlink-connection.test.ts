import t from 'tap';
import sinon from 'sinon';
import { constants } from 'node:os';
import { NetlinkConnection } from '../../src/netlink/connection.js';
import {
  NetlinkBaseError, NetlinkClosedError, NetlinkDecodeError, NetlinkDumpInterruptedError, NetlinkError, NetlinkListenerError, NetlinkOverrunError,
  NetlinkTimeoutError, NetlinkTransportError,
} from '../../src/netlink/errors.js';
import { VifqError } from '../../src/errors.js';
import { NLMSG_OVERRUN, NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_MULTI, NLM_F_REQUEST, type NlMsg } from '../../src/netlink/wire.js';
import { FakeTransport, ack, done, notification, reply, tick } from '../helpers/genl-fakes.js';

const E = constants.errno;

function setup(timeoutMs = 1000): { tr: FakeTransport; c: NetlinkConnection } {
  const tr = new FakeTransport();
  return { tr, c: new NetlinkConnection(tr, { name: 'test', timeoutMs }) };
}

t.test('do request: flags, seq, replies, ACK', async (t) => {
  const { tr, c } = setup();
  tr.onSend = (m, tt) => tt.deliver(reply(tt, m.seq, 0x20, Buffer.from('abcd')), ack(tt, m.seq));
  const r = (await c.request(0x20, Buffer.from('xyz!'))) as NlMsg[];
  t.equal(r.length, 1);
  t.equal(r[0]?.payload.toString(), 'abcd');
  const s = tr.last();
  t.equal(s.flags, NLM_F_REQUEST | NLM_F_ACK);
  t.not(s.seq, 0);
  t.equal(s.payload.toString(), 'xyz!');
  t.equal(c.pendingCount, 0);
  // seqs differ between requests
  await c.request(0x20, Buffer.alloc(0));
  t.not(tr.sent[1]?.seq, tr.sent[0]?.seq);
});

t.test('kernel error becomes NetlinkError with errno name and extack', async (t) => {
  const { tr, c } = setup();
  tr.onSend = (m, tt) => tt.deliver(ack(tt, m.seq, E.EINVAL, { msg: 'Attribute failed policy validation', offs: 24 }));
  const err = await c.request(0x20, Buffer.alloc(0), { name: 'netdev dev-get' }).catch((e: unknown) => e);
  t.type(err, NetlinkError);
  t.type(err, VifqError);
  const ne = err as NetlinkError;
  t.equal(ne.errno, E.EINVAL);
  t.equal(ne.code, 'EINVAL');
  t.equal(ne.extack.message, 'Attribute failed policy validation');
  t.equal(ne.extack.offset, 24);
  t.match(ne.message, /netdev dev-get failed with EINVAL: Attribute failed policy validation \(attribute at byte 24\)/);
});

t.test('EPERM carries a hint', async (t) => {
  const { tr, c } = setup();
  tr.onSend = (m, tt) => tt.deliver(ack(tt, m.seq, E.EPERM));
  const err = (await c.request(1 << 5, Buffer.alloc(0)).catch((e: unknown) => e)) as NetlinkError;
  t.match(err.hint, /CAP_NET_ADMIN/);
});

t.test('dump: multipart replies across datagrams until DONE', async (t) => {
  const { tr, c } = setup();
  tr.onSend = (m, tt) => {
    setImmediate(() => {
      tt.deliver(reply(tt, m.seq, 0x20, Buffer.from('1'), NLM_F_MULTI), reply(tt, m.seq, 0x20, Buffer.from('2'), NLM_F_MULTI));
      setImmediate(() => tt.deliver(reply(tt, m.seq, 0x20, Buffer.from('3'), NLM_F_MULTI), done(tt, m.seq)));
    });
  };
  const r = (await c.dump(0x20, Buffer.alloc(0), { map: (m) => m.payload.toString() })) as string[];
  t.same(r, ['1', '2', '3']);
  t.equal(tr.last().flags, NLM_F_REQUEST | NLM_F_DUMP);
});

t.test('dump ended by DONE with an error rejects', async (t) => {
  const { tr, c } = setup();
  tr.onSend = (m, tt) => tt.deliver(reply(tt, m.seq, 0x20, Buffer.from('1'), NLM_F_MULTI), done(tt, m.seq, E.EMSGSIZE));
  await t.rejects(c.dump(0x20, Buffer.alloc(0)), NetlinkError);
});

t.test('DUMP_INTR: the dump is repeated, then fails typed', async (t) => {
  const { tr, c } = setup();
  let n = 0;
  tr.onSend = (m, tt) => {
    n++;
    const intr = n < 3 ? NLM_F_DUMP_INTR : 0;
    tt.deliver(reply(tt, m.seq, 0x20, Buffer.from(String(n)), NLM_F_MULTI | intr), done(tt, m.seq, 0, NLM_F_MULTI | intr));
  };
  const r = (await c.dump(0x20, Buffer.alloc(0), { map: (m) => m.payload.toString() })) as string[];
  t.same(r, ['3'], 'third attempt was clean');
  tr.onSend = (m, tt) => tt.deliver(done(tt, m.seq, 0, NLM_F_MULTI | NLM_F_DUMP_INTR));
  await t.rejects(c.dump(0x20, Buffer.alloc(0), { retriesOnInterrupt: 1 }), NetlinkDumpInterruptedError);
});

t.test('every request has a timeout; a late reply is counted as stray', async (t) => {
  const clock = sinon.useFakeTimers();
  t.teardown(() => clock.restore());
  const { tr, c } = setup(250);
  const p = c.request(0x20, Buffer.alloc(0), { name: 'slow op' });
  const p2 = c.request(0x20, Buffer.alloc(0), { timeoutMs: 50 });
  const caught = p.catch((e: unknown) => e);
  const caught2 = p2.catch((e: unknown) => e);
  await clock.tickAsync(60);
  t.type(await caught2, NetlinkTimeoutError, 'per-request timeout');
  await clock.tickAsync(200);
  const err = await caught;
  t.type(err, NetlinkTimeoutError);
  t.match((err as Error).message, /slow op got no answer from the kernel within 250 ms/);
  t.equal(c.pendingCount, 0);
  tr.deliver(ack(tr, tr.sent[0]!.seq));
  t.equal(c.stats.stray, 1);
});

t.test('close rejects pending requests and later ones', async (t) => {
  const { c } = setup();
  const p = c.request(0x20, Buffer.alloc(0));
  const d = c.dump(0x20, Buffer.alloc(0));
  c.close();
  await t.rejects(p, NetlinkClosedError);
  await t.rejects(d, NetlinkClosedError);
  await t.rejects(c.request(0x20, Buffer.alloc(0)), NetlinkClosedError);
  t.throws(() => c.addMembership(1), NetlinkClosedError);
  c.close(); // idempotent
});

t.test('socket closing mid-reply rejects the partial dump', async (t) => {
  const { tr, c } = setup();
  tr.onSend = (m, tt) => setImmediate(() => {
    tt.deliver(reply(tt, m.seq, 0x20, Buffer.from('1'), NLM_F_MULTI));
    tt.peerClose();
  });
  const closed = new Promise((r) => c.once('close', r));
  await t.rejects(c.dump(0x20, Buffer.alloc(0)), NetlinkClosedError);
  await closed;
  t.ok(c.isClosed);
});

t.test('a non-ENOBUFS socket error closes the connection with the cause', async (t) => {
  const { tr, c } = setup();
  const p = c.request(0x20, Buffer.alloc(0));
  tr.fault(E.EBADF, 'poll');
  const err = (await p.catch((e: unknown) => e)) as NetlinkClosedError;
  t.type(err, NetlinkClosedError);
  t.type(err.cause, NetlinkTransportError);
  t.ok(tr.closed);
});

t.test('ENOBUFS is a resync-needed event; the connection keeps working', async (t) => {
  const { tr, c } = setup();
  const overruns: NetlinkOverrunError[] = [];
  c.on('resync-needed', (e) => overruns.push(e));
  tr.fault(E.ENOBUFS);
  tr.deliver(notification(NLMSG_OVERRUN, Buffer.alloc(0)));
  t.equal(overruns.length, 2);
  t.type(overruns[0], NetlinkOverrunError);
  tr.onSend = (m, tt) => tt.deliver(ack(tt, m.seq));
  await c.request(0x20, Buffer.alloc(0));
  t.equal(c.stats.overruns, 2);
});

t.test('notifications are emitted, not taken for replies', async (t) => {
  const { tr, c } = setup();
  const got: NlMsg[] = [];
  c.on('notification', (m) => got.push(m));
  tr.deliver(notification(0x20, Buffer.from('ntf')));
  t.equal(got.length, 1);
  t.equal(got[0]?.payload.toString(), 'ntf');
  t.equal(c.stats.notifications, 1);
});

t.test('truncated and malformed datagrams fail the request they belong to', async (t) => {
  const { tr, c } = setup();
  // header claims 64 bytes, datagram has 24
  tr.onSend = (m, tt) => {
    const b = reply(tt, m.seq, 0x20, Buffer.alloc(8));
    b.writeUInt32LE(64, 0);
    tt.deliver(b);
  };
  const e1 = await c.request(0x20, Buffer.alloc(0)).catch((e: unknown) => e);
  t.type(e1, NetlinkDecodeError);
  t.match((e1 as Error).message, /runs past the end/);
  // the socket cut the datagram (MSG_TRUNC)
  tr.onSend = (m, tt) => tt.deliverTruncated(reply(tt, m.seq, 0x20, Buffer.alloc(8)), 70000);
  const e2 = await c.request(0x20, Buffer.alloc(0)).catch((e: unknown) => e);
  t.type(e2, NetlinkDecodeError);
  t.match((e2 as Error).message, /truncated by the socket: 70000 bytes/);
  // oversized claim on a datagram not tied to any request: event, no crash
  const bad: NetlinkDecodeError[] = [];
  c.on('warning', (e) => bad.push(e as NetlinkDecodeError));
  tr.deliver(Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]));
  const b = Buffer.alloc(16);
  b.writeUInt32LE(8, 0); // nlmsg_len < header
  tr.deliver(b);
  t.equal(bad.length, 2);
  t.equal(c.stats.malformed, 4);
  tr.onSend = (m, tt) => tt.deliver(ack(tt, m.seq));
  await c.request(0x20, Buffer.alloc(0));
});

t.test('a reply whose decoder throws fails that request only', async (t) => {
  const { tr, c } = setup();
  tr.onSend = (m, tt) => tt.deliver(reply(tt, m.seq, 0x20, Buffer.alloc(1)), ack(tt, m.seq));
  await t.rejects(c.request(0x20, Buffer.alloc(0), { map: () => { throw new NetlinkDecodeError('x', 'bad'); } }), NetlinkDecodeError);
  await c.request(0x20, Buffer.alloc(0));
  t.equal(c.pendingCount, 0);
});

t.test('send failure rejects at once', async (t) => {
  const { tr, c } = setup();
  tr.failNextSend = new NetlinkTransportError('sendto: ECONNREFUSED');
  await t.rejects(c.request(0x20, Buffer.alloc(0)), NetlinkTransportError);
  t.equal(c.pendingCount, 0);
  await tick();
});

t.test('a notification listener that throws is a warning, not an exception in the receive callback', async (t) => {
  const { tr, c } = setup();
  const warnings: Error[] = [];
  c.on('warning', (w) => warnings.push(w));
  c.on('notification', () => { throw new Error('listener bug'); });
  t.doesNotThrow(() => tr.deliver(notification(0x20, Buffer.from('ntf!'))));
  t.equal(warnings.length, 1);
  t.type(warnings[0], NetlinkListenerError);
  t.match(warnings[0]?.message, /'notification' listener threw: listener bug/);
  tr.onSend = (m, tt) => tt.deliver(ack(tt, m.seq));
  await c.request(0x20, Buffer.alloc(0));
});

t.test('every netlink error has the one root class', async (t) => {
  for (const e of [new NetlinkError('x', E.EINVAL), new NetlinkTimeoutError('x', 1), new NetlinkClosedError('x'),
    new NetlinkDecodeError('x', 'y'), new NetlinkOverrunError('x'), new NetlinkDumpInterruptedError('x'),
    new NetlinkTransportError('x'), new NetlinkListenerError('x', 'y')]) {
    t.type(e, NetlinkBaseError, e.name);
  }
});

t.test('dumps on one socket go one at a time (the kernel answers a second one with EBUSY)', async (t) => {
  const { tr, c } = setup();
  const seqs: number[] = [];
  tr.onSend = (m) => { seqs.push(m.seq); };
  const a = c.dump(0x20, Buffer.alloc(0));
  const b = c.dump(0x21, Buffer.alloc(0));
  await tick();
  t.equal(tr.sent.length, 1, 'the second dump waits');
  tr.deliver(reply(tr, seqs[0] ?? 0, 0x20, Buffer.from('a'), NLM_F_MULTI), done(tr, seqs[0] ?? 0));
  t.equal((await a).length, 1);
  await tick();
  t.equal(tr.sent.length, 2, 'sent once the first one is done');
  t.equal(tr.last().type, 0x21);
  tr.deliver(done(tr, seqs[1] ?? 0, E.EINVAL));
  await t.rejects(b, NetlinkError);
  tr.onSend = (m, tt) => tt.deliver(done(tt, m.seq));
  t.same(await c.dump(0x22, Buffer.alloc(0)), [], 'a failed dump does not block the queue');
});
