/**
 * Netlink framing, pure: message headers, attributes (TLVs), error payloads.
 * Everything here works on Buffers and throws NetlinkDecodeError on bad input.
 */
import { NetlinkDecodeError, type ExtAck } from './errors.js';

export const NETLINK_ROUTE = 0;
export const NETLINK_GENERIC = 16;
export const SOL_NETLINK = 270;
export const NETLINK_ADD_MEMBERSHIP = 1;
export const NETLINK_CAP_ACK = 10;
export const NETLINK_EXT_ACK = 11;
export const NETLINK_GET_STRICT_CHK = 12;
export const SOL_SOCKET = 1;
export const SO_RCVBUF = 8;
export const SO_RCVBUFFORCE = 33;

export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;
export const NLMSG_MIN_TYPE = 0x10;

export const NLM_F_REQUEST = 0x01;
export const NLM_F_MULTI = 0x02;
export const NLM_F_ACK = 0x04;
export const NLM_F_ECHO = 0x08;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_DUMP_FILTERED = 0x20;
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
export const NLM_F_CREATE = 0x400;
export const NLM_F_EXCL = 0x200;
export const NLM_F_REPLACE = 0x100;
/** In an NLMSG_ERROR: the original request is not echoed (CAP_ACK). */
export const NLM_F_CAPPED = 0x100;
/** In an NLMSG_ERROR: extended ACK TLVs follow. */
export const NLM_F_ACK_TLVS = 0x200;

export const NLMSGERR_ATTR_MSG = 1;
export const NLMSGERR_ATTR_OFFS = 2;
export const NLMSGERR_ATTR_COOKIE = 3;
export const NLMSGERR_ATTR_POLICY = 4;
export const NLMSGERR_ATTR_MISS_TYPE = 5;
export const NLMSGERR_ATTR_MISS_NEST = 6;

export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
export const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;

export const NLMSG_HDRLEN = 16;
export const NLA_HDRLEN = 4;

export function align4(n: number): number {
  return (n + 3) & ~3;
}

export interface NlMsgHeader {
  len: number;
  type: number;
  flags: number;
  seq: number;
  pid: number;
}

export interface NlMsg extends NlMsgHeader {
  /** Bytes after the 16-byte header, exactly `len - 16` long. */
  payload: Buffer;
}

export function encodeNlMsg(h: Omit<NlMsgHeader, 'len'>, payload: Buffer): Buffer {
  const b = Buffer.allocUnsafe(NLMSG_HDRLEN + payload.length);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt16LE(h.type, 4);
  b.writeUInt16LE(h.flags, 6);
  b.writeUInt32LE(h.seq >>> 0, 8);
  b.writeUInt32LE(h.pid >>> 0, 12);
  payload.copy(b, NLMSG_HDRLEN);
  return b;
}

/**
 * Split one datagram into messages. A datagram whose last message runs past
 * its end, or whose header claims less than 16 bytes, is rejected whole: the
 * caller cannot know where the next message would start.
 */
export function splitNlMsgs(dgram: Buffer): NlMsg[] {
  const out: NlMsg[] = [];
  let off = 0;
  while (off < dgram.length) {
    if (dgram.length - off < NLMSG_HDRLEN) {
      throw new NetlinkDecodeError(`datagram[${off}]`, `${dgram.length - off} trailing bytes, shorter than a 16-byte nlmsghdr`);
    }
    const len = dgram.readUInt32LE(off);
    if (len < NLMSG_HDRLEN) {
      throw new NetlinkDecodeError(`datagram[${off}]`, `nlmsg_len ${len} is shorter than the header`);
    }
    if (len > dgram.length - off) {
      throw new NetlinkDecodeError(`datagram[${off}]`, `nlmsg_len ${len} runs past the end of the ${dgram.length}-byte datagram (truncated)`);
    }
    out.push({
      len,
      type: dgram.readUInt16LE(off + 4),
      flags: dgram.readUInt16LE(off + 6),
      seq: dgram.readUInt32LE(off + 8),
      pid: dgram.readUInt32LE(off + 12),
      payload: dgram.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += align4(len);
  }
  return out;
}

/** One attribute: `type` without the NESTED/BYTEORDER flag bits. */
export interface NlAttr {
  type: number;
  nested: boolean;
  netByteOrder: boolean;
  value: Buffer;
  /** offset of the attribute header inside the buffer given to parseAttrs */
  offset: number;
}

/** Iterate TLVs; strict: a length that runs past the buffer is an error, as in nla_validate. */
export function parseAttrs(buf: Buffer, path = 'attrs'): NlAttr[] {
  const out: NlAttr[] = [];
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < NLA_HDRLEN) {
      throw new NetlinkDecodeError(path, `${buf.length - off} trailing bytes after the last attribute`);
    }
    const len = buf.readUInt16LE(off);
    const rawType = buf.readUInt16LE(off + 2);
    if (len < NLA_HDRLEN) throw new NetlinkDecodeError(path, `attribute type ${rawType & NLA_TYPE_MASK} has nla_len ${len} < 4`);
    if (len > buf.length - off) {
      throw new NetlinkDecodeError(path, `attribute type ${rawType & NLA_TYPE_MASK} has nla_len ${len}, only ${buf.length - off} bytes left`);
    }
    out.push({
      type: rawType & NLA_TYPE_MASK,
      nested: (rawType & NLA_F_NESTED) !== 0,
      netByteOrder: (rawType & NLA_F_NET_BYTEORDER) !== 0,
      value: buf.subarray(off + NLA_HDRLEN, off + len),
      offset: off,
    });
    off += align4(len);
  }
  return out;
}

/** Build one attribute with padding. */
export function encodeAttr(type: number, value: Buffer, nested = false): Buffer {
  const len = NLA_HDRLEN + value.length;
  if (len > 0xffff) throw new RangeError(`attribute type ${type} is ${len} bytes, more than nla_len can say`);
  const b = Buffer.alloc(align4(len));
  b.writeUInt16LE(len, 0);
  b.writeUInt16LE((type & NLA_TYPE_MASK) | (nested ? NLA_F_NESTED : 0), 2);
  value.copy(b, NLA_HDRLEN);
  return b;
}

export function attrU32(type: number, v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0, 0);
  return encodeAttr(type, b);
}

export function attrString(type: number, s: string): Buffer {
  return encodeAttr(type, Buffer.from(`${s}\0`, 'utf8'));
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** NUL-terminated (or not) string; invalid UTF-8 is an error, not U+FFFD. */
export function decodeCString(value: Buffer, path: string): string {
  let end = value.indexOf(0);
  if (end < 0) end = value.length;
  try {
    return utf8.decode(value.subarray(0, end));
  } catch {
    throw new NetlinkDecodeError(path, 'string is not valid UTF-8');
  }
}

export interface NlErrPayload {
  /** 0 for an ACK, positive errno otherwise */
  errno: number;
  /** header of the request this answers */
  request: NlMsgHeader;
  extack: ExtAck;
}

/**
 * Parse the payload of an NLMSG_ERROR (or the extack of an NLMSG_DONE).
 * `flags` are the error message's own nlmsg_flags (CAPPED, ACK_TLVS).
 */
export function parseErrorPayload(payload: Buffer, flags: number): NlErrPayload {
  if (payload.length < 4 + NLMSG_HDRLEN) {
    throw new NetlinkDecodeError('nlmsgerr', `${payload.length} bytes, needs at least 20`);
  }
  const error = payload.readInt32LE(0);
  const request: NlMsgHeader = {
    len: payload.readUInt32LE(4),
    type: payload.readUInt16LE(8),
    flags: payload.readUInt16LE(10),
    seq: payload.readUInt32LE(12),
    pid: payload.readUInt32LE(16),
  };
  let tlvStart = 4 + NLMSG_HDRLEN;
  if (!(flags & NLM_F_CAPPED)) tlvStart = 4 + align4(Math.max(request.len, NLMSG_HDRLEN));
  const extack: ExtAck = {};
  if (flags & NLM_F_ACK_TLVS && tlvStart < payload.length) {
    parseExtAck(payload.subarray(tlvStart), extack);
  }
  return { errno: -error, request, extack };
}

export function parseExtAck(tlvs: Buffer, into: ExtAck = {}): ExtAck {
  for (const a of parseAttrs(tlvs, 'extack')) {
    switch (a.type) {
      case NLMSGERR_ATTR_MSG: into.message = decodeCString(a.value, 'extack.msg'); break;
      case NLMSGERR_ATTR_OFFS: if (a.value.length >= 4) into.offset = a.value.readUInt32LE(0); break;
      case NLMSGERR_ATTR_MISS_TYPE: if (a.value.length >= 4) into.missingType = a.value.readUInt32LE(0); break;
      case NLMSGERR_ATTR_MISS_NEST: if (a.value.length >= 4) into.missingNest = a.value.readUInt32LE(0); break;
      case NLMSGERR_ATTR_COOKIE: into.cookie = Buffer.from(a.value); break;
      case NLMSGERR_ATTR_POLICY: into.policy = Buffer.from(a.value); break;
      default: break;
    }
  }
  return into;
}
