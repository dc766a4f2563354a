/**
 * The daemon's pure step: host settings, guest SLAs, the kernel's vifs, their placement and
 * the policy's state (plus a release report, if one came) -> the desired settings of every vif,
 * each with the reasons of its limit, and the per-uplink decisions. No I/O, no clock.
 *
 * - A vif is one the kernel reports (ifindex, domid, handle): only those can be set.
 * - Its uplink is the first (by stable id) of the uplinks its bridge leads to; the policy's
 *   uplink id is that device's name (the key of its host settings) and its group the
 *   device's ifindex. A vif with no uplink keeps stock behaviour except its SLA caps.
 * - An uplink's line rate: the host setting `uplink/<ifname>/rate`, else what topology found
 *   (a shaping root qdisc, then the link speed), else UNKNOWN_RATE_BPS, each with its source.
 */
import { computePolicy, DEFAULT_POLICY_CONFIG, type PolicyConfig, type PolicyState, type RateSource, type ReportInput, type UplinkDecision, type UplinkInput, type VifDecision, type VifInput, type VifReport } from '../policy/index.js';
import { defaultUplinkSettings, effectiveSla, slaValues, type EffectiveSla, type GuestSla, type HostSettings } from '../sla/index.js';
import type { LineRateSource, VifIdentity, VifPlacement } from '../topology/index.js';
import type { VifRelease } from '../vifq/index.js';
import type { DesiredVif } from './reconcile.js';

/**
 * The rate assumed for an uplink whose rate nobody knows (no host setting, no shaping qdisc,
 * no link speed: veths, tunnels). 1 Gbit/s: the floors and the initial budget stay small enough
 * to protect on the slow links that are common in this case, and the calibration grows the
 * budget (x2 per starved report) when the link is faster. `vifq doctor` flags it.
 */
export const UNKNOWN_RATE_BPS = 1_000_000_000;

export interface UplinkLineRate {
  readonly ifname: string;
  readonly ifindex: number;
  readonly bitsPerSec: number;
  readonly source: RateSource;
  /** What topology found, for the operator: `qdisc-tbf`, `link-speed`, `unknown`... */
  readonly detail: LineRateSource | 'host-setting';
}

export interface DesiredInput {
  readonly nowNs: number;
  readonly host: HostSettings;
  /** Trusted SLA of each guest that has one (domid -> parsed SLA). */
  readonly guests: ReadonlyMap<number, GuestSla>;
  /** The vifs the kernel reports. */
  readonly vifs: readonly VifIdentity[];
  /** Where topology placed them (by ifindex; a vif missing here has no uplink). */
  readonly placements: readonly VifPlacement[];
  readonly report: ReportInput | null;
  readonly state: PolicyState;
  readonly config?: PolicyConfig;
}

export interface DesiredVifExplained extends DesiredVif {
  readonly uplink: string | null;
  readonly decision: VifDecision;
  readonly sla: EffectiveSla;
}

export interface DesiredResult {
  readonly vifs: readonly DesiredVifExplained[];
  readonly uplinks: readonly UplinkDecision[];
  readonly lineRates: readonly UplinkLineRate[];
  readonly state: PolicyState;
}

function rateSourceOf(s: LineRateSource): RateSource {
  return s === 'link-speed' ? 'link-speed' : s === 'unknown' ? 'unknown-default' : 'qdisc';
}

/** One run of the policy over the current inputs. Throws only PolicyInputError (a bug). */
export function computeDesired(input: DesiredInput): DesiredResult {
  const placed = new Map(input.placements.map((p) => [p.ifindex, p]));
  const uplinks = new Map<string, UplinkInput>();
  const rates = new Map<string, UplinkLineRate>();
  const vifs: VifInput[] = [];
  const slas = new Map<number, EffectiveSla>();
  for (const v of input.vifs) {
    const up = placed.get(v.ifindex)?.uplinks[0];
    if (up !== undefined && !uplinks.has(up.name)) {
      const configured = (input.host.uplinks.get(up.name) ?? defaultUplinkSettings());
      const hostRate = configured.rateBitsPerSec.value;
      const rate: UplinkLineRate = hostRate !== null
        ? { ifname: up.name, ifindex: up.ifindex, bitsPerSec: hostRate, source: 'host-setting', detail: 'host-setting' }
        : { ifname: up.name, ifindex: up.ifindex, bitsPerSec: up.lineRate.bitsPerSecond ?? UNKNOWN_RATE_BPS, source: rateSourceOf(up.lineRate.source), detail: up.lineRate.source };
      rates.set(up.name, rate);
      uplinks.set(up.name, { id: up.name, group: up.ifindex, rateBitsPerSec: rate.bitsPerSec, rateSource: rate.source, budget: configured.budget.value });
    }
    const sla = effectiveSla(input.host, input.guests.get(v.domid) ?? null, v.domid, v.handle);
    slas.set(v.ifindex, sla);
    vifs.push({ domid: v.domid, handle: v.handle, ifindex: v.ifindex, uplinkId: up?.name ?? null, sla: slaValues(sla) });
  }
  const r = computePolicy({
    nowNs: input.nowNs, uplinks: [...uplinks.values()], vifs, report: input.report, adaptation: input.host.adaptation.value,
  }, input.state, input.config ?? DEFAULT_POLICY_CONFIG);
  const out: DesiredVifExplained[] = [];
  for (const d of r.vifs) {
    const sla = slas.get(d.ifindex);
    if (sla === undefined) continue;
    out.push({ ifindex: d.ifindex, domid: d.domid, handle: d.handle, settings: d.settings, uplink: d.uplinkId, decision: d, sla });
  }
  return { vifs: out, uplinks: r.uplinks, lineRates: [...rates.values()], state: r.state };
}

/** A release event's per-vif deltas as the policy's report. */
export function reportInputOf(intervalMs: number, vifs: readonly VifRelease[]): ReportInput {
  return {
    intervalNs: intervalMs * 1e6,
    entries: vifs.map((v): VifReport => ({
      domid: v.domid, handle: v.handle, bytes: v.bytes, packets: v.packets, latencySumNs: v['latency-sum-ns'],
      latencyMaxNs: v['latency-max-ns'], throttleEvents: v['throttle-events'], throttledNs: v['throttled-ns'],
      pendingBytes: v['pending-bytes'], pendingPackets: v['pending-packets'],
    })),
  };
}

/**
 * Two reports the policy has not seen yet as one (when a pass could not keep up): intervals and
 * counters add up, gauges (pending) and maxima are the later ones'.
 */
export function mergeReports(a: ReportInput, b: ReportInput): ReportInput {
  const byKey = new Map<string, VifReport>();
  for (const e of a.entries) byKey.set(`${e.domid}/${e.handle}`, e);
  for (const e of b.entries) {
    const k = `${e.domid}/${e.handle}`;
    const p = byKey.get(k);
    byKey.set(k, p === undefined ? e : {
      ...e, bytes: p.bytes + e.bytes, packets: p.packets + e.packets, latencySumNs: p.latencySumNs + e.latencySumNs,
      latencyMaxNs: Math.max(p.latencyMaxNs, e.latencyMaxNs), throttleEvents: p.throttleEvents + e.throttleEvents,
      throttledNs: p.throttledNs + e.throttledNs,
    });
  }
  return { intervalNs: a.intervalNs + b.intervalNs, entries: [...byKey.values()] };
}
