/**
 * Which SLA nodes to believe. xenstore permissions (docs/misc/xenstore.txt):
 * the first entry names the owner, who has full access, and its letter is the
 * access of every domain not listed after it; a later entry gives one domain
 * its own access (the first entry for a domain wins). Structurally the same
 * as `XsPerms` of src/xenstore/perms.ts, restated here so this pure layer
 * imports nothing of the xenstore client.
 */
export type SlaAccess = 'none' | 'read' | 'write' | 'both';

export interface SlaPerm {
  readonly domid: number;
  readonly access: SlaAccess;
}

/** `[owner-and-default, ...explicit entries]`. */
export type SlaPerms = readonly [SlaPerm, ...SlaPerm[]];

/** One node as read from xenstore: absolute path, raw bytes, permissions. */
export interface SlaNode {
  readonly path: string;
  /** The raw value (a Buffer is a Uint8Array); may be any bytes. */
  readonly value: Uint8Array;
  readonly perms: SlaPerms;
}

const writes = (a: SlaAccess): boolean => a === 'write' || a === 'both';

/** The access `domid` has, as xenstored decides it (ignoring dom0's privilege). */
export function accessOf(perms: SlaPerms, domid: number): SlaAccess {
  const [owner, ...rest] = perms;
  if (owner.domid === domid) return 'both';
  return (rest.find((p) => p.domid === domid) ?? owner).access;
}

/**
 * Why a guest's SLA node is not to be trusted, or null when it is: dom0 must
 * own it and `guestDomid` must not be able to write it.
 */
export function guestNodeDistrust(perms: SlaPerms, guestDomid: number): string | null {
  const owner = perms[0].domid;
  if (owner !== 0) return owner === guestDomid ? `it is owned by the guest (domain ${guestDomid})` : `it is owned by domain ${owner}, not dom0`;
  if (writes(accessOf(perms, guestDomid))) return `domain ${guestDomid} may write it`;
  return null;
}

/**
 * Why a host setting under /local/domain/0/vifq is not to be trusted, or null:
 * dom0 must own it and no other domain may write it (the default access of
 * the owner entry included).
 */
export function hostNodeDistrust(perms: SlaPerms): string | null {
  const [owner, ...rest] = perms;
  if (owner.domid !== 0) return `it is owned by domain ${owner.domid}, not dom0`;
  if (writes(owner.access)) return 'every domain may write it (the owner entry grants write to all others)';
  const seen = new Set<number>();
  for (const p of rest) {
    if (seen.has(p.domid)) continue; // a later entry for the same domain has no effect
    seen.add(p.domid);
    if (p.domid !== 0 && writes(p.access)) return `domain ${p.domid} may write it`;
  }
  return null;
}
