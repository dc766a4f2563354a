/**
 * Netlink protocol over a transport: sequence numbers, ACKs, multipart
 * replies and dumps, NLM_F_DUMP_INTR, extended ACKs, per-request timeouts,
 * overrun (ENOBUFS) as a 'resync-needed' event, and notifications. Knows nothing of
 * genl. Follows the I/O lifecycle and event contract of CONVENTIONS.md.
 */
import { EventEmitter } from 'node:events';
import { constants as osConstants } from 'node:os';
import {
  NetlinkBaseError, NetlinkClosedError, NetlinkDecodeError, NetlinkListenerError, NetlinkDumpInterruptedError, NetlinkError, NetlinkOverrunError,
  NetlinkTimeoutError, NetlinkTransportError, errnoName, type ExtAck,
} from './errors.js';
import type { NetlinkTransport } from './transport.js';
import {
  NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN, NLM_F_ACK, NLM_F_ACK_TLVS, NLM_F_DUMP, NLM_F_DUMP_INTR,
  NLM_F_REQUEST, encodeNlMsg, parseErrorPayload, parseExtAck, splitNlMsgs, type NlMsg,
} from './wire.js';

export interface RequestOptions {
  /** Milliseconds before the request fails with NetlinkTimeoutError (default: the connection's). */
  timeoutMs?: number;
  /** Extra nlmsg_flags (NLM_F_CREATE...). */
  flags?: number;
  /** Name for error messages, e.g. `netdev dev-get`. */
  name?: string;
  /** Transform each reply as it arrives; a throw fails the request (used to decode inside the deadline). */
  map?: (msg: NlMsg) => unknown;
}

export interface DumpOptions extends RequestOptions {
  /** How many times to repeat a dump the kernel flagged NLM_F_DUMP_INTR (default 3). */
  retriesOnInterrupt?: number;
}

export interface ConnectionOptions {
  /** Default per-request timeout (ms), 5000 unless said otherwise. Every request has one. */
  timeoutMs?: number;
  /** Name for errors and logs, e.g. `genl`, `rtnl`. */
  name?: string;
}

export interface ConnectionStats {
  sent: number;
  received: number;
  /** replies to no pending request (late, after a timeout, or foreign) */
  stray: number;
  /** datagrams that did not parse */
  malformed: number;
  overruns: number;
  notifications: number;
}

interface Pending {
  seq: number;
  name: string;
  dump: boolean;
  replies: unknown[];
  interrupted: boolean;
  timer: NodeJS.Timeout;
  map: ((msg: NlMsg) => unknown) | undefined;
  resolve: (r: { replies: unknown[]; interrupted: boolean }) => void;
  reject: (e: Error) => void;
}

/** Events, per the I/O contract in CONVENTIONS.md. */
export interface NetlinkConnectionEvents {
  notification: [msg: NlMsg];
  /** ENOBUFS or NLMSG_OVERRUN: notifications were lost; re-read the state with a dump. */
  'resync-needed': [err: NetlinkOverrunError];
  /** Survived: a datagram that did not parse and belongs to no request, or a listener that threw. */
  warning: [err: NetlinkBaseError];
  /** Once; `cause` is set when the socket failed rather than being closed by its owner. */
  close: [cause: Error | undefined];
}

export class NetlinkConnection extends EventEmitter<NetlinkConnectionEvents> {
  readonly transport: NetlinkTransport;
  readonly name: string;
  readonly stats: ConnectionStats = { sent: 0, received: 0, stray: 0, malformed: 0, overruns: 0, notifications: 0 };
  private readonly timeoutMs: number;
  private readonly pending = new Map<number, Pending>();
  private seq: number;
  private closed = false;
  private closeCause: Error | undefined;
  private readonly port: number;
  private dumpQueue: Promise<unknown> = Promise.resolve();

  constructor(transport: NetlinkTransport, opts: ConnectionOptions = {}) {
    super();
    this.transport = transport;
    this.name = opts.name ?? 'netlink';
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.seq = (Math.floor(Date.now() / 1000) & 0xffffff) || 1;
    this.port = transport.portId();
    transport.attach({
      message: (dgram, truncatedFrom) => this.onDatagram(dgram, truncatedFrom),
      fault: (errno, syscall) => this.onFault(errno, syscall),
      closed: () => this.onClosed(undefined),
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * Send a request and wait for its answer: the replies (mapped by `opts.map`)
   * of a `do`, ended by the kernel's ACK. A negative ACK rejects with NetlinkError.
   */
  async request(type: number, payload: Buffer, opts: RequestOptions = {}): Promise<unknown[]> {
    const r = await this.exchange(type, payload, NLM_F_REQUEST | NLM_F_ACK | (opts.flags ?? 0), false, opts);
    return r.replies;
  }

  /**
   * A dump: every reply until NLMSG_DONE, repeated if the kernel says it was interrupted.
   * The kernel runs one dump per socket at a time (a second one gets EBUSY), so dumps on
   * one connection are queued and sent one after the other.
   */
  dump(type: number, payload: Buffer, opts: DumpOptions = {}): Promise<unknown[]> {
    const run = (): Promise<unknown[]> => this.dumpNow(type, payload, opts);
    const p = this.dumpQueue.then(run, run);
    this.dumpQueue = p.catch(() => undefined);
    return p;
  }

  private async dumpNow(type: number, payload: Buffer, opts: DumpOptions): Promise<unknown[]> {
    const retries = opts.retriesOnInterrupt ?? 3;
    for (let attempt = 0; ; attempt++) {
      const r = await this.exchange(type, payload, NLM_F_REQUEST | NLM_F_DUMP | (opts.flags ?? 0), true, opts);
      if (!r.interrupted) return r.replies;
      if (attempt >= retries) throw new NetlinkDumpInterruptedError(opts.name ?? `${this.name} dump type ${type}`);
    }
  }

  addMembership(group: number): void {
    this.assertOpen('join a multicast group');
    this.transport.addMembership(group);
  }

  dropMembership(group: number): void {
    if (!this.closed) this.transport.dropMembership(group);
  }

  /** Close the socket; every pending request rejects with NetlinkClosedError. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.transport.close(); // calls onClosed through the handler
    this.onClosed(undefined);
  }

  unref(): void { this.transport.unref(); }
  ref(): void { this.transport.ref(); }

  private assertOpen(what: string): void {
    if (this.closed) throw new NetlinkClosedError(`${this.name}: cannot ${what}`, this.closeCause);
  }

  private nextSeq(): number {
    do {
      this.seq = (this.seq + 1) >>> 0;
    } while (this.seq === 0 || this.pending.has(this.seq));
    return this.seq;
  }

  private exchange(type: number, payload: Buffer, flags: number, dump: boolean, opts: RequestOptions):
    Promise<{ replies: unknown[]; interrupted: boolean }> {
    const name = opts.name ?? `${this.name} request type ${type}`;
    if (this.closed) return Promise.reject(new NetlinkClosedError(name, this.closeCause));
    const seq = this.nextSeq();
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    return new Promise((resolve, reject) => {
      const p: Pending = {
        seq, name, dump, replies: [], interrupted: false, map: opts.map, resolve, reject,
        timer: setTimeout(() => {
          if (this.pending.get(seq) === p) {
            this.pending.delete(seq);
            reject(new NetlinkTimeoutError(name, timeoutMs));
          }
        }, timeoutMs),
      };
      this.pending.set(seq, p);
      try {
        this.transport.send(encodeNlMsg({ type, flags, seq, pid: 0 }, payload));
        this.stats.sent++;
      } catch (e) {
        this.settle(p, e instanceof Error ? e : new NetlinkTransportError(String(e)));
      }
    });
  }

  private settle(p: Pending, err?: Error): void {
    if (this.pending.get(p.seq) !== p) return;
    this.pending.delete(p.seq);
    clearTimeout(p.timer);
    if (err) p.reject(err);
    else p.resolve({ replies: p.replies, interrupted: p.interrupted });
  }

  private onDatagram(dgram: Buffer, truncatedFrom: number): void {
    this.stats.received++;
    let msgs: NlMsg[];
    try {
      if (truncatedFrom > 0) {
        throw new NetlinkDecodeError(`${this.name} datagram`, `truncated by the socket: ${truncatedFrom} bytes sent, ${dgram.length} received`);
      }
      msgs = splitNlMsgs(dgram);
    } catch (e) {
      this.stats.malformed++;
      const err = e instanceof NetlinkDecodeError ? e : new NetlinkDecodeError(`${this.name} datagram`, String(e));
      // If the first header is readable and answers one of our requests, fail that request.
      const p = dgram.length >= 16 ? this.pending.get(dgram.readUInt32LE(8)) : undefined;
      if (p && dgram.readUInt32LE(12) === this.port) this.settle(p, err);
      else this.emit('warning', err);
      return;
    }
    for (const m of msgs) this.onMessage(m);
  }

  private onMessage(m: NlMsg): void {
    const p = m.pid === this.port && m.seq !== 0 ? this.pending.get(m.seq) : undefined;
    if (!p) {
      if (m.type === NLMSG_ERROR || m.type === NLMSG_DONE || (m.pid === this.port && m.seq !== 0)) {
        this.stats.stray++;
        return;
      }
      if (m.type === NLMSG_OVERRUN) {
        this.reportOverrun();
        return;
      }
      if (m.type === NLMSG_NOOP) return;
      this.stats.notifications++;
      try {
        this.emit('notification', m);
      } catch (e) {
        // a listener's bug must not unwind into the socket's receive callback
        this.emit('warning', new NetlinkListenerError(`${this.name} 'notification'`, e));
      }
      return;
    }
    if (m.flags & NLM_F_DUMP_INTR) p.interrupted = true;
    try {
      switch (m.type) {
        case NLMSG_NOOP:
          return;
        case NLMSG_ERROR: {
          const e = parseErrorPayload(m.payload, m.flags);
          if (e.errno === 0) this.settle(p);
          else this.settle(p, this.kernelError(p.name, e.errno, e.extack));
          return;
        }
        case NLMSG_DONE: {
          // A dump ends with DONE, whose payload is an int error (0 or negative) and maybe extack TLVs.
          const err = m.payload.length >= 4 ? -m.payload.readInt32LE(0) : 0;
          const extack: ExtAck = m.flags & NLM_F_ACK_TLVS && m.payload.length > 4 ? parseExtAck(m.payload.subarray(4)) : {};
          if (err > 0) this.settle(p, this.kernelError(p.name, err, extack));
          else this.settle(p);
          return;
        }
        case NLMSG_OVERRUN:
          this.reportOverrun();
          return;
        default:
          p.replies.push(p.map ? p.map(m) : m);
      }
    } catch (e) {
      this.settle(p, e instanceof Error ? e : new NetlinkDecodeError(p.name, String(e)));
    }
  }

  private kernelError(name: string, errno: number, extack: ExtAck): NetlinkError {
    let hint: string | undefined;
    if (errno === osConstants.errno.EPERM) hint = 'this operation needs CAP_NET_ADMIN: run as root';
    if (errno === osConstants.errno.EOPNOTSUPP) hint = 'the kernel or driver does not implement this operation';
    return new NetlinkError(name, errno, extack, hint);
  }

  private reportOverrun(): void {
    this.stats.overruns++;
    this.emit('resync-needed', new NetlinkOverrunError(this.name));
  }

  private onFault(errno: number, syscall: string): void {
    if (errno === osConstants.errno.ENOBUFS) {
      this.reportOverrun();
      return;
    }
    const cause = new NetlinkTransportError(`${this.name}: ${syscall} failed with ${errnoName(errno)}`);
    this.closeCause = cause;
    this.transport.close();
    this.onClosed(cause);
  }

  private onClosed(cause: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.closeCause = cause ?? this.closeCause;
    for (const p of [...this.pending.values()]) this.settle(p, new NetlinkClosedError(p.name, this.closeCause));
    this.emit('close', this.closeCause);
  }
}
