import t from 'tap';
import fc from 'fast-check';
import {
  FrameDecoder,
  decodeFrame,
  decodeHeader,
  decodeStrings,
  decodeUtf8,
  decodeWatchEvent,
  encodeFrame,
  encodePayload,
  encodeRequest,
  type XsFrame,
} from '../../src/xenstore/codec.js';
import { XsProtocolError, XsTooBigError } from '../../src/xenstore/errors.js';
import { XENSTORE_PAYLOAD_MAX, XS_HEADER_SIZE, XsType, xsTypeName } from '../../src/xenstore/wire.js';
import { rawHeader } from '../helpers/xenstore-fakes.js';

t.test('wire constants match xs_wire.h', async (t) => {
  t.equal(XsType.DIRECTORY, 1);
  t.equal(XsType.READ, 2);
  t.equal(XsType.WATCH_EVENT, 15);
  t.equal(XsType.ERROR, 16);
  t.equal(XsType.SET_TARGET, 19);
  t.equal(XsType.RESET_WATCHES, 21);
  t.equal(XsType.DIRECTORY_PART, 22);
  t.equal(XsType.INVALID, 0xffff);
  t.equal(XENSTORE_PAYLOAD_MAX, 4096);
  t.equal(XS_HEADER_SIZE, 16);
  t.equal(xsTypeName(2), 'XS_READ');
  t.equal(xsTypeName(20), 'type 20');
});

t.test('encodeFrame writes a little-endian header then the payload', async (t) => {
  const b = encodeFrame({ type: XsType.READ, reqId: 0x01020304, txId: 7, payload: Buffer.from('/a\0') });
  t.same([...b.subarray(0, 16)], [2, 0, 0, 0, 4, 3, 2, 1, 7, 0, 0, 0, 3, 0, 0, 0]);
  t.equal(b.subarray(16).toString(), '/a\0');
  t.same(decodeHeader(b), { type: 2, reqId: 0x01020304, txId: 7, len: 3 });
});

t.test('round trip of one frame, including empty and maximal payloads', async (t) => {
  for (const len of [0, 1, 4095, 4096]) {
    const f: XsFrame = { type: XsType.WRITE, reqId: 0xffffffff, txId: 0xfffffffe, payload: Buffer.alloc(len, 0x61) };
    t.same(decodeFrame(encodeFrame(f)), f, `len ${len}`);
  }
});

t.test('encodeFrame refuses a payload over 4096 bytes with an E2BIG-typed error', async (t) => {
  const err = t.throws(() => encodeFrame({ type: XsType.WRITE, reqId: 1, txId: 0, payload: Buffer.alloc(4097) }, { path: '/x' }));
  t.type(err, XsTooBigError);
  t.equal((err as XsTooBigError).code, 'E2BIG');
  t.equal((err as XsTooBigError).errno, 7);
  t.match((err as Error).message, /XS_WRITE \/x failed with E2BIG: payload of 4097 bytes exceeds 4096/);
});

t.test('encodeFrame rejects header fields that are not uint32', async (t) => {
  t.throws(() => encodeFrame({ type: -1, reqId: 1, txId: 0, payload: Buffer.alloc(0) }), RangeError);
  t.throws(() => encodeFrame({ type: 1, reqId: 2 ** 32, txId: 0, payload: Buffer.alloc(0) }), RangeError);
  t.throws(() => encodeFrame({ type: 1, reqId: 1, txId: 0.5, payload: Buffer.alloc(0) }), RangeError);
});

t.test('FrameDecoder assembles frames fed one byte at a time', async (t) => {
  const a = encodeFrame({ type: XsType.READ, reqId: 1, txId: 0, payload: Buffer.from('value') });
  const b = encodeFrame({ type: XsType.WATCH_EVENT, reqId: 0, txId: 0, payload: Buffer.from('/p\0tok\0') });
  const all = Buffer.concat([a, b]);
  const d = new FrameDecoder();
  const out: XsFrame[] = [];
  for (let i = 0; i < all.length; i++) {
    out.push(...d.push(all.subarray(i, i + 1)));
    if (i < a.length - 1) t.equal(out.length, 0);
  }
  t.equal(out.length, 2);
  t.equal(out[0]?.payload.toString(), 'value');
  t.equal(out[1]?.type, XsType.WATCH_EVENT);
  t.equal(d.pendingBytes, 0);
});

t.test('FrameDecoder returns several frames from one chunk and keeps a partial tail', async (t) => {
  const f = (n: number) => encodeFrame({ type: XsType.READ, reqId: n, txId: 0, payload: Buffer.from(`v${n}`) });
  const d = new FrameDecoder();
  const chunk = Buffer.concat([f(1), f(2), f(3).subarray(0, 10)]);
  t.same(d.push(chunk).map((x) => x.reqId), [1, 2]);
  t.equal(d.pendingBytes, 10);
  t.same(d.push(f(3).subarray(10)).map((x) => x.reqId), [3]);
});

t.test('payloads are copies, not views of the caller buffer', async (t) => {
  const buf = encodeFrame({ type: XsType.READ, reqId: 1, txId: 0, payload: Buffer.from('abc') });
  const [fr] = new FrameDecoder().push(buf);
  buf.fill(0);
  t.equal(fr?.payload.toString(), 'abc');
});

t.test('an oversize header fails the decoder after the good frames before it', async (t) => {
  const good = encodeFrame({ type: XsType.READ, reqId: 1, txId: 0, payload: Buffer.from('ok') });
  const d = new FrameDecoder();
  const frames = d.push(Buffer.concat([good, rawHeader(XsType.READ, 2, 0, 4097)]));
  t.equal(frames.length, 1);
  t.type(d.error, XsProtocolError);
  t.equal(d.error?.fault, 'oversize');
  t.match(d.error?.message, /announces 4097 payload bytes, over the limit of 4096/);
  const again = t.throws(() => d.push(Buffer.from('more')));
  t.equal(again, d.error, 'stays failed');
  d.reset();
  t.equal(d.push(good).length, 1, 'usable after reset');
});

t.test('decodeFrame rejects truncated, trailing and oversize input', async (t) => {
  const good = encodeFrame({ type: XsType.READ, reqId: 1, txId: 0, payload: Buffer.from('ok') });
  const short = t.throws(() => decodeFrame(good.subarray(0, good.length - 1)));
  t.equal((short as XsProtocolError).fault, 'truncated');
  t.equal((t.throws(() => decodeFrame(good.subarray(0, 5))) as XsProtocolError).fault, 'truncated');
  t.equal((t.throws(() => decodeFrame(Buffer.concat([good, Buffer.from([1])]))) as XsProtocolError).fault, 'malformed');
  t.equal((t.throws(() => decodeFrame(rawHeader(2, 1, 0, 0xffffffff))) as XsProtocolError).fault, 'oversize');
  t.throws(() => decodeHeader(Buffer.alloc(15)), XsProtocolError);
});

t.test('payload helpers', async (t) => {
  t.equal(encodePayload(['/a', 'tok']).toString('latin1'), '/a\0tok\0');
  t.equal(encodePayload(['/a', 'v']).length, 5);
  t.equal(encodePayload(['/a', 'v'], true).toString('latin1'), '/a\0v');
  t.equal(encodePayload(['/a', Buffer.from([0, 255])], true).toString('hex'), '2f610000ff');
  t.equal(encodePayload(['']).toString('hex'), '00');
  t.same(decodeStrings(Buffer.from('a\0b\0')), ['a', 'b']);
  t.same(decodeStrings(Buffer.from('a\0b')), ['a', 'b'], 'missing final NUL tolerated');
  t.same(decodeStrings(Buffer.alloc(0)), []);
  t.same(decodeStrings(Buffer.from('\0')), ['']);
  t.equal(decodeUtf8(Buffer.from('héllo')), 'héllo');
});

t.test('non-UTF-8 payloads are XsProtocolError(encoding), with the request context', async (t) => {
  const bad = Buffer.from([0x2f, 0xff, 0xfe, 0x00]);
  const e1 = t.throws(() => decodeStrings(bad, { op: 'XS_DIRECTORY', path: '/x' })) as XsProtocolError;
  t.type(e1, XsProtocolError);
  t.equal(e1.fault, 'encoding');
  t.equal(e1.path, '/x');
  t.equal((t.throws(() => decodeUtf8(Buffer.from([0xc3]))) as XsProtocolError).fault, 'encoding', 'truncated sequence');
  t.equal((t.throws(() => decodeUtf8(Buffer.from([0xed, 0xa0, 0x80]))) as XsProtocolError).fault, 'encoding', 'surrogate');
});

t.test('decodeWatchEvent', async (t) => {
  t.same(decodeWatchEvent(Buffer.from('/local/domain/1\0vifq:1\0')), { path: '/local/domain/1', token: 'vifq:1' });
  t.equal((t.throws(() => decodeWatchEvent(Buffer.from('/only\0'))) as XsProtocolError).fault, 'malformed');
  t.equal((t.throws(() => decodeWatchEvent(Buffer.alloc(0))) as XsProtocolError).fault, 'malformed');
  t.equal((t.throws(() => decodeWatchEvent(Buffer.from([0x80, 0, 0x41, 0]))) as XsProtocolError).fault, 'encoding');
});

// ---- properties ----

const frameArb = fc.record({
  type: fc.integer({ min: 0, max: 0xffffffff }),
  reqId: fc.integer({ min: 0, max: 0xffffffff }),
  txId: fc.integer({ min: 0, max: 0xffffffff }),
  payload: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
});

t.test('property: frames split at arbitrary points decode to the frames encoded', async (t) => {
  fc.assert(
    fc.property(fc.array(frameArb, { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 8 }), (frames, cuts) => {
      const all = Buffer.concat(frames.map((f) => encodeFrame(f)));
      const points = [...new Set(cuts.map((c) => (all.length ? c % all.length : 0)))].sort((a, b) => a - b);
      const d = new FrameDecoder();
      const out: XsFrame[] = [];
      let prev = 0;
      for (const p of [...points, all.length]) {
        out.push(...d.push(all.subarray(prev, p)));
        prev = p;
      }
      return d.error === undefined && d.pendingBytes === 0 && JSON.stringify(out) === JSON.stringify(frames);
    }),
    { numRuns: 200 },
  );
});

t.test('property: random bytes never crash the decoder or yield an oversize frame', async (t) => {
  let oversize = 0;
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
      const d = new FrameDecoder();
      let consumed = 0;
      let got = 0;
      for (const c of chunks) {
        try {
          const frames = d.push(Buffer.from(c));
          for (const f of frames) {
            if (f.payload.length > XENSTORE_PAYLOAD_MAX) return false;
            got += XS_HEADER_SIZE + f.payload.length;
          }
        } catch (err) {
          return err instanceof XsProtocolError && d.error === err;
        }
        consumed += c.length;
        if (d.error) {
          oversize++;
          return d.error.fault === 'oversize';
        }
        // Bytes in = bytes of frames out + the tail held.
        if (got + d.pendingBytes !== consumed) return false;
      }
      return true;
    }),
    { numRuns: 500 },
  );
  t.ok(oversize > 0, `random headers hit the oversize check (${oversize} times)`);
});

t.test('property: random payloads make payload decoders throw only XsProtocolError', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const b = Buffer.from(bytes);
      for (const fn of [() => decodeStrings(b), () => decodeWatchEvent(b), () => decodeFrame(b)]) {
        try {
          fn();
        } catch (err) {
          if (!(err instanceof XsProtocolError)) return false;
        }
      }
      return true;
    }),
    { numRuns: 500 },
  );
  t.pass();
});

t.test('property: encodePayload/decodeStrings round trip for NUL-free strings', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.string({ unit: 'grapheme' }).filter((s) => !s.includes('\0')), { minLength: 1, maxLength: 6 }), (parts) => {
      return JSON.stringify(decodeStrings(encodePayload(parts))) === JSON.stringify(parts);
    }),
    { numRuns: 200 },
  );
  t.pass();
});

t.test('property: encodeRequest writes the same bytes as encodeFrame(encodePayload(...))', async (t) => {
  const part = fc.oneof(fc.string({ unit: 'binary' }), fc.uint8Array({ maxLength: 40 }));
  const detail = (len: number): string => `detail ${len}`;
  fc.assert(
    fc.property(
      fc.array(part, { maxLength: 5 }),
      fc.boolean(),
      fc.nat({ max: 0xffffffff }),
      fc.nat({ max: 0xffffffff }),
      (parts, lastBare, reqId, txId) => {
        const expected = encodeFrame({ type: XsType.WRITE, reqId, txId, payload: encodePayload(parts, lastBare) });
        return encodeRequest(XsType.WRITE, reqId, txId, parts, lastBare, {}, detail).equals(expected);
      },
    ),
    { numRuns: 500 },
  );
  // lone surrogates are written as U+FFFD by both
  t.same(encodeRequest(XsType.READ, 1, 0, ['\ud800x'], false, {}, detail), encodeFrame({ type: XsType.READ, reqId: 1, txId: 0, payload: encodePayload(['\ud800x']) }));
  const ctx = { op: 'XS_WRITE', path: '/a' };
  t.doesNotThrow(() => encodeRequest(XsType.WRITE, 1, 0, ['/a', 'x'.repeat(XENSTORE_PAYLOAD_MAX - 3)], true, ctx, detail));
  const err = t.throws(() => encodeRequest(XsType.WRITE, 1, 0, ['/a', 'x'.repeat(XENSTORE_PAYLOAD_MAX - 2)], true, ctx, detail)) as XsTooBigError;
  t.ok(err instanceof XsTooBigError);
  t.match(err.message, /detail 4097/);
  t.equal(err.path, '/a');
  t.throws(() => encodeRequest(XsType.READ, -1, 0, ['/a'], false, {}, detail), RangeError);
  t.throws(() => encodeRequest(XsType.READ, 1, 2 ** 32, ['/a'], false, {}, detail), RangeError);
});
