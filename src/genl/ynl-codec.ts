/**
 * Spec-driven attribute codec. `new YnlCodec(spec)` compiles every attribute
 * set into lookup tables once; decode() and encode() then walk bytes and
 * plain objects with no per-family code.
 *
 * Representation (the same as the kernel's `ynl` CLI prints):
 *  - keys are the spec's attribute names, unchanged (`limit-bytes`);
 *  - u8..u32, s8..s32 -> number; u64/s64/uint/sint -> number when it fits in
 *    2^53, else bigint (encoders take either);
 *  - enum-typed scalars -> the entry name (number if the kernel sent a value
 *    the spec does not know); flags -> array of entry names;
 *  - flag -> true; string -> string; binary -> Buffer (a view into the
 *    message), binary with scalar `sub-type` -> number[];
 *  - nest -> object; multi-attr -> array; indexed-array -> array;
 *  - pad/unused are skipped; attributes the spec does not know are skipped
 *    and counted in `stats.unknownAttributes` (newer kernels add attributes).
 * Decoding is strict about lengths (a u32 must be 4 bytes) and UTF-8, and
 * stops at `maxDepth` nested levels: errors are NetlinkDecodeError with the
 * path of the offending attribute.
 */
import { NetlinkDecodeError, NetlinkEncodeError } from '../netlink/errors.js';
import { NLA_F_NESTED, align4 } from '../netlink/wire.js';
import { YnlSpecError } from './errors.js';
import type { YnlAttr, YnlChecks, YnlEnum, YnlSpec } from './ynl-spec.js';

const K_U8 = 1, K_U16 = 2, K_U32 = 3, K_U64 = 4, K_S8 = 5, K_S16 = 6, K_S32 = 7, K_S64 = 8, K_UINT = 9, K_SINT = 10;
const K_FLAG = 11, K_STRING = 12, K_BINARY = 13, K_BINARY_ARRAY = 14, K_NEST = 15, K_SKIP = 16, K_BITFIELD32 = 17;
const K_INDEXED_ARRAY = 18, K_OPAQUE = 19;

const KIND: Record<string, number> = {
  u8: K_U8, u16: K_U16, u32: K_U32, u64: K_U64, s8: K_S8, s16: K_S16, s32: K_S32, s64: K_S64, uint: K_UINT, sint: K_SINT,
  flag: K_FLAG, string: K_STRING, binary: K_BINARY, nest: K_NEST, pad: K_SKIP, unused: K_SKIP, bitfield32: K_BITFIELD32,
  'indexed-array': K_INDEXED_ARRAY, 'nest-type-value': K_OPAQUE, 'sub-message': K_OPAQUE,
};
const SCALAR_SIZE: Record<string, number> = { u8: 1, u16: 2, u32: 4, u64: 8, s8: 1, s16: 2, s32: 4, s64: 8 };
const TWO32 = 4294967296;

interface CAttr {
  name: string;
  value: number;
  kind: number;
  multi: boolean;
  be: boolean;
  /** element kind of binary sub-type / indexed-array sub-type */
  subKind: number;
  subSize: number;
  nested: CSet | undefined;
  enumSpec: YnlEnum | undefined;
  asFlags: boolean;
  /** little-endian, no enum: eligible for the inlined u32/u64 paths */
  plain: boolean;
  checks: YnlChecks;
  spec: YnlAttr;
}

interface CSet {
  name: string;
  byValue: Array<CAttr | undefined>;
  byName: Map<string, CAttr>;
}

export type YnlValue = number | bigint | string | boolean | Buffer | YnlValue[] | YnlObject | { value: number; selector: number };
export interface YnlObject {
  [attr: string]: YnlValue;
}

export interface CodecStats {
  /** attributes skipped because the spec does not know their type */
  unknownAttributes: number;
}

export interface CodecOptions {
  /** Nesting levels accepted when decoding (default 16). */
  maxDepth?: number;
}

/** Internal: carries the path outward as the stack unwinds; turned into NetlinkDecodeError at the top. */
class DecodeFault extends Error {
  readonly segments: string[] = [];
  constructor(readonly problem: string) {
    super(problem);
  }
}

function fault(problem: string): never {
  throw new DecodeFault(problem);
}

function u64FromParts(hi: number, lo: number): number | bigint {
  return hi < 0x200000 ? hi * TWO32 + lo : (BigInt(hi) << 32n) | BigInt(lo);
}

function s64FromParts(hi: number, lo: number): number | bigint {
  // hi is signed
  if (hi >= -0x200000 && hi < 0x200000) return hi * TWO32 + lo;
  return (BigInt(hi) << 32n) + BigInt(lo);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export class YnlCodec {
  readonly spec: YnlSpec;
  readonly stats: CodecStats = { unknownAttributes: 0 };
  readonly maxDepth: number;
  private readonly sets = new Map<string, CSet>();

  constructor(spec: YnlSpec, opts: CodecOptions = {}) {
    this.spec = spec;
    this.maxDepth = opts.maxDepth ?? 16;
    for (const s of spec.attributeSets.values()) {
      this.sets.set(s.name, { name: s.name, byValue: [], byName: new Map() });
    }
    for (const s of spec.attributeSets.values()) {
      const cs = this.sets.get(s.name) as CSet;
      for (const a of s.attrs) {
        const kind = KIND[a.type];
        if (kind === undefined) throw new YnlSpecError(spec.source, `${s.name}.${a.name}: type ${a.type} not supported`);
        let k = kind;
        let subKind = 0;
        let subSize = 0;
        if (kind === K_BINARY && a.subType) {
          const sk = KIND[a.subType];
          const sz = SCALAR_SIZE[a.subType];
          if (sk === undefined || sz === undefined) throw new YnlSpecError(spec.source, `${s.name}.${a.name}: binary sub-type ${a.subType} not supported`);
          k = K_BINARY_ARRAY;
          subKind = sk;
          subSize = sz;
        } else if (kind === K_INDEXED_ARRAY) {
          const st = a.subType ?? 'nest';
          const sk = KIND[st];
          if (sk === undefined) throw new YnlSpecError(spec.source, `${s.name}.${a.name}: indexed-array sub-type ${st} not supported`);
          subKind = sk;
        }
        const ca: CAttr = {
          name: a.name, value: a.value, kind: k, multi: a.multiAttr, be: a.bigEndian, subKind, subSize,
          nested: a.nestedAttributes ? this.sets.get(a.nestedAttributes) : undefined,
          enumSpec: a.enum ? spec.enums.get(a.enum) : undefined,
          asFlags: a.enumAsFlags || (a.enum !== undefined && spec.enums.get(a.enum)?.type === 'flags'),
          plain: !a.bigEndian && !a.enum,
          checks: a.checks, spec: a,
        };
        if (a.type !== 'unused') cs.byValue[a.value] = ca;
        if (!cs.byName.has(a.name) && a.type !== 'unused' && a.type !== 'pad') cs.byName.set(a.name, ca);
      }
    }
  }

  hasSet(name: string): boolean {
    return this.sets.has(name);
  }

  private set(name: string): CSet {
    const s = this.sets.get(name);
    if (!s) throw new YnlSpecError(this.spec.source, `no attribute set "${name}"`);
    return s;
  }

  // ---------------------------------------------------------------- decode

  /** Decode a run of attributes (e.g. a genl message after its header) with attribute set `setName`. */
  decode(setName: string, buf: Buffer, start = 0, end = buf.length): YnlObject {
    const set = this.set(setName);
    try {
      return this.decodeRange(buf, start, end, set, 1);
    } catch (e) {
      if (e instanceof DecodeFault) {
        throw new NetlinkDecodeError([setName, ...e.segments].join('.').replace(/\.\[/g, '['), e.problem);
      }
      throw e;
    }
  }

  private decodeRange(buf: Buffer, start: number, end: number, set: CSet, depth: number): YnlObject {
    if (depth > this.maxDepth) fault(`nesting deeper than ${this.maxDepth} levels`);
    const out: YnlObject = {};
    let off = start;
    while (off < end) {
      if (end - off < 4) fault(`${end - off} trailing bytes after the last attribute`);
      const len = buf[off]! | (buf[off + 1]! << 8);
      const type = (buf[off + 2]! | (buf[off + 3]! << 8)) & 0x3fff;
      if (len < 4) fault(`attribute type ${type} has nla_len ${len} < 4`);
      if (len > end - off) fault(`attribute type ${type} has nla_len ${len}, only ${end - off} bytes left`);
      const vs = off + 4;
      const ve = off + len;
      off += (len + 3) & ~3;
      const a = set.byValue[type];
      if (a === undefined) {
        this.stats.unknownAttributes++;
        continue;
      }
      if (a.kind === K_SKIP) continue;
      let v: YnlValue;
      // hot paths inlined (counters in reports); anything unusual takes the general path
      if (a.kind === K_U32 && len === 8 && a.plain) {
        v = buf.readUInt32LE(vs);
      } else if (a.kind === K_U64 && len === 12 && a.plain) {
        const lo = buf.readUInt32LE(vs);
        const hi = buf.readUInt32LE(vs + 4);
        v = hi < 0x200000 ? hi * TWO32 + lo : u64FromParts(hi, lo);
      } else try {
        v = this.decodeValue(buf, vs, ve, a, depth);
      } catch (e) {
        if (e instanceof DecodeFault) {
          const prev = out[a.name];
          e.segments.unshift(a.multi ? `${a.name}[${Array.isArray(prev) ? prev.length : 0}]` : a.name);
        }
        throw e;
      }
      if (a.multi) {
        const arr = out[a.name] as YnlValue[] | undefined;
        if (arr === undefined) out[a.name] = [v];
        else arr.push(v);
      } else {
        out[a.name] = v;
      }
    }
    return out;
  }

  private scalar(buf: Buffer, vs: number, ve: number, kind: number, be: boolean): number | bigint {
    const n = ve - vs;
    switch (kind) {
      case K_U32:
        if (n !== 4) fault(`u32 needs 4 bytes, got ${n}`);
        return be ? buf.readUInt32BE(vs) : buf.readUInt32LE(vs);
      case K_U64:
        if (n !== 8) fault(`u64 needs 8 bytes, got ${n}`);
        return be ? u64FromParts(buf.readUInt32BE(vs), buf.readUInt32BE(vs + 4)) : u64FromParts(buf.readUInt32LE(vs + 4), buf.readUInt32LE(vs));
      case K_UINT:
        if (n === 4) return be ? buf.readUInt32BE(vs) : buf.readUInt32LE(vs);
        if (n === 8) return be ? u64FromParts(buf.readUInt32BE(vs), buf.readUInt32BE(vs + 4)) : u64FromParts(buf.readUInt32LE(vs + 4), buf.readUInt32LE(vs));
        return fault(`uint needs 4 or 8 bytes, got ${n}`);
      case K_U8:
        if (n !== 1) fault(`u8 needs 1 byte, got ${n}`);
        return buf[vs]!;
      case K_U16:
        if (n !== 2) fault(`u16 needs 2 bytes, got ${n}`);
        return be ? buf.readUInt16BE(vs) : buf.readUInt16LE(vs);
      case K_S8:
        if (n !== 1) fault(`s8 needs 1 byte, got ${n}`);
        return buf.readInt8(vs);
      case K_S16:
        if (n !== 2) fault(`s16 needs 2 bytes, got ${n}`);
        return be ? buf.readInt16BE(vs) : buf.readInt16LE(vs);
      case K_S32:
        if (n !== 4) fault(`s32 needs 4 bytes, got ${n}`);
        return be ? buf.readInt32BE(vs) : buf.readInt32LE(vs);
      case K_S64:
        if (n !== 8) fault(`s64 needs 8 bytes, got ${n}`);
        return be ? s64FromParts(buf.readInt32BE(vs), buf.readUInt32BE(vs + 4)) : s64FromParts(buf.readInt32LE(vs + 4), buf.readUInt32LE(vs));
      case K_SINT:
        if (n === 4) return be ? buf.readInt32BE(vs) : buf.readInt32LE(vs);
        if (n === 8) return be ? s64FromParts(buf.readInt32BE(vs), buf.readUInt32BE(vs + 4)) : s64FromParts(buf.readInt32LE(vs + 4), buf.readUInt32LE(vs));
        return fault(`sint needs 4 or 8 bytes, got ${n}`);
      default:
        return fault(`kind ${kind} is not a scalar`);
    }
  }

  private enumName(a: CAttr, v: number | bigint): YnlValue {
    const e = a.enumSpec as YnlEnum;
    if (!a.asFlags) {
      for (const x of e.entries) if (x.value === Number(v)) return x.name;
      return v;
    }
    const names: YnlValue[] = [];
    let rest = BigInt(v);
    for (const x of e.entries) {
      const m = BigInt(x.value);
      if ((rest & m) !== 0n) {
        names.push(x.name);
        rest &= ~m;
      }
    }
    // bits the spec does not name are kept as their numeric mask
    for (let bit = 0n; rest !== 0n; bit++) {
      if (rest & (1n << bit)) {
        names.push(Number(1n << bit));
        rest &= ~(1n << bit);
      }
    }
    return names;
  }

  private decodeValue(buf: Buffer, vs: number, ve: number, a: CAttr, depth: number): YnlValue {
    switch (a.kind) {
      case K_U8: case K_U16: case K_U32: case K_U64: case K_S8: case K_S16: case K_S32: case K_S64: case K_UINT: case K_SINT: {
        const v = this.scalar(buf, vs, ve, a.kind, a.be);
        return a.enumSpec ? this.enumName(a, v) : v;
      }
      case K_NEST:
        return this.decodeRange(buf, vs, ve, a.nested as CSet, depth + 1);
      case K_BINARY_ARRAY: {
        const n = ve - vs;
        const sz = a.subSize;
        if (n % sz !== 0) fault(`binary of ${a.spec.subType} has ${n} bytes, not a multiple of ${sz}`);
        const out: Array<number | bigint> = new Array(n / sz);
        if (a.subKind === K_U32 && !a.be) {
          for (let i = 0, p = vs; p < ve; i++, p += 4) out[i] = buf.readUInt32LE(p);
        } else {
          for (let i = 0, p = vs; p < ve; i++, p += sz) out[i] = this.scalar(buf, p, p + sz, a.subKind, a.be);
        }
        return out as YnlValue[];
      }
      case K_STRING: {
        let e = ve;
        // NUL-terminated normally; `unterminated-ok` strings may fill the attribute
        for (let p = vs; p < ve; p++) if (buf[p] === 0) { e = p; break; }
        try {
          return utf8.decode(buf.subarray(vs, e));
        } catch {
          return fault('string is not valid UTF-8');
        }
      }
      case K_FLAG:
        if (ve !== vs) fault(`flag has ${ve - vs} bytes of payload, expected none`);
        return true;
      case K_BINARY:
      case K_OPAQUE:
        return buf.subarray(vs, ve);
      case K_BITFIELD32:
        if (ve - vs !== 8) fault(`bitfield32 needs 8 bytes, got ${ve - vs}`);
        return { value: buf.readUInt32LE(vs), selector: buf.readUInt32LE(vs + 4) };
      case K_INDEXED_ARRAY: {
        const out: YnlValue[] = [];
        let off = vs;
        if (depth + 1 > this.maxDepth) fault(`nesting deeper than ${this.maxDepth} levels`);
        while (off < ve) {
          if (ve - off < 4) fault(`${ve - off} trailing bytes in indexed-array`);
          const len = buf.readUInt16LE(off);
          if (len < 4 || len > ve - off) fault(`indexed-array entry with nla_len ${len}, ${ve - off} bytes left`);
          try {
            if (a.subKind === K_NEST) {
              if (!a.nested) fault('indexed-array of nests without nested-attributes');
              out.push(this.decodeRange(buf, off + 4, off + len, a.nested, depth + 2));
            } else if (a.subKind === K_BINARY) {
              out.push(buf.subarray(off + 4, off + len));
            } else {
              out.push(this.scalar(buf, off + 4, off + len, a.subKind, a.be));
            }
          } catch (e) {
            if (e instanceof DecodeFault) e.segments.unshift(`[${out.length}]`);
            throw e;
          }
          off += align4(len);
        }
        return out;
      }
      default:
        return fault(`unsupported attribute kind ${a.kind}`);
    }
  }

  // ---------------------------------------------------------------- encode

  /**
   * Encode `obj` with attribute set `setName`. `allowed` (an op's request
   * attribute list) rejects attributes the op does not take.
   */
  encode(setName: string, obj: Record<string, unknown>, allowed?: readonly string[]): Buffer {
    const set = this.set(setName);
    const parts: Buffer[] = [];
    this.encodeInto(set, obj, setName, parts, allowed);
    return Buffer.concat(parts);
  }

  private encodeInto(set: CSet, obj: Record<string, unknown>, path: string, parts: Buffer[], allowed?: readonly string[]): void {
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      throw new NetlinkEncodeError(path, 'expected an object of attributes');
    }
    for (const [key, val] of Object.entries(obj)) {
      if (val === undefined) continue;
      const a = set.byName.get(key);
      const p = `${path}.${key}`;
      if (!a) {
        throw new NetlinkEncodeError(p, `attribute set "${set.name}" has no attribute "${key}" (it has: ${[...set.byName.keys()].join(', ')})`);
      }
      if (allowed && !allowed.includes(key)) {
        throw new NetlinkEncodeError(p, `this operation does not take "${key}" (it takes: ${allowed.join(', ') || 'nothing'})`);
      }
      if (a.multi) {
        if (!Array.isArray(val)) throw new NetlinkEncodeError(p, 'multi-attr needs an array');
        val.forEach((v, i) => this.encodeAttr(a, v, `${p}[${i}]`, parts));
      } else {
        this.encodeAttr(a, val, p, parts);
      }
    }
  }

  private header(type: number, len: number, nested: boolean): Buffer {
    const h = Buffer.alloc(4);
    h.writeUInt16LE(len + 4, 0);
    h.writeUInt16LE(type | (nested ? NLA_F_NESTED : 0), 2);
    return h;
  }

  private push(parts: Buffer[], type: number, payload: Buffer | Buffer[], nested = false): void {
    const chunks = Array.isArray(payload) ? payload : [payload];
    const len = chunks.reduce((n, c) => n + c.length, 0);
    if (len + 4 > 0xffff) throw new NetlinkEncodeError(`attribute type ${type}`, `${len + 4} bytes do not fit in nla_len`);
    parts.push(this.header(type, len, nested), ...chunks);
    const pad = align4(len) - len;
    if (pad) parts.push(Buffer.alloc(pad));
  }

  private toInt(a: CAttr, v: unknown, p: string): bigint {
    let x: unknown = v;
    if (a.enumSpec) {
      const e = a.enumSpec;
      const lookup = (n: unknown): bigint => {
        if (typeof n === 'number' || typeof n === 'bigint') return BigInt(n);
        const ent = e.entries.find((en) => en.name === n);
        if (!ent) throw new NetlinkEncodeError(p, `${JSON.stringify(n)} is not in ${e.type} "${e.name}" (${e.entries.map((en) => en.name).join(', ')})`);
        return BigInt(ent.value);
      };
      if (a.asFlags && Array.isArray(v)) return v.reduce((acc: bigint, n) => acc | lookup(n), 0n);
      if (typeof v === 'string') return lookup(v);
      x = v;
    }
    if (typeof x === 'number') {
      if (!Number.isInteger(x)) throw new NetlinkEncodeError(p, `${x} is not an integer`);
      return BigInt(x);
    }
    if (typeof x === 'bigint') return x;
    throw new NetlinkEncodeError(p, `expected an integer${a.enumSpec ? ` or a name from "${a.enumSpec.name}"` : ''}, got ${typeof x}`);
  }

  private encodeAttr(a: CAttr, v: unknown, p: string, parts: Buffer[]): void {
    const c = a.checks;
    switch (a.kind) {
      case K_U8: case K_U16: case K_U32: case K_U64: case K_S8: case K_S16: case K_S32: case K_S64: case K_UINT: case K_SINT: {
        const n = this.toInt(a, v, p);
        const t = a.spec.type;
        const signed = t.startsWith('s');
        let bytes = SCALAR_SIZE[t] ?? (n > 0xffffffffn || n < -0x80000000n ? 8 : 4);
        if (t === 'sint' && (n > 0x7fffffffn || n < -0x80000000n)) bytes = 8;
        const bits = BigInt(bytes * 8);
        const lo = signed ? -(1n << (bits - 1n)) : 0n;
        const hi = signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
        if (n < lo || n > hi) throw new NetlinkEncodeError(p, `${n} is out of range for ${t}`);
        if (c.min !== undefined && n < BigInt(c.min)) throw new NetlinkEncodeError(p, `${n} is below the minimum ${c.min}`);
        if (c.max !== undefined && n > BigInt(c.max)) throw new NetlinkEncodeError(p, `${n} is above the maximum ${c.max}`);
        const b = Buffer.alloc(bytes);
        if (bytes === 1) b.writeUInt8(Number(BigInt.asUintN(8, n)));
        else if (bytes === 2) a.be ? b.writeUInt16BE(Number(BigInt.asUintN(16, n))) : b.writeUInt16LE(Number(BigInt.asUintN(16, n)));
        else if (bytes === 4) a.be ? b.writeUInt32BE(Number(BigInt.asUintN(32, n))) : b.writeUInt32LE(Number(BigInt.asUintN(32, n)));
        else a.be ? b.writeBigUInt64BE(BigInt.asUintN(64, n)) : b.writeBigUInt64LE(BigInt.asUintN(64, n));
        this.push(parts, a.value, b);
        return;
      }
      case K_FLAG:
        if (typeof v !== 'boolean') throw new NetlinkEncodeError(p, 'a flag is true or false');
        if (v) this.push(parts, a.value, Buffer.alloc(0));
        return;
      case K_STRING: {
        if (typeof v !== 'string') throw new NetlinkEncodeError(p, `expected a string, got ${typeof v}`);
        if (v.includes('\0')) throw new NetlinkEncodeError(p, 'a string cannot contain NUL');
        const b = Buffer.from(v, 'utf8');
        if (c.maxLen !== undefined && b.length > c.maxLen) throw new NetlinkEncodeError(p, `${b.length} bytes, longer than max-len ${c.maxLen}`);
        if (c.minLen !== undefined && b.length < c.minLen) throw new NetlinkEncodeError(p, `${b.length} bytes, shorter than min-len ${c.minLen}`);
        this.push(parts, a.value, [b, Buffer.alloc(1)]);
        return;
      }
      case K_BINARY:
      case K_OPAQUE: {
        if (!(v instanceof Uint8Array)) throw new NetlinkEncodeError(p, 'expected a Buffer');
        this.checkLen(c, v.length, p);
        this.push(parts, a.value, Buffer.from(v));
        return;
      }
      case K_BINARY_ARRAY: {
        if (!Array.isArray(v)) throw new NetlinkEncodeError(p, `expected an array of ${a.spec.subType}`);
        const sub: CAttr = { ...a, kind: a.subKind, enumSpec: undefined, checks: {}, spec: { ...a.spec, type: a.spec.subType as YnlAttr['type'] } };
        const chunks: Buffer[] = [];
        v.forEach((x, i) => {
          const tmp: Buffer[] = [];
          this.encodeAttr(sub, x, `${p}[${i}]`, tmp);
          chunks.push((tmp[1] as Buffer).subarray(0, a.subSize));
        });
        const b = Buffer.concat(chunks);
        this.checkLen(c, b.length, p);
        this.push(parts, a.value, b);
        return;
      }
      case K_NEST: {
        const inner: Buffer[] = [];
        this.encodeInto(a.nested as CSet, v as Record<string, unknown>, p, inner);
        this.push(parts, a.value, inner, true);
        return;
      }
      case K_BITFIELD32: {
        const bf = v as { value?: unknown; selector?: unknown };
        if (typeof bf !== 'object' || bf === null || typeof bf.value !== 'number' || typeof bf.selector !== 'number') {
          throw new NetlinkEncodeError(p, 'bitfield32 needs { value, selector }');
        }
        const b = Buffer.alloc(8);
        b.writeUInt32LE(bf.value >>> 0, 0);
        b.writeUInt32LE(bf.selector >>> 0, 4);
        this.push(parts, a.value, b);
        return;
      }
      case K_INDEXED_ARRAY: {
        if (!Array.isArray(v)) throw new NetlinkEncodeError(p, 'indexed-array needs an array');
        const inner: Buffer[] = [];
        v.forEach((x, i) => {
          if (a.subKind === K_NEST) {
            const e: Buffer[] = [];
            this.encodeInto(a.nested as CSet, x as Record<string, unknown>, `${p}[${i}]`, e);
            this.push(inner, i + 1, e, true);
          } else {
            const sub: CAttr = { ...a, kind: a.subKind, value: i + 1, multi: false, enumSpec: undefined, checks: {}, spec: { ...a.spec, type: (a.spec.subType ?? 'u32') as YnlAttr['type'] } };
            this.encodeAttr(sub, x, `${p}[${i}]`, inner);
          }
        });
        this.push(parts, a.value, inner, true);
        return;
      }
      case K_SKIP:
        throw new NetlinkEncodeError(p, 'pad/unused attributes cannot be set');
      default:
        throw new NetlinkEncodeError(p, `unsupported attribute kind ${a.kind}`);
    }
  }

  private checkLen(c: YnlChecks, n: number, p: string): void {
    if (c.exactLen !== undefined && n !== c.exactLen) throw new NetlinkEncodeError(p, `${n} bytes, exact-len is ${c.exactLen}`);
    if (c.maxLen !== undefined && n > c.maxLen) throw new NetlinkEncodeError(p, `${n} bytes, longer than max-len ${c.maxLen}`);
    if (c.minLen !== undefined && n < c.minLen) throw new NetlinkEncodeError(p, `${n} bytes, shorter than min-len ${c.minLen}`);
  }
}
