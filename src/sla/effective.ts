/**
 * The SLA that applies to one vif, each value with its source. Precedence:
 * per-vif override > guest node > host default > built-in default.
 */
import type { GuestSla } from './guest.js';
import type { HostSettings } from './host.js';
import { SLA_DEFAULTS, SLA_KEYS, type SlaKey, type SlaValues } from './schema.js';
import type { PartialSourced, Sourced, SourcedFields } from './sourced.js';

export interface EffectiveSla {
  readonly domid: number;
  readonly handle: number;
  readonly fields: SourcedFields<SlaValues>;
}

export function effectiveSla(host: HostSettings, guest: GuestSla | null, domid: number, handle: number): EffectiveSla {
  const layers: Array<PartialSourced<SlaValues> | undefined> = [guest?.vifs.get(handle), guest?.guest, host.guestDefaults];
  const pick = <K extends SlaKey>(key: K): Sourced<SlaValues[K]> => {
    for (const layer of layers) {
      const v = layer?.[key];
      if (v !== undefined) return v as Sourced<SlaValues[K]>;
    }
    return { value: SLA_DEFAULTS[key], source: 'default', path: null };
  };
  return {
    domid,
    handle,
    fields: { priority: pick('priority'), weight: pick('weight'), pendingBytes: pick('pendingBytes'), pendingPackets: pick('pendingPackets'), timeoutMs: pick('timeoutMs') },
  };
}

/** The plain values of an effective SLA (what the policy needs). */
export function slaValues(sla: EffectiveSla): SlaValues {
  const out = {} as Record<SlaKey, unknown>;
  for (const k of SLA_KEYS) out[k] = sla.fields[k].value;
  return out as unknown as SlaValues;
}
