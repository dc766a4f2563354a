/**
 * Test doubles for the xenstore client: an in-memory transport (for fake
 * timers) and a fault-injecting unix-socket server (for the real socket
 * transport). Neither is a xenstored: they answer only what a test scripts,
 * so that drops, delays, oversize and garbage frames can be injected.
 */
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { FrameDecoder, encodeFrame, decodeStrings, type XsFrame } from '../../src/xenstore/codec.js';
import type { XsConnector, XsTransport, XsTransportHandlers } from '../../src/xenstore/transport.js';
import { XsType } from '../../src/xenstore/wire.js';

export function frame(type: number, reqId: number, payload: string | Buffer, txId = 0): Buffer {
  return encodeFrame({ type, reqId, txId, payload: typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload });
}

/** A raw header with any `len`, for oversize and truncation tests. */
export function rawHeader(type: number, reqId: number, txId: number, len: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32LE(type, 0);
  b.writeUInt32LE(reqId, 4);
  b.writeUInt32LE(txId, 8);
  b.writeUInt32LE(len, 12);
  return b;
}

/** Request strings of a frame (payload split on NUL). */
export function strings(f: XsFrame): string[] {
  return decodeStrings(f.payload);
}

/** In-memory transport: records frames sent, lets the test push bytes or close. */
export class FakeTransport implements XsTransport {
  readonly sent: XsFrame[] = [];
  private handlers: XsTransportHandlers | undefined;
  private readonly decoder = new FrameDecoder();
  closed = false;

  constructor(readonly name = 'fake') {}

  start(handlers: XsTransportHandlers): void {
    this.handlers = handlers;
  }

  send(bytes: Buffer): void {
    if (this.closed) return;
    this.sent.push(...this.decoder.push(bytes));
  }

  close(): void {
    this.drop('closed by client');
  }

  /** Bytes from "xenstored". */
  push(bytes: Buffer): void {
    if (!this.closed) this.handlers?.data(bytes);
  }

  /** Replies to a sent request with the same type and req_id. */
  reply(req: XsFrame, payload: string | Buffer, type = req.type): void {
    this.push(frame(type, req.reqId, payload, req.txId));
  }

  error(req: XsFrame, name: string): void {
    this.reply(req, `${name}\0`, XsType.ERROR);
  }

  /** The connection ends (xenstored died). */
  drop(reason = 'closed by peer'): void {
    if (this.closed) return;
    this.closed = true;
    this.handlers?.close(reason);
  }

  last(): XsFrame {
    const f = this.sent[this.sent.length - 1];
    if (!f) throw new Error('nothing sent');
    return f;
  }
}

/** A connector handing out FakeTransports; `failNext` makes connects fail. */
export class FakeConnector {
  readonly transports: FakeTransport[] = [];
  failNext = 0;
  attempts = 0;

  readonly connect: XsConnector = async () => {
    this.attempts++;
    if (this.failNext > 0) {
      this.failNext--;
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    }
    const t = new FakeTransport(`fake#${this.transports.length + 1}`);
    this.transports.push(t);
    return t;
  };

  get current(): FakeTransport {
    const t = this.transports[this.transports.length - 1];
    if (!t) throw new Error('no transport yet');
    return t;
  }
}

/** Lets pending promise callbacks run (a few microtask turns). */
export async function flush(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await Promise.resolve();
}

export type FaultHandler = (req: XsFrame, conn: FaultConn) => void;

export interface FaultConn {
  socket: net.Socket;
  send(bytes: Buffer): void;
  reply(req: XsFrame, payload: string | Buffer, type?: number): void;
  error(req: XsFrame, name: string): void;
  /** Ends the connection abruptly. */
  kill(): void;
}

/**
 * A unix-socket server that decodes requests and hands each to the test's
 * handler, which decides what (if anything) goes back.
 */
export class FaultServer {
  readonly requests: XsFrame[] = [];
  readonly conns: FaultConn[] = [];
  private server: net.Server | undefined;

  private constructor(
    readonly socketPath: string,
    public handler: FaultHandler,
  ) {}

  static async start(handler: FaultHandler, socketPath?: string): Promise<FaultServer> {
    const p = socketPath ?? path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vifq-xs-')), 'socket');
    if (!socketPath) process.once('exit', () => fs.rmSync(path.dirname(p), { recursive: true, force: true }));
    const s = new FaultServer(p, handler);
    await s.listen();
    return s;
  }

  async listen(): Promise<void> {
    const server = net.createServer((socket) => {
      const decoder = new FrameDecoder();
      const conn: FaultConn = {
        socket,
        send: (b) => {
          if (!socket.destroyed) socket.write(b);
        },
        reply: (req, payload, type = req.type) => conn.send(frame(type, req.reqId, payload, req.txId)),
        error: (req, name) => conn.send(frame(XsType.ERROR, req.reqId, `${name}\0`, req.txId)),
        kill: () => socket.destroy(),
      };
      this.conns.push(conn);
      socket.on('error', () => undefined);
      socket.on('data', (chunk: Buffer) => {
        for (const f of decoder.push(chunk)) {
          this.requests.push(f);
          this.handler(f, conn);
        }
        if (decoder.error) socket.destroy(); // what xenstored does to a bad client
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => resolve());
    });
  }

  /** Stops listening, kills every connection, removes the socket (xenstored died). */
  async stop(): Promise<void> {
    for (const c of this.conns) c.kill();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    fs.rmSync(this.socketPath, { force: true });
  }

  requestsOf(type: number): XsFrame[] {
    return this.requests.filter((r) => r.type === type);
  }
}

/** A handler that acks everything with `OK` and serves reads from a map (no semantics beyond that). */
export function okHandler(values: Map<string, string> = new Map()): FaultHandler {
  let tx = 0;
  return (req, conn) => {
    const [p = ''] = strings(req);
    switch (req.type) {
      case XsType.READ: {
        const v = values.get(p);
        return v === undefined ? conn.error(req, 'ENOENT') : conn.reply(req, v);
      }
      case XsType.WRITE:
        values.set(p, req.payload.subarray(Buffer.byteLength(p) + 1).toString());
        return conn.reply(req, 'OK\0');
      case XsType.TRANSACTION_START:
        return conn.reply(req, `${++tx}\0`);
      case XsType.DIRECTORY: {
        const kids = new Set<string>();
        for (const k of values.keys()) if (k.startsWith(`${p}/`)) kids.add(k.slice(p.length + 1).split('/')[0] ?? '');
        return conn.reply(req, [...kids].map((k) => `${k}\0`).join(''));
      }
      default:
        return conn.reply(req, 'OK\0');
    }
  };
}
