/**
 * The SLA schema: the node names, their value syntax, ranges and defaults.
 *
 *   /local/domain/<domid>/vifq/{priority,weight,pending-bytes,pending-packets,timeout-ms}
 *   /local/domain/<domid>/vifq/vif/<handle>/<same names>       per-vif overrides
 *   /local/domain/0/vifq/{report-interval-ms,adaptation,on-stop}
 *   /local/domain/0/vifq/default/<guest names>                 host-wide guest defaults
 *   /local/domain/0/vifq/uplink/<ifname>/{rate,budget}         per uplink
 */
import {
  LIMIT_MAX, formatBytes, formatDurationUs, formatRate, parseBytes, parseDurationUs, parseInteger, parseKeyword,
  parseMilliseconds, parseRateBitsPerSec, type Parsed,
} from './units.js';

export type SlaPriority = 'high' | 'low';

/** A guest's (or one vif's) service level: what the policy takes from the SLA. */
export interface SlaValues {
  priority: SlaPriority;
  /** Relative share among the active high-priority vifs of an uplink, 1-1000. */
  weight: number;
  /** Upper bound on the vif's pending bytes whatever the policy computes; null: none. */
  pendingBytes: number | null;
  /** Upper bound on pending packets (the packet cap of a low-priority vif); null: none. */
  pendingPackets: number | null;
  /** How long a low-priority vif's request may wait (kernel range 1-30000 ms). */
  timeoutMs: number;
}

export type SlaKey = keyof SlaValues;

export const WEIGHT_MIN = 1;
export const WEIGHT_MAX = 1000;
export const TIMEOUT_MS_MIN = 1;
export const TIMEOUT_MS_MAX = 30_000;

/** What applies when neither the host nor the guest's dom0 nodes say otherwise. */
export const SLA_DEFAULTS: Readonly<SlaValues> = Object.freeze({
  priority: 'high',
  weight: 100,
  pendingBytes: null,
  pendingPackets: null,
  timeoutMs: 100, // the kernel's default
});

/** How one value is read from and written to its node. */
export interface FieldCodec<T> {
  readonly node: string;
  parse(text: string): Parsed<T>;
  format(value: T): string;
}

const NO_CAP = 'none';

function cap(parse: (text: string) => Parsed<number>, format: (n: number) => string): Pick<FieldCodec<number | null>, 'parse' | 'format'> {
  return {
    parse: (text) => (text === NO_CAP ? { ok: true, value: null } : parse(text)),
    format: (v) => (v === null ? NO_CAP : format(v)),
  };
}

export const SLA_FIELDS: { readonly [K in SlaKey]: FieldCodec<SlaValues[K]> } = {
  priority: { node: 'priority', parse: (t) => parseKeyword(t, ['high', 'low'] as const), format: (v) => v },
  weight: { node: 'weight', parse: (t) => parseInteger(t, WEIGHT_MIN, WEIGHT_MAX), format: String },
  pendingBytes: { node: 'pending-bytes', ...cap((t) => parseBytes(t, 1, LIMIT_MAX), formatBytes) },
  pendingPackets: { node: 'pending-packets', ...cap((t) => parseInteger(t, 1, LIMIT_MAX), String) },
  timeoutMs: { node: 'timeout-ms', parse: (t) => parseMilliseconds(t, TIMEOUT_MS_MIN, TIMEOUT_MS_MAX), format: String },
};

export const SLA_KEYS: readonly SlaKey[] = ['priority', 'weight', 'pendingBytes', 'pendingPackets', 'timeoutMs'];

/** Node name -> key, e.g. `pending-bytes` -> `pendingBytes`. */
export const SLA_KEY_BY_NODE: ReadonlyMap<string, SlaKey> = new Map(SLA_KEYS.map((k) => [SLA_FIELDS[k].node, k]));

// ---- host settings -------------------------------------------------------------------------

/** A per-uplink pending budget: calibrated, or fixed in bytes or in time at line rate. */
export type BudgetSetting = { kind: 'auto' } | { kind: 'bytes'; bytes: number } | { kind: 'time'; us: number };

export type OnStop = 'keep' | 'reset';

export interface HostValues {
  /** The kernel's release report interval (its range 10-30000 ms). */
  reportIntervalMs: number;
  /** Tighten/relax vifs from the release reports (weights feedback stays on). */
  adaptation: boolean;
  /** When vifqd stops: keep the kernel limits (they keep protecting) or reset them to 0 (stock). */
  onStop: OnStop;
}

export type HostKey = keyof HostValues;

export const HOST_DEFAULTS: Readonly<HostValues> = Object.freeze({ reportIntervalMs: 1000, adaptation: true, onStop: 'keep' });

export const REPORT_INTERVAL_MS_MIN = 10;
export const REPORT_INTERVAL_MS_MAX = 30_000;

export const HOST_FIELDS: { readonly [K in HostKey]: FieldCodec<HostValues[K]> } = {
  reportIntervalMs: { node: 'report-interval-ms', parse: (t) => parseMilliseconds(t, REPORT_INTERVAL_MS_MIN, REPORT_INTERVAL_MS_MAX), format: String },
  adaptation: {
    node: 'adaptation',
    parse: (t) => {
      const r = parseKeyword(t, ['on', 'off'] as const);
      return r.ok ? { ok: true, value: r.value === 'on' } : r;
    },
    format: (v) => (v ? 'on' : 'off'),
  },
  onStop: { node: 'on-stop', parse: (t) => parseKeyword(t, ['keep', 'reset'] as const), format: (v) => v },
};

export const HOST_KEYS: readonly HostKey[] = ['reportIntervalMs', 'adaptation', 'onStop'];
export const HOST_KEY_BY_NODE: ReadonlyMap<string, HostKey> = new Map(HOST_KEYS.map((k) => [HOST_FIELDS[k].node, k]));

export interface UplinkValues {
  /** Line rate in bits/s set by the operator; null: find it (qdisc, link speed). */
  rateBitsPerSec: number | null;
  budget: BudgetSetting;
}

export type UplinkKey = keyof UplinkValues;

export const UPLINK_DEFAULTS: Readonly<UplinkValues> = Object.freeze({ rateBitsPerSec: null, budget: Object.freeze({ kind: 'auto' }) });

export const RATE_MIN = 1000; // 1 kbit/s
export const RATE_MAX = 10 ** 13; // 10 tbit/s
export const BUDGET_US_MIN = 10;
export const BUDGET_US_MAX = 10_000_000;

export const UPLINK_FIELDS: { readonly [K in UplinkKey]: FieldCodec<UplinkValues[K]> } = {
  rateBitsPerSec: { node: 'rate', ...cap((t) => parseRateBitsPerSec(t, RATE_MIN, RATE_MAX), formatRate) },
  budget: {
    node: 'budget',
    parse: (t): Parsed<BudgetSetting> => {
      if (t === 'auto') return { ok: true, value: { kind: 'auto' } };
      if (/^[0-9]+(us|ms|s)$/.test(t)) {
        const r = parseDurationUs(t, BUDGET_US_MIN, BUDGET_US_MAX, null);
        return r.ok ? { ok: true, value: { kind: 'time', us: r.value } } : r;
      }
      const r = parseBytes(t, 1, LIMIT_MAX);
      if (r.ok) return { ok: true, value: { kind: 'bytes', bytes: r.value } };
      return r.problem.code === 'bad-syntax' || r.problem.code === 'bad-unit'
        ? { ok: false, problem: { ...r.problem, hint: 'write auto, a byte size (e.g. 48k) or a time at line rate (e.g. 5ms)' } }
        : r;
    },
    format: (b) => (b.kind === 'auto' ? 'auto' : b.kind === 'bytes' ? formatBytes(b.bytes) : formatDurationUs(b.us)),
  },
};

export const UPLINK_KEYS: readonly UplinkKey[] = ['rateBitsPerSec', 'budget'];
export const UPLINK_KEY_BY_NODE: ReadonlyMap<string, UplinkKey> = new Map(UPLINK_KEYS.map((k) => [UPLINK_FIELDS[k].node, k]));

/** A Linux interface name: 1-15 bytes, no '/', ':' or whitespace, not '.' or '..'. */
export function isInterfaceName(name: string): boolean {
  return /^[^/:\s]{1,15}$/.test(name) && name !== '.' && name !== '..' && Buffer.byteLength(name) <= 15;
}

export const GUEST_BASE = (domid: number): string => `/local/domain/${domid}/vifq`;
export const HOST_BASE = GUEST_BASE(0);
