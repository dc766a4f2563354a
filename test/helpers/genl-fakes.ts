/** Fake netlink transport and message builders for unit tests. */
import type { NetlinkTransport, TransportHandlers } from '../../src/netlink/transport.js';
import {
  NLMSG_DONE, NLMSG_ERROR, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLM_F_MULTI, NLMSGERR_ATTR_MSG, NLMSGERR_ATTR_OFFS,
  attrString, attrU32, encodeAttr, encodeNlMsg, type NlMsgHeader,
} from '../../src/netlink/wire.js';

export interface SentMsg {
  raw: Buffer;
  type: number;
  flags: number;
  seq: number;
  payload: Buffer;
}

export class FakeTransport implements NetlinkTransport {
  readonly kind = 'fake';
  readonly capabilities = { extAck: true, strictCheck: false };
  readonly sent: SentMsg[] = [];
  readonly groups = new Set<number>();
  handlers: TransportHandlers | undefined;
  closed = false;
  /** Called on every send; use it to answer. */
  onSend: ((m: SentMsg, t: FakeTransport) => void) | undefined;
  /** Make the next send throw. */
  failNextSend: Error | undefined;
  readonly port: number;

  constructor(port = 4242) {
    this.port = port;
  }

  attach(h: TransportHandlers): void {
    this.handlers = h;
  }

  send(dgram: Buffer): void {
    if (this.failNextSend) {
      const e = this.failNextSend;
      this.failNextSend = undefined;
      throw e;
    }
    const m: SentMsg = {
      raw: dgram,
      type: dgram.readUInt16LE(4),
      flags: dgram.readUInt16LE(6),
      seq: dgram.readUInt32LE(8),
      payload: dgram.subarray(16),
    };
    this.sent.push(m);
    this.onSend?.(m, this);
  }

  addMembership(g: number): void { this.groups.add(g); }
  dropMembership(g: number): void { this.groups.delete(g); }
  portId(): number { return this.port; }
  unref(): void {}
  ref(): void {}

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handlers?.closed();
  }

  // --- fault injection / delivery
  /** One datagram holding these messages, each padded to 4 bytes as the kernel does. */
  deliver(...msgs: Buffer[]): void {
    const padded = msgs.map((m) => (m.length % 4 ? Buffer.concat([m, Buffer.alloc(4 - (m.length % 4))]) : m));
    this.handlers?.message(Buffer.concat(padded), 0);
  }
  deliverTruncated(dgram: Buffer, realLen: number): void {
    this.handlers?.message(dgram, realLen);
  }
  fault(errno: number, syscall = 'recvmsg'): void {
    this.handlers?.fault(errno, syscall);
  }
  /** The socket dies from the far side (e.g. poll error), as the native addon reports it. */
  peerClose(): void {
    this.close();
  }

  last(): SentMsg {
    const m = this.sent[this.sent.length - 1];
    if (!m) throw new Error('nothing sent');
    return m;
  }
}

/** A reply message addressed to the fake's port. */
export function reply(t: FakeTransport, seq: number, type: number, payload: Buffer, flags = 0): Buffer {
  return encodeNlMsg({ type, flags, seq, pid: t.port }, payload);
}

export function ack(t: FakeTransport, seq: number, errno = 0, extack?: { msg?: string; offs?: number }, req?: Partial<NlMsgHeader>): Buffer {
  const p = Buffer.alloc(20);
  p.writeInt32LE(-errno, 0);
  p.writeUInt32LE(req?.len ?? 16, 4);
  p.writeUInt16LE(req?.type ?? 0, 8);
  p.writeUInt32LE(seq, 12);
  p.writeUInt32LE(t.port, 16);
  let flags = NLM_F_CAPPED;
  let tlvs = Buffer.alloc(0);
  if (extack) {
    flags |= NLM_F_ACK_TLVS;
    tlvs = Buffer.concat([
      extack.msg !== undefined ? attrString(NLMSGERR_ATTR_MSG, extack.msg) : Buffer.alloc(0),
      extack.offs !== undefined ? attrU32(NLMSGERR_ATTR_OFFS, extack.offs) : Buffer.alloc(0),
    ]);
  }
  return encodeNlMsg({ type: NLMSG_ERROR, flags, seq, pid: t.port }, Buffer.concat([p, tlvs]));
}

export function done(t: FakeTransport, seq: number, errno = 0, flags = NLM_F_MULTI): Buffer {
  const p = Buffer.alloc(4);
  p.writeInt32LE(-errno, 0);
  return encodeNlMsg({ type: NLMSG_DONE, flags, seq, pid: t.port }, p);
}

/** A multicast notification (pid 0, seq 0). */
export function notification(type: number, payload: Buffer): Buffer {
  return encodeNlMsg({ type, flags: 0, seq: 0, pid: 0 }, payload);
}

export function genlPayload(cmd: number, attrs: Buffer, version = 1): Buffer {
  const b = Buffer.alloc(4 + attrs.length);
  b.writeUInt8(cmd, 0);
  b.writeUInt8(version, 1);
  attrs.copy(b, 4);
  return b;
}

/** An nlctrl NEWFAMILY payload (attributes only). */
export function ctrlFamilyAttrs(name: string, id: number, version: number, groups: Array<[string, number]>): Buffer {
  const idb = Buffer.alloc(2);
  idb.writeUInt16LE(id, 0);
  const grp = groups.map(([n, g], i) => encodeAttr(i + 1, Buffer.concat([attrString(1, n), attrU32(2, g)]), true));
  return Buffer.concat([
    encodeAttr(1, idb),
    attrString(2, name),
    attrU32(3, version),
    attrU32(4, 0),
    attrU32(5, 20),
    encodeAttr(7, Buffer.concat(grp), true),
  ]);
}

export const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
