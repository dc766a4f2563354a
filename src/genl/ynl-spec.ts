/**
 * Loader for netdev-style YAML netlink specs (Documentation/netlink/specs/
 * *.yaml, protocols `genetlink` and `genetlink-legacy`): definitions (enums,
 * flags, consts), attribute sets (incl. subset-of), operations (unified or
 * directional numbering) and multicast groups, normalised into plain data
 * the codec compiles. Pure: no I/O besides loadYnlSpecFile().
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { YnlSpecError } from './errors.js';

export const SCALAR_TYPES = ['u8', 'u16', 'u32', 'u64', 's8', 's16', 's32', 's64', 'uint', 'sint'] as const;
export type ScalarType = (typeof SCALAR_TYPES)[number];
export const ATTR_TYPES = [
  ...SCALAR_TYPES, 'flag', 'string', 'binary', 'nest', 'pad', 'unused', 'bitfield32', 'indexed-array',
  'nest-type-value', 'sub-message',
] as const;
export type AttrType = (typeof ATTR_TYPES)[number];

export interface YnlChecks {
  min?: number | bigint;
  max?: number | bigint;
  minLen?: number;
  maxLen?: number;
  exactLen?: number;
  unterminatedOk?: boolean;
}

export interface YnlAttr {
  name: string;
  value: number;
  type: AttrType;
  multiAttr: boolean;
  nestedAttributes: string | undefined;
  subType: string | undefined;
  enum: string | undefined;
  enumAsFlags: boolean;
  bigEndian: boolean;
  checks: YnlChecks;
  doc: string | undefined;
}

export interface YnlAttrSet {
  name: string;
  subsetOf: string | undefined;
  attrs: YnlAttr[];
}

export interface YnlEnumEntry {
  name: string;
  /** for `flags`, the mask (1 << bit) */
  value: number;
}

export interface YnlEnum {
  name: string;
  type: 'enum' | 'flags';
  entries: YnlEnumEntry[];
}

export interface YnlOpMode {
  request: string[] | undefined;
  reply: string[] | undefined;
}

export interface YnlOp {
  name: string;
  /** cmd of requests (undefined: the op cannot be requested, e.g. a notification) */
  requestValue: number | undefined;
  /** cmd of replies and notifications */
  replyValue: number | undefined;
  attributeSet: string;
  do: YnlOpMode | undefined;
  dump: YnlOpMode | undefined;
  /** op whose reply format this notification uses */
  notify: string | undefined;
  /** attributes of an event */
  event: string[] | undefined;
  mcgrp: string | undefined;
  flags: string[];
}

export interface YnlSpec {
  name: string;
  protocol: 'genetlink' | 'genetlink-legacy';
  /** file path or label, for messages */
  source: string;
  consts: Map<string, number>;
  enums: Map<string, YnlEnum>;
  attributeSets: Map<string, YnlAttrSet>;
  operations: YnlOp[];
  opsByName: Map<string, YnlOp>;
  /** reply/notification cmd -> op (the first declared wins for shared values) */
  opsByReplyValue: Map<number, YnlOp>;
  mcastGroups: string[];
}

type Y = Record<string, unknown>;

function isObj(v: unknown): v is Y {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function list(v: unknown, src: string, what: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new YnlSpecError(src, `${what} must be a list`);
  return v;
}

function str(v: unknown, src: string, what: string): string {
  if (typeof v !== 'string' || v === '') throw new YnlSpecError(src, `${what} must be a non-empty string`);
  return v;
}

function optStr(v: unknown, src: string, what: string): string | undefined {
  return v === undefined || v === null ? undefined : str(v, src, what);
}

function int(v: unknown, src: string, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new YnlSpecError(src, `${what} must be an integer`);
  return v;
}

/** `u32-max`, `s16-min`... as in the kernel's YNL. */
function limitValue(v: unknown, consts: Map<string, number>, src: string, what: string): number | bigint {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string') {
    const m = /^([us])(8|16|32|64)-(min|max)$/.exec(v);
    if (m) {
      const bits = BigInt(m[2] as string);
      const signed = m[1] === 's';
      let r: bigint;
      if (m[3] === 'max') r = signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
      else r = signed ? -(1n << (bits - 1n)) : 0n;
      return r >= BigInt(Number.MIN_SAFE_INTEGER) && r <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(r) : r;
    }
    const c = consts.get(v);
    if (c !== undefined) return c;
  }
  throw new YnlSpecError(src, `${what}: cannot understand limit ${JSON.stringify(v)}`);
}

function parseChecks(v: unknown, consts: Map<string, number>, src: string, what: string): YnlChecks {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) throw new YnlSpecError(src, `${what}.checks must be a map`);
  const c: YnlChecks = {};
  const lenOf = (k: string): number => {
    const x = limitValue(v[k], consts, src, `${what}.checks.${k}`);
    if (typeof x !== 'number') throw new YnlSpecError(src, `${what}.checks.${k} is too large`);
    return x;
  };
  if (v.min !== undefined) c.min = limitValue(v.min, consts, src, `${what}.checks.min`);
  if (v.max !== undefined) c.max = limitValue(v.max, consts, src, `${what}.checks.max`);
  if (v['min-len'] !== undefined) c.minLen = lenOf('min-len');
  if (v['max-len'] !== undefined) c.maxLen = lenOf('max-len');
  if (v['exact-len'] !== undefined) c.exactLen = lenOf('exact-len');
  if (v['unterminated-ok'] !== undefined) c.unterminatedOk = Boolean(v['unterminated-ok']);
  return c;
}

function parseMode(v: unknown, src: string, what: string): YnlOpMode | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw new YnlSpecError(src, `${what} must be a map`);
  const attrs = (m: unknown, w: string): string[] | undefined => {
    if (m === undefined || m === null) return undefined;
    if (!isObj(m)) throw new YnlSpecError(src, `${w} must be a map`);
    return list(m.attributes, src, `${w}.attributes`).map((a, i) => str(a, src, `${w}.attributes[${i}]`));
  };
  return { request: attrs(v.request, `${what}.request`), reply: attrs(v.reply, `${what}.reply`) };
}

/** Parse spec text. `source` names it in errors. */
export function parseYnlSpec(text: string, source = 'spec'): YnlSpec {
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 1000 });
  } catch (e) {
    throw new YnlSpecError(source, `not valid YAML: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!isObj(doc)) throw new YnlSpecError(source, 'top level must be a map');
  const name = str(doc.name, source, 'name');
  const protocol = (doc.protocol ?? 'genetlink') as string;
  if (protocol !== 'genetlink' && protocol !== 'genetlink-legacy' && protocol !== 'genetlink-c') {
    throw new YnlSpecError(source, `protocol "${protocol}" is not supported (genetlink, genetlink-c, genetlink-legacy are)`);
  }
  if (isObj(doc.operations) && doc.operations['fixed-header'] !== undefined) {
    throw new YnlSpecError(source, 'operations.fixed-header is not supported yet');
  }

  const consts = new Map<string, number>();
  const enums = new Map<string, YnlEnum>();
  for (const [i, d] of list(doc.definitions, source, 'definitions').entries()) {
    if (!isObj(d)) throw new YnlSpecError(source, `definitions[${i}] must be a map`);
    const dname = str(d.name, source, `definitions[${i}].name`);
    if (d.type === 'const') {
      consts.set(dname, int(d.value, source, `definitions.${dname}.value`));
    } else if (d.type === 'enum' || d.type === 'flags') {
      const start = d['value-start'] === undefined ? 0 : int(d['value-start'], source, `definitions.${dname}.value-start`);
      let next = start;
      const entries: YnlEnumEntry[] = [];
      for (const [j, e] of list(d.entries, source, `definitions.${dname}.entries`).entries()) {
        const ename = typeof e === 'string' ? e : isObj(e) ? str(e.name, source, `definitions.${dname}.entries[${j}].name`) : '';
        if (!ename) throw new YnlSpecError(source, `definitions.${dname}.entries[${j}] must be a name or a map`);
        const v = isObj(e) && e.value !== undefined ? int(e.value, source, `definitions.${dname}.${ename}.value`) : next;
        next = v + 1;
        if (d.type === 'flags' && v > 52) throw new YnlSpecError(source, `definitions.${dname}.${ename}: bit ${v} is too high`);
        entries.push({ name: ename, value: d.type === 'flags' ? 2 ** v : v });
      }
      enums.set(dname, { name: dname, type: d.type, entries });
    }
    // struct (genetlink-legacy): binary attributes with `struct:` stay raw Buffers.
  }

  const attributeSets = new Map<string, YnlAttrSet>();
  const rawSets = list(doc['attribute-sets'], source, 'attribute-sets');
  const byName = new Map<string, Y>();
  for (const [i, s] of rawSets.entries()) {
    if (!isObj(s)) throw new YnlSpecError(source, `attribute-sets[${i}] must be a map`);
    byName.set(str(s.name, source, `attribute-sets[${i}].name`), s);
  }
  const parseSet = (s: Y): YnlAttrSet => {
    const sname = s.name as string;
    const subsetOf = optStr(s['subset-of'], source, `${sname}.subset-of`);
    const attrs: YnlAttr[] = [];
    if (subsetOf) {
      const parent = attributeSets.get(subsetOf) ?? (byName.has(subsetOf) ? parseSet(byName.get(subsetOf) as Y) : undefined);
      if (!parent) throw new YnlSpecError(source, `${sname}: subset-of unknown set "${subsetOf}"`);
      for (const [j, a] of list(s.attributes, source, `${sname}.attributes`).entries()) {
        if (!isObj(a)) throw new YnlSpecError(source, `${sname}.attributes[${j}] must be a map`);
        const an = str(a.name, source, `${sname}.attributes[${j}].name`);
        const pa = parent.attrs.find((x) => x.name === an);
        if (!pa) throw new YnlSpecError(source, `${sname}: attribute "${an}" is not in ${subsetOf}`);
        const over = a['nested-attributes'] === undefined ? {} : { nestedAttributes: str(a['nested-attributes'], source, `${sname}.${an}.nested-attributes`) };
        attrs.push({ ...pa, ...over });
      }
    } else {
      let next = 1;
      for (const [j, a] of list(s.attributes, source, `${sname}.attributes`).entries()) {
        if (!isObj(a)) throw new YnlSpecError(source, `${sname}.attributes[${j}] must be a map`);
        const an = str(a.name, source, `${sname}.attributes[${j}].name`);
        const what = `${sname}.${an}`;
        const type = str(a.type, source, `${what}.type`) as AttrType;
        if (!(ATTR_TYPES as readonly string[]).includes(type)) throw new YnlSpecError(source, `${what}: unknown type "${type}"`);
        const value = a.value === undefined ? next : int(a.value, source, `${what}.value`);
        next = value + 1;
        const nested = optStr(a['nested-attributes'], source, `${what}.nested-attributes`);
        if (type === 'nest' && !nested) throw new YnlSpecError(source, `${what}: a nest needs nested-attributes`);
        const en = optStr(a.enum, source, `${what}.enum`);
        attrs.push({
          name: an,
          value,
          type,
          multiAttr: a['multi-attr'] === true,
          nestedAttributes: nested,
          subType: optStr(a['sub-type'], source, `${what}.sub-type`),
          enum: en,
          enumAsFlags: a['enum-as-flags'] === true,
          bigEndian: a['byte-order'] === 'big-endian',
          checks: parseChecks(a.checks, consts, source, what),
          doc: typeof a.doc === 'string' ? a.doc : undefined,
        });
      }
    }
    const set = { name: sname, subsetOf, attrs };
    attributeSets.set(sname, set);
    return set;
  };
  for (const s of rawSets) if (!attributeSets.has((s as Y).name as string)) parseSet(s as Y);

  // Cross-references: nested sets and enums must exist.
  for (const set of attributeSets.values()) {
    for (const a of set.attrs) {
      if (a.nestedAttributes && !attributeSets.has(a.nestedAttributes)) {
        throw new YnlSpecError(source, `${set.name}.${a.name}: nested-attributes "${a.nestedAttributes}" is not defined`);
      }
      if (a.enum && !enums.has(a.enum)) {
        // e.g. ethtool's `stringset` enum with no entries rendered elsewhere: keep numbers
        a.enum = undefined;
      }
    }
  }

  const ops: YnlOp[] = [];
  const opsDoc = isObj(doc.operations) ? doc.operations : {};
  const directional = opsDoc['enum-model'] === 'directional';
  let reqVal = 1;
  let rspVal = 1;
  let val = 1;
  for (const [i, o] of list(opsDoc.list, source, 'operations.list').entries()) {
    if (!isObj(o)) throw new YnlSpecError(source, `operations.list[${i}] must be a map`);
    const oname = str(o.name, source, `operations.list[${i}].name`);
    const doMode = parseMode(o.do, source, `${oname}.do`);
    const dumpMode = parseMode(o.dump, source, `${oname}.dump`);
    const notify = optStr(o.notify, source, `${oname}.notify`);
    const event = isObj(o.event) ? list(o.event.attributes, source, `${oname}.event.attributes`).map((x) => String(x)) : undefined;
    let requestValue: number | undefined;
    let replyValue: number | undefined;
    if (!directional) {
      if (o.value !== undefined) val = int(o.value, source, `${oname}.value`);
      requestValue = notify || event ? undefined : val;
      replyValue = val;
      val++;
    } else {
      // Same rules as tools/net/ynl/lib/nlspec.py _dictify_ops_directional
      if (notify || event) {
        if (o.value !== undefined) rspVal = int(o.value, source, `${oname}.value`);
        replyValue = rspVal;
        rspVal++;
      } else if (doMode || dumpMode) {
        const mode = (doMode ?? dumpMode) as YnlOpMode;
        const rawMode = (isObj(o.do) ? o.do : o.dump) as Y;
        if (isObj(rawMode.request) && rawMode.request.value !== undefined) reqVal = int(rawMode.request.value, source, `${oname}.request.value`);
        if (isObj(rawMode.reply) && rawMode.reply.value !== undefined) rspVal = int(rawMode.reply.value, source, `${oname}.reply.value`);
        requestValue = reqVal;
        reqVal++;
        if (mode.reply) {
          replyValue = rspVal;
          rspVal++;
        }
      } else {
        throw new YnlSpecError(source, `${oname}: a directional op needs do, dump, notify or event`);
      }
    }
    const attributeSet = optStr(o['attribute-set'], source, `${oname}.attribute-set`);
    ops.push({
      name: oname, requestValue, replyValue, attributeSet: attributeSet ?? '', do: doMode, dump: dumpMode, notify, event,
      mcgrp: optStr(o.mcgrp, source, `${oname}.mcgrp`),
      flags: list(o.flags, source, `${oname}.flags`).map((f) => String(f)),
    });
  }
  const opsByName = new Map(ops.map((o) => [o.name, o]));
  for (const o of ops) {
    if (o.notify) {
      const target = opsByName.get(o.notify);
      if (!target) throw new YnlSpecError(source, `${o.name}: notify of unknown op "${o.notify}"`);
      o.attributeSet ||= target.attributeSet;
    }
    if (!o.attributeSet) throw new YnlSpecError(source, `${o.name}: no attribute-set`);
    if (!attributeSets.has(o.attributeSet)) throw new YnlSpecError(source, `${o.name}: attribute-set "${o.attributeSet}" is not defined`);
  }
  const opsByReplyValue = new Map<number, YnlOp>();
  for (const o of ops) if (o.replyValue !== undefined && !opsByReplyValue.has(o.replyValue)) opsByReplyValue.set(o.replyValue, o);

  const mcastDoc = isObj(doc['mcast-groups']) ? doc['mcast-groups'] : {};
  const mcastGroups = list(mcastDoc.list, source, 'mcast-groups.list').map((g, i) =>
    str(isObj(g) ? g.name : undefined, source, `mcast-groups.list[${i}].name`));

  return {
    name, protocol: protocol === 'genetlink-c' ? 'genetlink' : protocol, source, consts, enums, attributeSets,
    operations: ops, opsByName, opsByReplyValue, mcastGroups,
  };
}

export function loadYnlSpecFile(path: string): YnlSpec {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new YnlSpecError(path, `cannot read it: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return parseYnlSpec(text, path);
}
