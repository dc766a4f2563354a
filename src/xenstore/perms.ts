/**
 * xenstore permission lists. On the wire each entry is a letter and a domid:
 * `n0` (no access), `r5` (read), `w5` (write), `b5` (both). The first entry
 * names the owner, who always has full access, and its letter is the access
 * of every domain not listed after it (docs/misc/xenstore.txt, and
 * `perm_for_conn()` in xenstored).
 */
import { XsProtocolError, XsInvalidError, type XsRequestContext } from './errors.js';

export type XsAccess = 'none' | 'read' | 'write' | 'both';

export interface XsPerm {
  domid: number;
  access: XsAccess;
}

/** A permission list: `[owner-and-default, ...explicit grants]`, never empty. */
export type XsPerms = readonly [XsPerm, ...XsPerm[]];

const letterToAccess: Record<string, XsAccess> = { n: 'none', r: 'read', w: 'write', b: 'both' };
const accessToLetter: Record<XsAccess, string> = { none: 'n', read: 'r', write: 'w', both: 'b' };

const DOMID_MAX = 0xffff; // domids are 16 bit, DOMID_* specials included

/** One `<letter><domid>` string; anything else is an `XsProtocolError('malformed')`. */
export function parsePerm(s: string, ctx: XsRequestContext = {}): XsPerm {
  const m = /^([nrwb])(0|[1-9][0-9]{0,4})$/.exec(s);
  const access = m?.[1] === undefined ? undefined : letterToAccess[m[1]];
  const domid = m?.[2] === undefined ? NaN : Number(m[2]);
  if (access === undefined || !(domid <= DOMID_MAX)) {
    throw new XsProtocolError('malformed', `xenstore permission ${JSON.stringify(s)} is not <n|r|w|b><domid 0..65535>`, ctx);
  }
  return { domid, access };
}

/** Parses the strings of an `XS_GET_PERMS` reply. */
export function parsePerms(list: readonly string[], ctx: XsRequestContext = {}): XsPerms {
  const perms = list.map((s) => parsePerm(s, ctx));
  const [owner, ...rest] = perms;
  if (owner === undefined) {
    throw new XsProtocolError('malformed', 'xenstore permission list is empty; it always names an owner', ctx);
  }
  return [owner, ...rest];
}

/** The wire strings for a permission list. Throws `XsInvalidError` for bad input. */
export function formatPerms(perms: readonly XsPerm[], ctx: XsRequestContext = {}): string[] {
  if (perms.length === 0) {
    throw new XsInvalidError(ctx, { detail: 'a permission list needs at least the owner entry' });
  }
  return perms.map((p) => {
    const letter = (accessToLetter as Record<string, string | undefined>)[p.access];
    if (letter === undefined || !Number.isInteger(p.domid) || p.domid < 0 || p.domid > DOMID_MAX) {
      throw new XsInvalidError(ctx, { detail: `permission ${JSON.stringify(p)} needs access none|read|write|both and a domid 0..65535` });
    }
    return `${letter}${p.domid}`;
  });
}

/**
 * The access `domid` has to a node with these permissions, as xenstored
 * decides it (ignoring dom0's privilege and SET_TARGET stub-domain links):
 * the owner has both; else the first explicit entry for `domid` after the
 * owner's; else the owner entry's access (the default).
 */
export function effectiveAccess(perms: XsPerms, domid: number): XsAccess {
  const [owner, ...rest] = perms;
  if (owner.domid === domid) return 'both';
  const explicit = rest.find((p) => p.domid === domid);
  return (explicit ?? owner).access;
}

export function canWrite(access: XsAccess): boolean {
  return access === 'write' || access === 'both';
}

export function canRead(access: XsAccess): boolean {
  return access === 'read' || access === 'both';
}

/**
 * The trust rule for SLA nodes: the node is owned by dom0 and `guestDomid`
 * can neither write it nor is its owner. (A stub domain that xenstored links
 * to the guest with SET_TARGET gets the guest's rights; this check covers the
 * guest's own domid only.)
 */
export function ownedByDom0AndNotGuestWritable(perms: XsPerms, guestDomid: number): boolean {
  return perms[0].domid === 0 && guestDomid !== 0 && !canWrite(effectiveAccess(perms, guestDomid));
}
