/**
 * Frames of the xenstore wire protocol as a server reads them off a socket: a
 * 16-byte header (type, req_id, tx_id, len, little-endian u32s) and `len` bytes
 * of payload. Shared by the benchmarks' stand-in xenstoreds.
 */
import type * as net from 'node:net';

export const XS_HEADER_BYTES = 16;

/** Calls `onFrame(buf, off)` for each whole message arriving on `sock`; the payload is at off + 16. */
export function onXsFrames(sock: net.Socket, onFrame: (buf: Buffer, off: number, payloadLength: number) => void): void {
  let pending: Buffer = Buffer.alloc(0);
  sock.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let off = 0;
    while (pending.length - off >= XS_HEADER_BYTES) {
      const len = pending.readUInt32LE(off + 12);
      if (pending.length - off < XS_HEADER_BYTES + len) break;
      onFrame(pending, off, len);
      off += XS_HEADER_BYTES + len;
    }
    pending = off === pending.length ? Buffer.alloc(0) : pending.subarray(off);
  });
}
