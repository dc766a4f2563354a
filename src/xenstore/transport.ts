/**
 * The transport seam: a duplex byte stream to xenstored. The client knows
 * only this interface, so tests can hand it a fake that drops, delays or
 * corrupts bytes. Real transports: a unix socket to xenstored, or the
 * kernel's /dev/xen/xenbus device.
 */
import { promises as fsp, constants as fsConstants } from 'node:fs';
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { XsConnectError } from './errors.js';
import { XENBUS_DEVICE_PATH, XENSTORED_SOCKET_PATH } from './wire.js';

export interface XsTransportHandlers {
  /** Bytes from xenstored, in order, in chunks of any size. */
  data(chunk: Buffer): void;
  /** The stream ended (EOF, error, or close()). Called at most once. */
  close(reason: string, error?: Error): void;
}

export interface XsTransport {
  /** Where it is connected, for messages: a socket path or a device path. */
  readonly name: string;
  /** Starts delivering data; called once, right after the connector resolves. */
  start(handlers: XsTransportHandlers): void;
  /** Queues bytes for xenstored (whole frames; order is kept). */
  send(bytes: Buffer): void;
  /** Ends the stream; `handlers.close` follows. Idempotent. */
  close(): void;
}

/** Opens a new transport; the client calls it again to reconnect. */
export type XsConnector = () => Promise<XsTransport>;

/** Adapts any Node duplex stream (a `net.Socket`, or a test's fake) to a transport. */
export class DuplexTransport implements XsTransport {
  private handlers: XsTransportHandlers | undefined;
  private ended = false;
  private lastError: Error | undefined;

  constructor(
    private readonly stream: Duplex,
    readonly name: string,
  ) {}

  start(handlers: XsTransportHandlers): void {
    this.handlers = handlers;
    this.stream.on('data', (chunk: Buffer | string) => {
      if (!this.ended) handlers.data(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    });
    this.stream.on('error', (err: Error) => {
      this.lastError = err;
    });
    this.stream.on('close', () => this.finish(this.lastError ? `error: ${this.lastError.message}` : 'closed by peer'));
    this.stream.on('end', () => {
      // Half-close from xenstored: nothing more will come, so treat as closed.
      this.finish('closed by peer');
      this.stream.destroy();
    });
    if (this.stream.destroyed) this.finish('closed before start');
  }

  send(bytes: Buffer): void {
    if (this.ended || this.stream.destroyed) return; // close() is on its way to the handlers
    // Requests made in one go (a node's value, permissions and children; a tree's siblings) leave
    // in one write: corked until the current tick's callbacks and promise jobs have run, then
    // flushed with one writev. Each write is a syscall and wakes xenstored once more.
    if (!this.corked) {
      this.corked = true;
      this.stream.cork();
      process.nextTick(this.uncork);
    }
    this.stream.write(bytes);
  }

  private corked = false;
  private readonly uncork = (): void => {
    this.corked = false;
    this.stream.uncork();
  };

  close(): void {
    this.finish('closed by client');
    this.stream.destroy();
  }

  private finish(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.handlers?.close(reason, this.lastError);
  }
}

/** Connects to xenstored's unix socket. Rejects with the socket error (ENOENT, ECONNREFUSED...). */
export function connectUnixSocket(path: string): Promise<XsTransport> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection({ path });
    const onError = (err: Error): void => {
      sock.destroy();
      reject(err);
    };
    sock.once('error', onError);
    sock.once('connect', () => {
      sock.off('error', onError);
      sock.setNoDelay?.(true);
      resolve(new DuplexTransport(sock, path));
    });
  });
}

/**
 * The kernel's xenbus device: the transport of a domain with no local
 * xenstored socket. Reads block in a libuv pool thread until the kernel has a
 * reply or watch event; writes are whole frames, one at a time.
 */
export class XenbusDeviceTransport implements XsTransport {
  private handlers: XsTransportHandlers | undefined;
  private ended = false;
  private writing = false;
  private readonly queue: Buffer[] = [];
  private readonly readBuf = Buffer.allocUnsafe(65536);

  private constructor(
    private readonly fd: number,
    readonly name: string,
  ) {}

  static async open(path: string): Promise<XenbusDeviceTransport> {
    const handle = await fsp.open(path, fsConstants.O_RDWR);
    return new XenbusDeviceTransport(handle.fd, path);
  }

  start(handlers: XsTransportHandlers): void {
    this.handlers = handlers;
    this.readLoop();
  }

  send(bytes: Buffer): void {
    if (this.ended) return;
    this.queue.push(bytes);
    this.pump();
  }

  close(): void {
    this.finish('closed by client');
  }

  private readLoop(): void {
    if (this.ended) return;
    fs.read(this.fd, this.readBuf, 0, this.readBuf.length, null, (err, n) => {
      if (this.ended) return;
      if (err) return this.finish(`read error: ${err.message}`, err);
      if (n === 0) return this.finish('end of file on xenbus device');
      this.handlers?.data(Buffer.from(this.readBuf.subarray(0, n)));
      this.readLoop();
    });
  }

  private pump(): void {
    if (this.writing || this.ended) return;
    const next = this.queue.shift();
    if (next === undefined) return;
    this.writing = true;
    fs.write(this.fd, next, 0, next.length, null, (err, written) => {
      this.writing = false;
      if (err) return this.finish(`write error: ${err.message}`, err);
      if (written < next.length) this.queue.unshift(next.subarray(written));
      this.pump();
    });
  }

  private finish(reason: string, error?: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.queue.length = 0;
    // A read blocked in the kernel keeps its pool thread until the next
    // message; closing the fd is still safe, the read then fails with EBADF.
    fs.close(this.fd, () => undefined);
    this.handlers?.close(reason, error);
  }
}

export interface DefaultConnectorOptions {
  /** Socket path; default `$XENSTORED_PATH` or /run/xenstored/socket. */
  socketPath?: string;
  /** Device used when the socket does not exist; default /dev/xen/xenbus. `false` disables it. */
  devicePath?: string | false;
}

function errCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/**
 * The socket when it exists, else the xenbus device. The choice made by the
 * first successful connect sticks: while xenstored restarts its socket is
 * briefly missing, and that must not switch a dom0 client to the device.
 */
export function defaultConnector(options: DefaultConnectorOptions = {}): XsConnector {
  const socketPath = options.socketPath ?? process.env['XENSTORED_PATH'] ?? XENSTORED_SOCKET_PATH;
  const devicePath = options.devicePath === undefined ? XENBUS_DEVICE_PATH : options.devicePath;
  let chosen: 'socket' | 'device' | undefined;
  return async () => {
    const tried: string[] = [];
    if (chosen !== 'device') {
      try {
        const t = await connectUnixSocket(socketPath);
        chosen = 'socket';
        return t;
      } catch (err) {
        tried.push(`${socketPath}: ${errCode(err) ?? String(err)}`);
        if (chosen === 'socket' || errCode(err) !== 'ENOENT' || devicePath === false) {
          throw new XsConnectError(tried, { cause: err });
        }
      }
    }
    if (devicePath === false) throw new XsConnectError(tried);
    try {
      const t = await XenbusDeviceTransport.open(devicePath);
      chosen = 'device';
      return t;
    } catch (err) {
      tried.push(`${devicePath}: ${errCode(err) ?? String(err)}`);
      throw new XsConnectError(tried, { cause: err });
    }
  };
}
