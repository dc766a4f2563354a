/**
 * Pure codec for xenstore frames: a 16-byte little-endian header
 * `{type, req_id, tx_id, len}` and `len` bytes of payload. No I/O here.
 */
import { XsProtocolError, XsTooBigError, XsInvalidError, type XsRequestContext } from './errors.js';
import { XENSTORE_PAYLOAD_MAX, XS_HEADER_SIZE, xsTypeName } from './wire.js';

export interface XsHeader {
  type: number;
  reqId: number;
  txId: number;
  len: number;
}

export interface XsFrame {
  type: number;
  reqId: number;
  txId: number;
  payload: Buffer;
}

const UINT32_MAX = 0xffffffff;

function checkUint32(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > UINT32_MAX) {
    throw new RangeError(`xenstore frame ${name} must be a uint32, got ${v}`);
  }
}

/** Header + payload, ready to write. Throws `XsTooBigError` past XENSTORE_PAYLOAD_MAX. */
export function encodeFrame(frame: XsFrame, ctx: XsRequestContext = {}): Buffer {
  checkUint32('type', frame.type);
  checkUint32('req_id', frame.reqId);
  checkUint32('tx_id', frame.txId);
  const len = frame.payload.length;
  if (len > XENSTORE_PAYLOAD_MAX) {
    throw new XsTooBigError(
      { op: ctx.op ?? xsTypeName(frame.type), ...(ctx.path !== undefined ? { path: ctx.path } : {}) },
      { detail: `payload of ${len} bytes exceeds ${XENSTORE_PAYLOAD_MAX}; not sent` },
    );
  }
  const out = Buffer.allocUnsafe(XS_HEADER_SIZE + len);
  out.writeUInt32LE(frame.type, 0);
  out.writeUInt32LE(frame.reqId, 4);
  out.writeUInt32LE(frame.txId, 8);
  out.writeUInt32LE(len, 12);
  frame.payload.copy(out, XS_HEADER_SIZE);
  return out;
}

/**
 * A whole request frame from its payload parts (as `encodePayload`), written
 * into one buffer: what the client sends for every request. Same bytes as
 * `encodeFrame` of `encodePayload`; throws `XsTooBigError` with
 * `tooBigDetail(len)` as its detail when the payload is over XENSTORE_PAYLOAD_MAX.
 */
export function encodeRequest(
  type: number,
  reqId: number,
  txId: number,
  parts: ReadonlyArray<string | Uint8Array>,
  lastBare: boolean,
  ctx: XsRequestContext,
  tooBigDetail: (len: number) => string,
): Buffer {
  checkUint32('type', type);
  checkUint32('req_id', reqId);
  checkUint32('tx_id', txId);
  const n = parts.length;
  let len = lastBare && n > 0 ? n - 1 : n; // the NULs
  for (let i = 0; i < n; i++) {
    const p = parts[i] as string | Uint8Array;
    len += typeof p === 'string' ? Buffer.byteLength(p, 'utf8') : p.byteLength;
  }
  if (len > XENSTORE_PAYLOAD_MAX) throw new XsTooBigError(ctx, { detail: tooBigDetail(len) });
  const out = Buffer.allocUnsafe(XS_HEADER_SIZE + len);
  out.writeUInt32LE(type, 0);
  out.writeUInt32LE(reqId, 4);
  out.writeUInt32LE(txId, 8);
  out.writeUInt32LE(len, 12);
  let off = XS_HEADER_SIZE;
  for (let i = 0; i < n; i++) {
    const p = parts[i] as string | Uint8Array;
    if (typeof p === 'string') off += out.write(p, off, 'utf8');
    else {
      out.set(p, off);
      off += p.byteLength;
    }
    if (!(lastBare && i === n - 1)) out[off++] = 0;
  }
  return out;
}

/** Reads a header from the first 16 bytes of `buf` (no length check on `len`). */
export function decodeHeader(buf: Buffer, offset = 0): XsHeader {
  if (buf.length - offset < XS_HEADER_SIZE) {
    throw new XsProtocolError('truncated', `xenstore header needs ${XS_HEADER_SIZE} bytes, got ${buf.length - offset}`);
  }
  return {
    type: buf.readUInt32LE(offset),
    reqId: buf.readUInt32LE(offset + 4),
    txId: buf.readUInt32LE(offset + 8),
    len: buf.readUInt32LE(offset + 12),
  };
}

/** Decodes exactly one whole frame; anything else is an `XsProtocolError`. */
export function decodeFrame(buf: Buffer): XsFrame {
  const decoder = new FrameDecoder();
  const frames = decoder.push(buf);
  if (decoder.error) throw decoder.error;
  const [only] = frames;
  if (frames.length !== 1 || only === undefined || decoder.pendingBytes !== 0) {
    throw new XsProtocolError(
      frames.length === 0 ? 'truncated' : 'malformed',
      `expected exactly one whole xenstore frame in ${buf.length} bytes, got ${frames.length} and ${decoder.pendingBytes} extra bytes`,
    );
  }
  return only;
}

const EMPTY: Buffer = Buffer.alloc(0);

/**
 * Incremental frame parser. `push()` returns every frame completed by the
 * chunk and keeps a partial tail. A header whose `len` exceeds
 * XENSTORE_PAYLOAD_MAX means the stream has lost sync: `push()` returns the
 * frames before it, sets `error` (an `XsProtocolError('oversize')`), and
 * every later `push()` throws that error until `reset()`. Callers check
 * `error` after each push.
 */
export class FrameDecoder {
  private buf: Buffer = EMPTY;
  private failed: XsProtocolError | undefined;

  constructor(private readonly maxPayload = XENSTORE_PAYLOAD_MAX) {}

  /** Bytes held of a frame not yet complete. */
  get pendingBytes(): number {
    return this.buf.length;
  }

  /** Set once the stream lost sync (see the class comment). */
  get error(): XsProtocolError | undefined {
    return this.failed;
  }

  push(chunk: Buffer): XsFrame[] {
    if (this.failed) throw this.failed;
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk], this.buf.length + chunk.length);
    const buf = this.buf;
    const frames: XsFrame[] = [];
    let off = 0;
    while (buf.length - off >= XS_HEADER_SIZE) {
      const len = buf.readUInt32LE(off + 12);
      if (len > this.maxPayload) {
        const type = buf.readUInt32LE(off);
        this.failed = new XsProtocolError(
          'oversize',
          `xenstore frame (${xsTypeName(type)}, req_id ${buf.readUInt32LE(off + 4)}) announces ${len} payload bytes, over the limit of ${this.maxPayload}`,
        );
        this.buf = EMPTY;
        return frames;
      }
      const end = off + XS_HEADER_SIZE + len;
      if (buf.length < end) break;
      // Copy: callers may keep payloads while the socket reuses its buffers.
      const payload = Buffer.allocUnsafe(len);
      buf.copy(payload, 0, off + XS_HEADER_SIZE, end);
      frames.push({ type: buf.readUInt32LE(off), reqId: buf.readUInt32LE(off + 4), txId: buf.readUInt32LE(off + 8), payload });
      off = end;
    }
    // Keep only the partial tail (a copy, for the same reason).
    if (off === buf.length) this.buf = EMPTY;
    else if (off > 0) this.buf = Buffer.from(buf.subarray(off));
    return frames;
  }

  reset(): void {
    this.buf = EMPTY;
    this.failed = undefined;
  }
}

// ---- payloads ----

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Strict UTF-8 decode; invalid bytes are an `XsProtocolError('encoding')`. */
export function decodeUtf8(bytes: Uint8Array, ctx: XsRequestContext = {}): string {
  try {
    return utf8.decode(bytes);
  } catch (cause) {
    throw new XsProtocolError('encoding', `xenstore payload of ${bytes.length} bytes is not valid UTF-8`, ctx, { cause });
  }
}

/**
 * Request payload: each part followed by a NUL, except that the last part is
 * left bare when `lastBare` (XS_WRITE's value is raw bytes without a NUL).
 */
export function encodePayload(parts: ReadonlyArray<string | Uint8Array>, lastBare = false): Buffer {
  const bufs: Buffer[] = [];
  parts.forEach((p, i) => {
    bufs.push(typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p.buffer, p.byteOffset, p.byteLength));
    if (!(lastBare && i === parts.length - 1)) bufs.push(NUL);
  });
  return Buffer.concat(bufs);
}
const NUL = Buffer.from([0]);

/**
 * A `<string>|*` reply: NUL-terminated strings. A missing final NUL is
 * tolerated; an empty payload is no strings.
 */
export function decodeStrings(payload: Buffer, ctx: XsRequestContext = {}): string[] {
  if (payload.length === 0) return [];
  const text = decodeUtf8(payload, ctx);
  const parts = text.split('\0');
  if (text.endsWith('\0')) parts.pop();
  return parts;
}

/** Checks a path or token the client is about to send: non-empty, no NUL. */
export function checkWireString(what: string, s: string, ctx: XsRequestContext = {}): void {
  if (s.length === 0 || s.includes('\0')) {
    throw new XsInvalidError(ctx, { detail: `${what} ${JSON.stringify(s)} is empty or contains a NUL; not sent` });
  }
}

export interface XsWatchEventPayload {
  path: string;
  token: string;
}

/** `XS_WATCH_EVENT` payload `<epath>|<token>|`. */
export function decodeWatchEvent(payload: Buffer): XsWatchEventPayload {
  const parts = decodeStrings(payload, { op: 'XS_WATCH_EVENT' });
  const [path, token] = parts;
  if (parts.length < 2 || path === undefined || token === undefined) {
    throw new XsProtocolError('malformed', `XS_WATCH_EVENT payload has ${parts.length} strings, expected <path>|<token>|`, {
      op: 'XS_WATCH_EVENT',
    });
  }
  return { path, token };
}
