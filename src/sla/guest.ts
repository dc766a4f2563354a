/**
 * A guest's SLA nodes (everything under /local/domain/<domid>/vifq) to its
 * trusted guest-wide values and per-vif overrides, plus findings for every node
 * that was ignored.
 */
import { VifqError } from '../errors.js';
import { SlaGuestWritableDirectoryFinding, SlaUnknownNodeFinding, type SlaFinding } from './findings.js';
import { readNodeValue } from './read-node.js';
import { GUEST_BASE, SLA_FIELDS, SLA_KEY_BY_NODE, type SlaKey, type SlaValues } from './schema.js';
import type { PartialSourced, SlaSource, Sourced } from './sourced.js';
import { guestNodeDistrust, type SlaNode } from './trust.js';

export interface GuestSla {
  readonly domid: number;
  /** Values from /local/domain/<domid>/vifq/<name>. */
  readonly guest: PartialSourced<SlaValues>;
  /** Per-vif overrides from .../vifq/vif/<handle>/<name>, by handle. */
  readonly vifs: ReadonlyMap<number, PartialSourced<SlaValues>>;
}

export interface GuestSlaResult {
  readonly sla: GuestSla;
  readonly findings: readonly SlaFinding[];
}

/** A guest SLA asked for a domid that cannot be a guest (0 holds host settings). */
export class SlaDomidError extends VifqError {
  constructor(domid: number) {
    super(`domain ${domid} cannot carry a guest SLA`, { hint: 'guest domids are 1-32751; host settings live under /local/domain/0/vifq and are read with parseHostSettings()' });
  }
}

const DOMID_MAX = 32751;
const HANDLE = /^(0|[1-9][0-9]{0,9})$/;
const KNOWN = [...SLA_KEY_BY_NODE.keys(), 'vif/<handle>/'];

/** Parses the nodes of one guest; nodes outside its vifq directory are reported as unknown. */
export function parseGuestSla(domid: number, nodes: Iterable<SlaNode>): GuestSlaResult {
  if (!Number.isInteger(domid) || domid < 1 || domid > DOMID_MAX) throw new SlaDomidError(domid);
  const base = GUEST_BASE(domid);
  const findings: SlaFinding[] = [];
  const guest: PartialSourced<SlaValues> = {};
  const vifs = new Map<number, PartialSourced<SlaValues>>();

  for (const node of nodes) {
    const rel = node.path === base ? '' : node.path.startsWith(`${base}/`) ? node.path.slice(base.length + 1) : null;
    const parts = rel === null ? null : rel === '' ? [] : rel.split('/');
    const distrust = guestNodeDistrust(node.perms, domid);
    if (parts === null) {
      findings.push(new SlaUnknownNodeFinding(node.path, KNOWN.map((k) => `${base}/${k}`)));
      continue;
    }
    // directories: values ignored, but a guest-writable one lets the guest delete dom0's nodes
    const isDir = parts.length === 0 || (parts.length === 1 && parts[0] === 'vif') || (parts.length === 2 && parts[0] === 'vif' && HANDLE.test(parts[1] ?? ''));
    if (isDir) {
      if (distrust !== null) findings.push(new SlaGuestWritableDirectoryFinding(node.path, domid));
      continue;
    }
    let target: PartialSourced<SlaValues> | undefined;
    let name: string | undefined;
    let source: SlaSource;
    if (parts.length === 1) {
      target = guest;
      name = parts[0];
      source = 'guest';
    } else if (parts.length === 3 && parts[0] === 'vif' && HANDLE.test(parts[1] ?? '') && Number(parts[1]) <= 0x7fffffff) {
      const handle = Number(parts[1]);
      target = vifs.get(handle) ?? {};
      vifs.set(handle, target);
      name = parts[2];
      source = 'vif';
    } else {
      source = 'guest';
    }
    const key = name === undefined ? undefined : SLA_KEY_BY_NODE.get(name);
    if (target === undefined || key === undefined) {
      if (distrust === null) findings.push(new SlaUnknownNodeFinding(node.path, KNOWN.map((k) => `${base}/${k}`)));
      // an unknown node the guest wrote is its own business: it affects nothing
      continue;
    }
    assign(target, key, node, distrust, source, findings);
  }
  return { sla: { domid, guest, vifs }, findings };
}

function assign<K extends SlaKey>(target: PartialSourced<SlaValues>, key: K, node: SlaNode, distrust: string | null, source: SlaSource, findings: SlaFinding[]): void {
  const value = readNodeValue(node, SLA_FIELDS[key], distrust, findings);
  if (value !== undefined) (target as { [P in K]?: Sourced<SlaValues[K]> })[key] = { value, source, path: node.path };
}
