/**
 * The transport seam: a netlink datagram socket, nothing more. Everything
 * above (seq, ACK, dumps, genl, codec) talks to this interface, so tests
 * replace it with a fake that injects faults.
 *
 * Two real implementations:
 *  - `native`: our addon (src/netlink/native/nlsock.c), with NETLINK_EXT_ACK,
 *    NETLINK_CAP_ACK, NETLINK_GET_STRICT_CHK and sockets in another netns;
 *  - `npm-netlink`: npm `netlink` 0.3.0's RawNetlinkSocket, the fallback when
 *    the addon is not built: no extack, no strict checking, no netns.
 * See README.md in this folder for why the addon is the default.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { constants as osConstants } from 'node:os';
import { NetlinkTransportError } from './errors.js';
import {
  NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK, SOL_NETLINK, SOL_SOCKET, SO_RCVBUF, SO_RCVBUFFORCE,
} from './wire.js';

export interface TransportHandlers {
  /** One datagram. `truncatedFrom` > 0: the kernel's datagram was that long and got cut. */
  message(dgram: Buffer, truncatedFrom: number): void;
  /** A socket error (positive errno). ENOBUFS = receive overrun; the socket still works. */
  fault(errno: number, syscall: string): void;
  /** The socket is gone (closed by us or failed). */
  closed(): void;
}

export interface TransportCapabilities {
  /** The kernel will attach extended ACK TLVs (error messages, offsets). */
  extAck: boolean;
  /** NETLINK_GET_STRICT_CHK is on: dump requests are validated and filtered by the kernel. */
  strictCheck: boolean;
}

export interface NetlinkTransport {
  readonly kind: string;
  readonly capabilities: TransportCapabilities;
  attach(handlers: TransportHandlers): void;
  /** Send one datagram to the kernel. Throws NetlinkTransportError synchronously on failure. */
  send(dgram: Buffer): void;
  addMembership(group: number): void;
  dropMembership(group: number): void;
  /** Our netlink port id (nlmsg_pid of replies addressed to us). */
  portId(): number;
  close(): void;
  /** Let the process exit even though the socket is open. */
  unref(): void;
  ref(): void;
}

export interface OpenTransportOptions {
  /** `auto` (default): the addon if it is built, else npm `netlink` (degraded). */
  prefer?: 'auto' | 'native' | 'npm-netlink';
  /** Path of a network namespace (e.g. /run/netns/foo). Native transport only. */
  netns?: string;
  /** Ask for NETLINK_EXT_ACK (default true). */
  extAck?: boolean;
  /** Ask for NETLINK_GET_STRICT_CHK (default false). */
  strictCheck?: boolean;
  /** SO_RCVBUF(FORCE) in bytes; subscribers to busy groups want 1-4 MiB. */
  recvBufferBytes?: number;
}

interface NativeSocket {
  send(b: Buffer): number;
  setsockoptInt(level: number, name: number, value: number): void;
  getsockoptInt(level: number, name: number): number;
  addMembership(g: number): void;
  dropMembership(g: number): void;
  portId(): number;
  close(): void;
  ref(): void;
  unref(): void;
}
type NativeSocketCtor = new (
  protocol: number,
  netns: string | null,
  onMessage: (b: Buffer, truncatedFrom: number) => void,
  onError: (errno: number, syscall: string) => void,
) => NativeSocket;

const require = createRequire(import.meta.url);
let nativeCtor: NativeSocketCtor | null | undefined;
let nativeLoadError: unknown;

/**
 * Where the addon may be: beside this module (running from src/), or in the
 * package's src/netlink/native/ seen from any compiled copy (dist/netlink/,
 * build/dist-bench/src/netlink/...). VIFQ_NLSOCK_ADDON overrides.
 */
export function nativeAddonCandidates(): string[] {
  const out: string[] = [];
  if (process.env.VIFQ_NLSOCK_ADDON) out.push(process.env.VIFQ_NLSOCK_ADDON);
  let dir = dirname(fileURLToPath(import.meta.url));
  out.push(join(dir, 'native/build/Release/vifq_nlsock.node'));
  for (let i = 0; i < 6; i++) {
    dir = dirname(dir);
    out.push(join(dir, 'src/netlink/native/build/Release/vifq_nlsock.node'));
  }
  return out;
}

export function loadNativeAddon(): NativeSocketCtor | null {
  if (nativeCtor !== undefined) return nativeCtor;
  nativeCtor = null;
  for (const p of nativeAddonCandidates()) {
    if (!existsSync(p)) continue;
    try {
      nativeCtor = (require(p) as { NlSocket: NativeSocketCtor }).NlSocket;
      break;
    } catch (e) {
      nativeLoadError = e;
    }
  }
  return nativeCtor;
}

function transportError(e: unknown, what: string): NetlinkTransportError {
  const code = (e as { code?: string }).code ?? 'error';
  const msg = e instanceof Error ? e.message : String(e);
  return new NetlinkTransportError(`${what}: ${code} (${msg})`, undefined, e);
}

/** What both transports' sockets offer for membership and lifetime. */
interface MembershipSocket {
  addMembership(group: number): void;
  dropMembership(group: number): void;
  close(): void;
  ref(): void;
  unref(): void;
}

/** Membership, close and ref/unref, the same over either socket. */
abstract class SocketTransport<S extends MembershipSocket> {
  protected abstract readonly sock: S;
  protected handlers: TransportHandlers | undefined;
  protected open = true;

  addMembership(group: number): void {
    try { this.sock.addMembership(group); } catch (e) { throw transportError(e, `cannot join netlink multicast group ${group}`); }
  }

  dropMembership(group: number): void {
    try { this.sock.dropMembership(group); } catch (e) { throw transportError(e, `cannot leave netlink multicast group ${group}`); }
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.sock.close();
    this.handlers?.closed();
  }

  unref(): void { this.sock.unref(); }
  ref(): void { this.sock.ref(); }
}

export class NativeTransport extends SocketTransport<NativeSocket> implements NetlinkTransport {
  readonly kind = 'native';
  readonly capabilities: TransportCapabilities;
  protected readonly sock: NativeSocket;
  private readonly early: Array<[Buffer, number]> = [];

  constructor(Ctor: NativeSocketCtor, protocol: number, opts: OpenTransportOptions) {
    super();
    try {
      this.sock = new Ctor(
        protocol,
        opts.netns ?? null,
        (b, t) => (this.handlers ? this.handlers.message(b, t) : this.early.push([b, t])),
        (errno, syscall) => this.handlers?.fault(errno, syscall),
      );
    } catch (e) {
      throw transportError(e, `cannot open a netlink socket (protocol ${protocol}${opts.netns ? `, netns ${opts.netns}` : ''})`);
    }
    const extAck = opts.extAck ?? true;
    const strictCheck = opts.strictCheck ?? false;
    try {
      this.sock.setsockoptInt(SOL_NETLINK, NETLINK_CAP_ACK, 1);
      if (extAck) this.sock.setsockoptInt(SOL_NETLINK, NETLINK_EXT_ACK, 1);
      if (strictCheck) this.sock.setsockoptInt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1);
      if (opts.recvBufferBytes) {
        try {
          this.sock.setsockoptInt(SOL_SOCKET, SO_RCVBUFFORCE, opts.recvBufferBytes);
        } catch {
          this.sock.setsockoptInt(SOL_SOCKET, SO_RCVBUF, opts.recvBufferBytes);
        }
      }
    } catch (e) {
      this.sock.close();
      throw transportError(e, 'cannot configure the netlink socket');
    }
    this.capabilities = { extAck, strictCheck };
  }

  attach(handlers: TransportHandlers): void {
    this.handlers = handlers;
    for (const [b, t] of this.early.splice(0)) handlers.message(b, t);
  }

  send(dgram: Buffer): void {
    if (!this.open) throw new NetlinkTransportError('send on a closed netlink socket');
    try {
      this.sock.send(dgram);
    } catch (e) {
      throw transportError(e, 'netlink send failed');
    }
  }

  portId(): number {
    return this.sock.portId();
  }

}

interface NpmRawSocket {
  on(ev: 'message' | 'truncatedMessage', cb: (msg: Buffer, rinfo: { truncated?: number }) => void): void;
  on(ev: 'error', cb: (err: { errno?: number; syscall?: string }) => void): void;
  send(msg: Uint8Array, options: object, cb: (err?: { errno?: number; syscall?: string }) => void): void;
  close(): void;
  address(): { port: number };
  addMembership(g: number): void;
  dropMembership(g: number): void;
  setRecvBufferSize(n: number): void;
  ref(): void;
  unref(): void;
}

/** Fallback over npm `netlink`: works everywhere its prebuilt binary loads, without extack. */
export class NpmNetlinkTransport extends SocketTransport<NpmRawSocket> implements NetlinkTransport {
  readonly kind = 'npm-netlink';
  readonly capabilities: TransportCapabilities = { extAck: false, strictCheck: false };
  protected readonly sock: NpmRawSocket;

  constructor(protocol: number, opts: OpenTransportOptions) {
    super();
    if (opts.netns) {
      throw new NetlinkTransportError('npm `netlink` cannot open a socket in another network namespace',
        'build the vifq_nlsock addon (npm run build:native)');
    }
    const mod = require('netlink') as { RawNetlinkSocket: new (p: number, o?: object) => NpmRawSocket };
    try {
      this.sock = new mod.RawNetlinkSocket(protocol, {});
      if (opts.recvBufferBytes) this.sock.setRecvBufferSize(opts.recvBufferBytes);
    } catch (e) {
      throw transportError(e, `cannot open a netlink socket (protocol ${protocol})`);
    }
    this.sock.on('message', (m) => this.handlers?.message(m, 0));
    this.sock.on('truncatedMessage', (m, rinfo) => this.handlers?.message(m, rinfo.truncated ?? m.length + 1));
    this.sock.on('error', (err) => this.handlers?.fault(err.errno ?? osConstants.errno.EIO, err.syscall ?? 'recvmsg'));
  }

  attach(handlers: TransportHandlers): void {
    this.handlers = handlers;
  }

  send(dgram: Buffer): void {
    if (!this.open) throw new NetlinkTransportError('send on a closed netlink socket');
    this.sock.send(dgram, {}, (err) => {
      if (err && this.open) this.handlers?.fault(err.errno ?? osConstants.errno.EIO, 'sendmsg');
    });
  }

  portId(): number {
    return this.sock.address().port;
  }

}

/** Open a real netlink socket for `protocol` (NETLINK_GENERIC, NETLINK_ROUTE...). */
export function openTransport(protocol: number, opts: OpenTransportOptions = {}): NetlinkTransport {
  const prefer = opts.prefer ?? 'auto';
  if (prefer !== 'npm-netlink') {
    const Ctor = loadNativeAddon();
    if (Ctor) return new NativeTransport(Ctor, protocol, opts);
    if (prefer === 'native') {
      throw new NetlinkTransportError('the vifq_nlsock addon is not built or does not load',
        'run `npm run build:native` (node-gyp, offline: nodedir=/usr)', nativeLoadError);
    }
  }
  return new NpmNetlinkTransport(protocol, opts);
}
