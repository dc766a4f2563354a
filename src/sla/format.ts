/**
 * SLA values back to xenstore node values (what `vifq domain set` writes);
 * `parseGuestSla` / `parseHostSettings` read them back unchanged.
 */
import {
  GUEST_BASE, HOST_BASE, HOST_FIELDS, HOST_KEYS, SLA_FIELDS, SLA_KEYS, UPLINK_FIELDS, UPLINK_KEYS, type FieldCodec,
  type HostValues, type SlaValues, type UplinkValues,
} from './schema.js';

/** One node to write: absolute path and its text value. */
export interface SlaNodeWrite {
  readonly path: string;
  readonly value: string;
}

function formatFields<V>(dir: string, values: Partial<V>, keys: readonly (keyof V)[], fields: { readonly [K in keyof V]: FieldCodec<V[K]> }): SlaNodeWrite[] {
  const out: SlaNodeWrite[] = [];
  for (const k of keys) {
    const v = values[k];
    if (v !== undefined) out.push({ path: `${dir}/${fields[k].node}`, value: fields[k].format(v as V[typeof k]) });
  }
  return out;
}

/** The directory of a guest's SLA (handle null) or of one vif's overrides. */
export function slaDirectory(domid: number, handle: number | null): string {
  return handle === null ? GUEST_BASE(domid) : `${GUEST_BASE(domid)}/vif/${handle}`;
}

/** Nodes for the given SLA values of a guest (handle null) or one vif; absent keys are not written. */
export function formatSlaNodes(domid: number, handle: number | null, values: Partial<SlaValues>): SlaNodeWrite[] {
  return formatFields(slaDirectory(domid, handle), values, SLA_KEYS, SLA_FIELDS);
}

export function formatHostNodes(values: Partial<HostValues>): SlaNodeWrite[] {
  return formatFields(HOST_BASE, values, HOST_KEYS, HOST_FIELDS);
}

export function formatHostDefaultNodes(values: Partial<SlaValues>): SlaNodeWrite[] {
  return formatFields(`${HOST_BASE}/default`, values, SLA_KEYS, SLA_FIELDS);
}

export function formatUplinkNodes(ifname: string, values: Partial<UplinkValues>): SlaNodeWrite[] {
  return formatFields(`${HOST_BASE}/uplink/${ifname}`, values, UPLINK_KEYS, UPLINK_FIELDS);
}
