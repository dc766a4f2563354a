/**
 * A minimal xenstore-speaking unix-socket server for host-side benchmarks: it
 * parses request frames and answers each at once, with no store behind it.
 * XS_READ gets `value`, anything else `OK\0`. Each reply goes out in one
 * write, or (with `splitReplies`) header and payload in two writes, the way
 * C xenstored's write_messages() sends them.
 *
 * Run on its own (the benchmark does this, so that the server does not share
 * the client's event loop, like xenstored):
 *   node --import tsx bench/lib/xs-echo-server.ts <socket> [--split] [--value-bytes N]
 * It prints `ready` on stdout once it listens and exits when stdin closes.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import { XS_HEADER_BYTES as HEADER, onXsFrames } from './xs-frames.js';

const XS_READ = 2;

export interface EchoServerOptions {
  /** Value returned by XS_READ (default 32 × 'x'). */
  value?: Buffer;
  splitReplies?: boolean;
}

const OK = Buffer.from('OK\0');

/** The reply to the request whose header is at `off` in `buf`: `value` for XS_READ, else `OK\0`. */
export function echoReply(buf: Buffer, off: number, value: Buffer): Buffer {
  const body = buf.readUInt32LE(off) === XS_READ ? value : OK;
  const reply = Buffer.allocUnsafe(HEADER + body.length);
  buf.copy(reply, 0, off, off + 12); // type, req_id, tx_id
  reply.writeUInt32LE(body.length, 12);
  body.copy(reply, HEADER);
  return reply;
}

export function startEchoServer(socketPath: string, options: EchoServerOptions = {}): Promise<net.Server> {
  const value = options.value ?? Buffer.from('x'.repeat(32));
  const split = options.splitReplies ?? false;
  fs.rmSync(socketPath, { force: true });
  const server = net.createServer((sock) => {
    sock.on('error', () => undefined);
    onXsFrames(sock, (buf, off) => {
      const reply = echoReply(buf, off, value);
      if (split) {
        sock.write(reply.subarray(0, HEADER));
        sock.write(reply.subarray(HEADER));
      } else {
        sock.write(reply);
      }
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve(server));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const socketPath = process.argv[2];
  if (!socketPath) throw new Error('usage: xs-echo-server.ts <socket> [--split] [--value-bytes N]');
  const vb = process.argv.indexOf('--value-bytes');
  const server = await startEchoServer(socketPath, {
    splitReplies: process.argv.includes('--split'),
    ...(vb > 0 ? { value: Buffer.alloc(Number(process.argv[vb + 1]), 0x78) } : {}),
  });
  process.stdout.write('ready\n');
  process.stdin.resume();
  process.stdin.on('close', () => {
    server.close();
    fs.rmSync(socketPath, { force: true });
    process.exit(0);
  });
}
