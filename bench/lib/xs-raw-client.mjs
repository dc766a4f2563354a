// The least a Node xenstore client can do per request, as a baseline for
// XenstoreClient: one write of header + payload, replies parsed from the
// socket's chunks and matched by req_id, one promise per request. No
// timeouts, no errors, no watches. Plain JS so that dom0 runs it as is
// (bench/xenstore-rtt.mjs); types in xs-raw-client.d.mts.
import * as net from 'node:net';

const HEADER = 16;
const XS_READ = 2;

export class RawXsClient {
  #nextId = 1;
  #pending = Buffer.alloc(0);
  /** @type {Map<number, (payload: Buffer) => void>} */
  #waiting = new Map();
  /** @type {import('./xs-raw-client.d.mts').RawSocket} */
  #sock;

  /** @param {import('./xs-raw-client.d.mts').RawSocket} sock a net.Socket, or anything with on('data'), write(), destroy() */
  constructor(sock) {
    this.#sock = sock;
    sock.on('data', (chunk) => this.#onData(chunk));
  }

  /** @param {string} path unix socket of xenstored */
  static connect(path) {
    return new Promise((resolve, reject) => {
      const sock = net.createConnection({ path });
      sock.once('error', reject);
      sock.once('connect', () => {
        sock.off('error', reject);
        resolve(new RawXsClient(sock));
      });
    });
  }

  /** XS_READ of `path`: the reply payload (an error reply's too). */
  read(path) {
    const plen = Buffer.byteLength(path);
    const frame = Buffer.allocUnsafe(HEADER + plen + 1);
    const id = this.#nextId++;
    frame.writeUInt32LE(XS_READ, 0);
    frame.writeUInt32LE(id, 4);
    frame.writeUInt32LE(0, 8);
    frame.writeUInt32LE(plen + 1, 12);
    frame.write(path, HEADER);
    frame[HEADER + plen] = 0;
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      this.#sock.write(frame);
    });
  }

  /** @param {Buffer} chunk */
  #onData(chunk) {
    const buf = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    let off = 0;
    while (buf.length - off >= HEADER) {
      const len = buf.readUInt32LE(off + 12);
      if (buf.length - off < HEADER + len) break;
      const id = buf.readUInt32LE(off + 4);
      const payload = Buffer.from(buf.subarray(off + HEADER, off + HEADER + len));
      off += HEADER + len;
      const resolve = this.#waiting.get(id);
      this.#waiting.delete(id);
      resolve?.(payload);
    }
    this.#pending = off === buf.length ? Buffer.alloc(0) : buf.subarray(off);
  }

  close() {
    this.#sock.destroy();
  }
}
