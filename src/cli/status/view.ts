/**
 * `vifq status`'s result: vifqd's `status` answer (its snapshot and last release report) turned
 * into one row per uplink and per vif with what an operator asks: what is the line rate and
 * where does it come from, what is each guest allowed and why, what is it doing now. Pure.
 *
 * Traffic figures come from the last release report. The kernel lists only the vifs active in
 * an interval, so a vif missing from a report was idle (0); when the last report is older than
 * STALE_INTERVALS intervals every vif is shown idle. Before the first report they are null.
 */
import { Shape, type Json } from '../json-shape.js';

/** A report older than this many intervals no longer describes now. */
export const STALE_INTERVALS = 3;

/** Bucket 0 of the kernel's time-in-flight histogram ends at 1024 ns; bucket k at 2^k * 1024 ns. */
const HIST_BASE_NS = 1024;

export interface UplinkStatus {
  ifname: string;
  rateBitsPerSec: number;
  /** host-setting, qdisc, link-speed or unknown-default (the policy's view) */
  rateSource: string;
  /** what topology found: qdisc-tbf, link-speed, unknown... */
  rateDetail: string | null;
  budgetBytes: number;
  budgetNs: number;
  activeVifs: number;
  /** bits/s its vifs released over the last interval; null before the first report */
  throughputBitsPerSec: number | null;
  /** throughput / line rate */
  utilisation: number | null;
}

export interface LimitWhy {
  code: string;
  detail: string;
}

export interface VifStatus {
  vif: string;
  /** the domain's name from xenstore; null when it could not be read */
  name: string | null;
  domid: number;
  handle: number;
  ifindex: number;
  uplink: string | null;
  priority: string;
  weight: number;
  limitBytes: number;
  limitPackets: number;
  /** what vifqd believes the kernel holds (null: not set yet) */
  kernelLimitBytes: number | null;
  why: LimitWhy[];
  pendingBytes: number | null;
  pendingPackets: number | null;
  throughputBitsPerSec: number | null;
  /** time its queues spent stopped at the limit / interval (summed over queues: may exceed 1) */
  throttledFraction: number | null;
  /** time in flight percentiles over the interval: the upper edge of the histogram bucket */
  latencyP50Ns: number | null;
  latencyP99Ns: number | null;
}

export interface FindingStatus {
  code: string;
  path: string;
  message: string;
  hint: string | null;
}

export interface StatusView {
  startedAt: string;
  /** when the last release report came, its interval; null before the first */
  reportAt: string | null;
  intervalMs: number | null;
  /** the last report is older than STALE_INTERVALS intervals: traffic shown as idle */
  reportStale: boolean;
  lastPassAt: string | null;
  uplinks: UplinkStatus[];
  vifs: VifStatus[];
  findings: FindingStatus[];
}

interface Traffic {
  bytes: number;
  pendingBytes: number;
  pendingPackets: number;
  throttledNs: number;
  hist: number[];
}

/** The upper edge of the bucket holding quantile q (0-1); null for an empty histogram. */
export function histQuantileNs(hist: readonly number[], q: number): number | null {
  const total = hist.reduce((a, b) => a + b, 0);
  if (total <= 0) return null;
  const want = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let k = 0; k < hist.length; k++) {
    seen += hist[k] ?? 0;
    if (seen >= want) return k === hist.length - 1 && k > 0 ? HIST_BASE_NS * 2 ** (k - 1) : HIST_BASE_NS * 2 ** k;
  }
  return null;
}

function readTraffic(t: Shape): { at: string; intervalMs: number; byIfindex: Map<number, Traffic> } | null {
  const o = t.optional();
  if (o === null) return null;
  const byIfindex = new Map<number, Traffic>();
  for (const v of o.get('vifs').array()) {
    byIfindex.set(v.get('ifindex').number(), {
      bytes: v.get('bytes').number(),
      pendingBytes: v.get('pending-bytes').number(),
      pendingPackets: v.get('pending-packets').number(),
      throttledNs: v.get('throttled-ns').number(),
      hist: v.get('hist').array().map((h) => h.number()),
    });
  }
  return { at: o.get('at').string(), intervalMs: o.get('intervalMs').number(), byIfindex };
}

/**
 * vifqd's `status` answer -> the view. `names`: domid -> name (from xenstore); `now` decides
 * whether the last report is stale.
 */
export function statusView(answer: Json, names: ReadonlyMap<number, string>, now: Date): StatusView {
  const s = new Shape('status', answer);
  const traffic = readTraffic(s.get('traffic'));
  const stale = traffic !== null && now.getTime() - Date.parse(traffic.at) > STALE_INTERVALS * traffic.intervalMs;
  const idle: Traffic = { bytes: 0, pendingBytes: 0, pendingPackets: 0, throttledNs: 0, hist: [] };
  const trafficOf = (ifindex: number): Traffic | null => {
    if (traffic === null) return null;
    if (stale) return idle;
    return traffic.byIfindex.get(ifindex) ?? idle;
  };
  const perSec = (n: number): number | null => (traffic === null ? null : (n * 1000) / traffic.intervalMs);

  const vifs: VifStatus[] = s.get('vifs').array().map((v) => {
    const domid = v.get('domid').number();
    const handle = v.get('handle').number();
    const ifindex = v.get('ifindex').number();
    const desired = v.get('desired');
    const sla = v.get('sla').get('fields');
    const tr = trafficOf(ifindex);
    return {
      vif: `vif${domid}.${handle}`,
      name: names.get(domid) ?? null,
      domid, handle, ifindex,
      uplink: v.get('uplink').stringOrNull(),
      priority: desired.get('priority').string(),
      weight: sla.get('weight').get('value').number(),
      limitBytes: desired.get('limitBytes').number(),
      limitPackets: desired.get('limitPackets').number(),
      kernelLimitBytes: v.get('kernel').optional()?.get('limitBytes').numberOrNull() ?? null,
      why: v.get('why').array().map((w) => ({ code: w.get('code').string(), detail: w.get('detail').string() })),
      pendingBytes: tr?.pendingBytes ?? null,
      pendingPackets: tr?.pendingPackets ?? null,
      throughputBitsPerSec: tr === null ? null : perSec(tr.bytes * 8),
      throttledFraction: tr === null || traffic === null ? null : tr.throttledNs / (traffic.intervalMs * 1e6),
      latencyP50Ns: tr === null ? null : histQuantileNs(tr.hist, 0.5),
      latencyP99Ns: tr === null ? null : histQuantileNs(tr.hist, 0.99),
    };
  });

  const details = new Map<string, string>();
  for (const r of s.get('lineRates').array()) details.set(r.get('ifname').string(), r.get('detail').string());
  const uplinks: UplinkStatus[] = s.get('uplinks').array().map((u) => {
    const ifname = u.get('id').string();
    const rate = u.get('rateBitsPerSec').number();
    const mine = vifs.filter((v) => v.uplink === ifname);
    const tput = traffic === null ? null : mine.reduce((a, v) => a + (v.throughputBitsPerSec ?? 0), 0);
    return {
      ifname,
      rateBitsPerSec: rate,
      rateSource: u.get('rateSource').string(),
      rateDetail: details.get(ifname) ?? null,
      budgetBytes: u.get('budgetBytes').number(),
      budgetNs: u.get('budgetNs').number(),
      activeVifs: u.get('activeVifs').number(),
      throughputBitsPerSec: tput,
      utilisation: tput === null || rate <= 0 ? null : tput / rate,
    };
  });

  const findings = s.get('findings').array().map((f) => ({
    code: f.get('code').string(), path: f.get('path').string(), message: f.get('message').string(), hint: f.get('hint').stringOrNull(),
  }));
  return {
    startedAt: s.get('startedAt').string(),
    reportAt: traffic?.at ?? null,
    intervalMs: traffic?.intervalMs ?? null,
    reportStale: stale,
    lastPassAt: s.get('lastPass').optional()?.get('at').string() ?? null,
    uplinks, vifs, findings,
  };
}
