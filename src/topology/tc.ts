/**
 * The small part of rtnetlink traffic control the topology needs to know an uplink's
 * line rate: RTM_{NEW,DEL,GET}QDISC and RTM_GETTCLASS with struct tcmsg, TCA_KIND and the
 * rate inside TCA_OPTIONS of tbf, htb (its top-level classes) and cake. Pure codec.
 */
import { NetlinkDecodeError } from '../netlink/errors.js';
import { decodeCString, parseAttrs, type NlMsg } from '../netlink/wire.js';

export const RTM_NEWQDISC = 36;
export const RTM_DELQDISC = 37;
export const RTM_GETQDISC = 38;
export const RTM_NEWTCLASS = 40;
export const RTM_DELTCLASS = 41;
export const RTM_GETTCLASS = 42;
export const RTNLGRP_TC = 4;
export const TCMSG_LEN = 20;
export const TC_H_ROOT = 0xffffffff;

export const TCA_KIND = 1;
export const TCA_OPTIONS = 2;
export const TCA_TBF_PARMS = 1;
export const TCA_TBF_RATE64 = 4;
export const TCA_HTB_PARMS = 1;
export const TCA_HTB_RATE64 = 6;
export const TCA_CAKE_BASE_RATE64 = 2;
/** struct tc_ratespec: cell_log u8, linklayer u8, overhead u16, cell_align s16, mpu u16, rate u32 */
const RATESPEC_RATE_OFFSET = 8;

export interface TcObject {
  ifindex: number;
  handle: number;
  parent: number;
  kind: string;
  /** the shaping rate in bits/s this object sets, when its kind has one (tbf, htb class, cake) */
  rateBits: number | undefined;
}

/** Payload of a qdisc or class dump request: a tcmsg, for one device (`ifindex`) or all (0). */
export function encodeTcDump(ifindex = 0): Buffer {
  const b = Buffer.alloc(TCMSG_LEN);
  b.writeInt32LE(ifindex, 4);
  return b;
}

function u64(v: Buffer, path: string): number {
  if (v.length !== 8) throw new NetlinkDecodeError(path, `${v.length} bytes, expected 8`);
  return Number(v.readBigUInt64LE(0));
}

function ratespec(v: Buffer, at: number, path: string): number {
  if (v.length < at + RATESPEC_RATE_OFFSET + 4) throw new NetlinkDecodeError(path, `${v.length} bytes, too short for a tc_ratespec at ${at}`);
  return v.readUInt32LE(at + RATESPEC_RATE_OFFSET);
}

/** Bytes/s of the kind's options, as the kernel reports them, or undefined. */
function rateBytesOf(kind: string, options: Buffer, isClass: boolean): number | undefined {
  const attrs = parseAttrs(options, `tca.options(${kind})`);
  const get = (type: number): Buffer | undefined => attrs.find((a) => a.type === type)?.value;
  if (kind === 'tbf' && !isClass) {
    const r64 = get(TCA_TBF_RATE64);
    if (r64) return u64(r64, 'tbf.rate64');
    const parms = get(TCA_TBF_PARMS);
    return parms ? ratespec(parms, 0, 'tbf.parms') : undefined;
  }
  if (kind === 'htb' && isClass) {
    const r64 = get(TCA_HTB_RATE64);
    if (r64) return u64(r64, 'htb.rate64');
    const parms = get(TCA_HTB_PARMS);
    return parms ? ratespec(parms, 0, 'htb.parms') : undefined;
  }
  if (kind === 'cake' && !isClass) {
    const base = get(TCA_CAKE_BASE_RATE64);
    const r = base ? u64(base, 'cake.base-rate64') : 0;
    return r > 0 ? r : undefined; // 0: unlimited (cake without bandwidth)
  }
  return undefined;
}

/** A qdisc or class message (RTM_NEWQDISC, RTM_NEWTCLASS...). */
export function decodeTc(m: NlMsg): TcObject {
  const p = m.payload;
  if (p.length < TCMSG_LEN) throw new NetlinkDecodeError('tcmsg', `${p.length} bytes, needs ${TCMSG_LEN}`);
  const isClass = m.type === RTM_NEWTCLASS || m.type === RTM_DELTCLASS;
  let kind = '';
  let options: Buffer | undefined;
  for (const a of parseAttrs(p.subarray(TCMSG_LEN), 'tca')) {
    if (a.type === TCA_KIND) kind = decodeCString(a.value, 'tca.kind');
    else if (a.type === TCA_OPTIONS) options = a.value;
  }
  const bytes = options ? rateBytesOf(kind, options, isClass) : undefined;
  return {
    ifindex: p.readInt32LE(4),
    handle: p.readUInt32LE(8),
    parent: p.readUInt32LE(12),
    kind,
    rateBits: bytes === undefined ? undefined : bytes * 8,
  };
}
