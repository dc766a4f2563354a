/**
 * Domains as the CLI names them: `/local/domain/<domid>/name` in xenstore. Resolving a
 * `<domid|name>` argument, and the names of the domids vifqd reports.
 */
import { VifqError } from '../errors.js';
import { XenstoreClient } from '../xenstore/client.js';
import { defaultConnector } from '../xenstore/transport.js';
import type { XsOps } from '../xenstore/ops.js';

/** The CLI's xenstore connection: one attempt, no reconnect, short deadline. */
export function openXenstore(timeoutMs = 2000): Promise<XenstoreClient> {
  return XenstoreClient.open({ connector: defaultConnector(), connectAttempts: 1, reconnect: false, timeoutMs });
}

/** domid -> name of every domain xenstore lists (a domain without a name node is left out). */
export async function domainNames(xs: Pick<XsOps, 'directory' | 'tryRead'>): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for (const d of await xs.directory('/local/domain')) {
    if (!/^\d+$/.test(d)) continue;
    const name = await xs.tryRead(`/local/domain/${d}/name`);
    if (name !== undefined) out.set(Number(d), name);
  }
  return out;
}

export class UnknownDomainArgError extends VifqError {
  constructor(readonly arg: string, known: ReadonlyMap<number, string>) {
    const list = [...known].map(([id, n]) => `${n} (${id})`).join(', ');
    super(`no domain is called or numbered '${arg}'`, { hint: list ? `domains: ${list}` : 'xenstore lists no domain: is this dom0? (xl list)', exitCode: 4 });
  }
}

export class AmbiguousDomainError extends VifqError {
  constructor(readonly arg: string, readonly domids: readonly number[]) {
    super(`${domids.length} domains are called '${arg}': ${domids.join(', ')}`, { hint: 'name the domain by its domid instead' });
  }
}

/** `<domid|name>` -> domid and name: a number is a domid (it must exist), else a unique name. */
export function resolveDomain(arg: string, names: ReadonlyMap<number, string>): { domid: number; name: string | null } {
  if (/^\d+$/.test(arg)) {
    const domid = Number(arg);
    if (!names.has(domid) && domid !== 0) throw new UnknownDomainArgError(arg, names);
    return { domid, name: names.get(domid) ?? null };
  }
  const hits = [...names].filter(([, n]) => n === arg).map(([id]) => id);
  if (hits.length === 0) throw new UnknownDomainArgError(arg, names);
  if (hits.length > 1) throw new AmbiguousDomainError(arg, hits);
  return { domid: hits[0] ?? 0, name: arg };
}

/** Domain 0 named where a guest is needed. */
export class NotAGuestError extends VifqError {
  constructor() {
    super('domain 0 carries no guest SLA', { hint: 'name a guest (xl list); host settings live under /local/domain/0/vifq', exitCode: 2 });
  }
}

/** Opens xenstore, resolves `<domid|name>` to a guest (not dom0), runs `fn`, closes. */
export async function withDomain<T>(arg: string, fn: (xs: XenstoreClient, domid: number, name: string | null) => Promise<T>): Promise<T> {
  const xs = await openXenstore();
  try {
    const { domid, name } = resolveDomain(arg, await domainNames(xs));
    if (domid === 0) throw new NotAGuestError();
    return await fn(xs, domid, name);
  } finally {
    await xs.close();
  }
}
