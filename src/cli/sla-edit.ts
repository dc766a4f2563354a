/**
 * `vifq domain set|reset`: flag values through the SLA schema's own parsers (the ones vifqd
 * reads the nodes with), written to xenstore in one transaction, dom0-owned and guest
 * read-only (`n0 r<domid>`), so vifqd trusts them and the guest cannot change them.
 */
import { VifqError } from '../errors.js';
import { SLA_FIELDS, SLA_KEYS, formatSlaNodes, slaDirectory, type SlaKey, type SlaValues } from '../sla/index.js';
import type { XenstoreClient } from '../xenstore/client.js';
import type { XsPerm } from '../xenstore/perms.js';

/** A `domain set` value the SLA schema refuses; nothing was written. */
export class SlaArgumentError extends VifqError {
  constructor(readonly flag: string, readonly text: string, problem: string, hint: string) {
    super(`--${flag} ${text}: ${problem}`, { hint: `${hint}; nothing was written`, exitCode: 2 });
  }
}

export class NothingToSetError extends VifqError {
  constructor() {
    super('domain set: no value given', { hint: `give at least one of ${SLA_KEYS.map((k) => `--${SLA_FIELDS[k].node}`).join(', ')}`, exitCode: 2 });
  }
}

/** The flags' raw texts (by node name: `pending-bytes`...) -> SLA values; the first bad one throws. */
export function parseSlaArgs(texts: Readonly<Record<string, string | undefined>>): Partial<SlaValues> {
  const out: Partial<Record<SlaKey, unknown>> = {};
  for (const k of SLA_KEYS) {
    const field = SLA_FIELDS[k];
    const text = texts[field.node];
    if (text === undefined) continue;
    const r = field.parse(text);
    if (!r.ok) throw new SlaArgumentError(field.node, text, r.problem.message, r.problem.hint);
    out[k] = r.value;
  }
  if (Object.keys(out).length === 0) throw new NothingToSetError();
  return out as Partial<SlaValues>;
}

/** dom0 owns it, nobody else has access, except the guest, which may read it. */
export function slaPerms(domid: number): XsPerm[] {
  return [{ domid: 0, access: 'none' }, { domid, access: 'read' }];
}

export interface SlaWrite {
  path: string;
  value: string;
}

/**
 * Writes the values in one transaction (retried whole on a conflict): the directories from
 * /local/domain/<domid>/vifq down and every node, each with `slaPerms`.
 */
export async function writeSla(xs: Pick<XenstoreClient, 'transaction'>, domid: number, handle: number | null, values: Partial<SlaValues>): Promise<SlaWrite[]> {
  const nodes = formatSlaNodes(domid, handle, values);
  const perms = slaPerms(domid);
  const dirs = handle === null ? [slaDirectory(domid, null)] : [slaDirectory(domid, null), `${slaDirectory(domid, null)}/vif`, slaDirectory(domid, handle)];
  await xs.transaction(async (tx) => {
    for (const d of dirs) {
      await tx.mkdir(d);
      await tx.setPerms(d, perms);
    }
    for (const n of nodes) {
      await tx.write(n.path, n.value);
      await tx.setPerms(n.path, perms);
    }
  });
  return nodes.map((n) => ({ path: n.path, value: n.value }));
}

/** Removes the guest's SLA (handle null: all of it, per-vif overrides included) or one vif's overrides. */
export async function resetSla(xs: Pick<XenstoreClient, 'transaction'>, domid: number, handle: number | null): Promise<{ removed: string; existed: boolean }> {
  const dir = slaDirectory(domid, handle);
  const existed = await xs.transaction(async (tx) => {
    const had = (await tx.tryRead(dir)) !== undefined;
    if (had) await tx.rm(dir);
    return had;
  });
  return { removed: dir, existed };
}
