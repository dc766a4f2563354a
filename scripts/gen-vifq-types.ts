/**
 * gen-vifq-types.ts - TypeScript types of a generic netlink family from its YAML spec, in the
 * spirit of the kernel's ynl-gen-c.py: one interface per attribute set, request/reply types per
 * operation, the notifications by name, the family's consts, enums and multicast groups.
 *
 *   node --import tsx scripts/gen-vifq-types.ts            write src/vifq/generated.ts
 *   node --import tsx scripts/gen-vifq-types.ts --check    exit 1 if the checked-in file is stale
 *   ... [--spec kernel-patch/vifq.yaml] [--out src/vifq/generated.ts]
 *
 * The types say what the YNL codec (src/genl/ynl-codec.ts) decodes and accepts: every attribute
 * is optional (the kernel may leave any out), u64 and wider are `number | bigint` (bigint above
 * 2^53), enums are their entry names, multi-attr is an array. `checks` (min/max/len, named limits
 * such as `s32-max` or a const) are resolved by the spec loader and written into the doc comments.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { loadYnlSpecFile, type YnlAttr, type YnlChecks, type YnlOp, type YnlSpec } from '../src/genl/ynl-spec.js';

const REPO = resolve(fileURLToPath(new URL('..', import.meta.url)));

function pascal(s: string): string {
  return s.split(/[^A-Za-z0-9]+/).filter(Boolean).map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}

function constName(prefix: string, s: string): string {
  return `${prefix.toUpperCase()}_${s.replace(/[^A-Za-z0-9]+/g, '_').toUpperCase()}`;
}

function key(name: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? name : `'${name}'`;
}

function docComment(lines: string[], indent: string): string {
  const text = lines.flatMap((l) => l.trimEnd().split('\n')).map((l) => l.trimEnd());
  while (text.length && text[text.length - 1] === '') text.pop();
  if (text.length === 0) return '';
  if (text.length === 1) return `${indent}/** ${text[0]} */\n`;
  return `${indent}/**\n${text.map((l) => (l ? `${indent} * ${l}` : `${indent} *`)).join('\n')}\n${indent} */\n`;
}

function checksText(c: YnlChecks): string | undefined {
  const parts: string[] = [];
  if (c.min !== undefined) parts.push(`min ${String(c.min)}`);
  if (c.max !== undefined) parts.push(`max ${String(c.max)}`);
  if (c.minLen !== undefined) parts.push(`min-len ${c.minLen}`);
  if (c.maxLen !== undefined) parts.push(`max-len ${c.maxLen}`);
  if (c.exactLen !== undefined) parts.push(`exact-len ${c.exactLen}`);
  return parts.length ? `Checks: ${parts.join(', ')} (enforced when encoding).` : undefined;
}

class Generator {
  private readonly p: string;
  constructor(private readonly spec: YnlSpec, private readonly version: number, private readonly yaml: string) {
    this.p = pascal(spec.name);
  }

  setType(set: string): string {
    return `${this.p}${pascal(set)}Attrs`;
  }

  enumType(name: string): string {
    return `${this.p}${pascal(name)}`;
  }

  valueType(a: YnlAttr): string | undefined {
    let t: string;
    switch (a.type) {
      case 'pad': case 'unused': return undefined;
      case 'u8': case 'u16': case 'u32': case 's8': case 's16': case 's32':
        t = a.enum ? (this.spec.enums.get(a.enum)?.type === 'flags' || a.enumAsFlags ? `Array<${this.enumType(a.enum)} | number>` : `${this.enumType(a.enum)} | number`) : 'number';
        break;
      case 'u64': case 's64': case 'uint': case 'sint':
        t = a.enum ? `Array<${this.enumType(a.enum)} | number>` : 'number | bigint';
        break;
      case 'string': t = 'string'; break;
      case 'flag': t = 'true'; break;
      case 'binary': t = a.subType ? 'number[]' : 'Buffer'; break;
      case 'bitfield32': t = '{ value: number; selector: number }'; break;
      case 'nest': t = this.setType(a.nestedAttributes ?? ''); break;
      case 'indexed-array': t = a.nestedAttributes ? `${this.setType(a.nestedAttributes)}[]` : 'Array<number | bigint>'; break;
      default: t = 'Buffer'; break; // nest-type-value, sub-message: kept raw by the codec
    }
    return a.multiAttr ? (t.includes(' ') ? `Array<${t}>` : `${t}[]`) : t;
  }

  pick(set: string, attrs: readonly string[] | undefined): string {
    const names = (attrs ?? []).filter((n) => this.spec.attributeSets.get(set)?.attrs.some((a) => a.name === n && this.valueType(a)));
    return names.length ? `Pick<${this.setType(set)}, ${names.map((n) => `'${n}'`).join(' | ')}>` : 'Record<string, never>';
  }

  opTypes(op: YnlOp): Array<{ kind: string; name: string; type: string; doc: string }> {
    const base = `${this.p}${pascal(op.name)}`;
    const out: Array<{ kind: string; name: string; type: string; doc: string }> = [];
    const set = op.attributeSet;
    if (op.do?.request) out.push({ kind: 'do-request', name: `${base}Request`, type: this.pick(set, op.do.request), doc: `\`${op.name}\` do: request attributes.` });
    if (op.do?.reply) out.push({ kind: 'do-reply', name: `${base}Reply`, type: this.pick(set, op.do.reply), doc: `\`${op.name}\` do: reply attributes.` });
    if (op.dump) {
      if (op.dump.request) out.push({ kind: 'dump-request', name: `${base}DumpRequest`, type: this.pick(set, op.dump.request), doc: `\`${op.name}\` dump: request attributes.` });
      out.push({ kind: 'dump-reply', name: `${base}DumpReply`, type: this.pick(set, op.dump.reply), doc: `\`${op.name}\` dump: attributes of each object.` });
    }
    if (op.notify) {
      const target = this.spec.opsByName.get(op.notify);
      out.push({ kind: 'notification', name: `${base}Notification`, type: this.pick(set, target?.do?.reply ?? target?.dump?.reply), doc: `\`${op.name}\` notification (the reply of \`${op.notify}\`), multicast group \`${op.mcgrp ?? '?'}\`.` });
    }
    if (op.event) out.push({ kind: 'notification', name: `${base}Event`, type: this.pick(set, op.event), doc: `\`${op.name}\` event, multicast group \`${op.mcgrp ?? '?'}\`.` });
    return out;
  }

  render(specPath: string): string {
    const s = this.spec;
    const P = s.name.toUpperCase().replace(/[^A-Z0-9]+/g, '_');
    const o: string[] = [];
    o.push('/* SPDX-License-Identifier: MIT */');
    o.push('/* Do not edit directly, auto-generated from: */');
    o.push(`/*\t${specPath} */`);
    o.push('/* YNL-GEN ts (scripts/gen-vifq-types.ts; check with --check) */');
    o.push('/* eslint-disable */');
    o.push('');
    o.push(`/** The generic netlink family name and the version the spec describes. */`);
    o.push(`export const ${P}_FAMILY = { name: '${s.name}', version: ${this.version} } as const;`);
    o.push('');
    for (const [name, value] of s.consts) o.push(`export const ${constName(P, name)} = ${value};`);
    if (s.consts.size) o.push('');
    for (const e of s.enums.values()) {
      const names = e.entries.map((x) => `'${x.name}'`);
      o.push(`export const ${constName(P, e.name)}_NAMES = [${names.join(', ')}] as const;`);
      o.push(`export type ${this.enumType(e.name)} = (typeof ${constName(P, e.name)}_NAMES)[number];`);
      o.push('');
    }
    o.push(`export const ${P}_MCAST_GROUPS = [${s.mcastGroups.map((g) => `'${g}'`).join(', ')}] as const;`);
    o.push(`export type ${this.p}McastGroup = (typeof ${P}_MCAST_GROUPS)[number];`);
    o.push('');
    o.push('// ---- attribute sets');
    for (const set of s.attributeSets.values()) {
      o.push('');
      o.push(`export interface ${this.setType(set.name)} {`);
      for (const a of set.attrs) {
        const t = this.valueType(a);
        if (!t) continue;
        const lines = [a.doc ?? '', checksText(a.checks) ?? ''].filter(Boolean);
        const doc = docComment(lines, '  ').trimEnd();
        if (doc) o.push(doc);
        o.push(`  ${key(a.name)}?: ${t};`);
      }
      o.push('}');
    }
    o.push('');
    o.push('// ---- operations');
    const doOps: string[] = [];
    const dumpOps: string[] = [];
    const ntfs: string[] = [];
    for (const op of s.operations) {
      const types = this.opTypes(op);
      for (const t of types) {
        o.push('');
        o.push(docComment([t.doc], '').trimEnd());
        o.push(`export type ${t.name} = ${t.type};`);
      }
      const find = (k: string): string | undefined => types.find((t) => t.kind === k)?.name;
      if (op.do) doOps.push(`  ${key(op.name)}: { request: ${find('do-request') ?? 'Record<string, never>'}; reply: ${find('do-reply') ?? 'undefined'}; adminPerm: ${op.flags.includes('admin-perm')} };`);
      if (op.dump) dumpOps.push(`  ${key(op.name)}: { request: ${find('dump-request') ?? 'Record<string, never>'}; reply: ${find('dump-reply')} };`);
      const n = find('notification');
      if (n) ntfs.push(`  ${key(op.name)}: ${n};`);
    }
    o.push('');
    o.push('/** Operations that take a `do` request, by name. */');
    o.push(`export interface ${this.p}DoOps {`, ...doOps, '}');
    o.push('');
    o.push('/** Operations that can be dumped, by name. */');
    o.push(`export interface ${this.p}DumpOps {`, ...dumpOps, '}');
    o.push('');
    o.push('/** Notifications and events, by operation name (as YnlFamily reports them in `op`). */');
    o.push(`export interface ${this.p}Notifications {`, ...ntfs, '}');
    o.push(`export type ${this.p}NotificationName = keyof ${this.p}Notifications;`);
    o.push('');
    o.push('/** The multicast group each notification arrives on. */');
    o.push(`export const ${P}_NOTIFICATION_GROUPS: { readonly [K in ${this.p}NotificationName]: ${this.p}McastGroup } = {`);
    for (const op of s.operations) if (op.mcgrp && (op.notify || op.event)) o.push(`  ${key(op.name)}: '${op.mcgrp}',`);
    o.push('};');
    o.push('');
    o.push('/** The spec itself, so the codec needs no file at run time (parse with parseYnlSpec). */');
    o.push(`export const ${P}_SPEC_YAML = ${JSON.stringify(this.yaml)};`);
    o.push('');
    return o.join('\n');
  }
}

/** Generated text for a spec file (`specPath` as it should appear in the header). */
export function generate(specFile: string, specPath: string): string {
  const spec = loadYnlSpecFile(specFile);
  const text = readFileSync(specFile, 'utf8');
  const raw = parseYaml(text) as { version?: unknown };
  const version = typeof raw.version === 'number' ? raw.version : 1; // ynl-gen-c.py's default
  return new Generator(spec, version, text).render(specPath);
}

/** The command line; returns the exit status. */
export function main(argv: string[]): number {
  const opt = (name: string, dflt: string): string => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && argv[i + 1] ? (argv[i + 1] as string) : dflt;
  };
  const specFile = resolve(REPO, opt('spec', 'kernel-patch/vifq.yaml'));
  const outFile = resolve(REPO, opt('out', 'src/vifq/generated.ts'));
  const text = generate(specFile, relative(REPO, specFile));
  const rel = relative(REPO, outFile);
  if (argv.includes('--check')) {
    let current: string | undefined;
    try {
      current = readFileSync(outFile, 'utf8');
    } catch {
      current = undefined;
    }
    if (current === text) {
      console.log(`${rel} is up to date with ${relative(REPO, specFile)}`);
      return 0;
    }
    console.error(`${rel} is stale: ${relative(REPO, specFile)} changed. Run: node --import tsx scripts/gen-vifq-types.ts`);
    return 1;
  }
  writeFileSync(outFile, text);
  console.log(`wrote ${rel} from ${relative(REPO, specFile)}`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.slice(2));
