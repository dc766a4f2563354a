/**
 * The policy run: from uplinks, vifs with their SLAs, the latest release report
 * and the previous state, to the kernel settings of every vif, each limit with
 * the rules that made it. Pure: no I/O, no clock (input.nowNs), no mutation of
 * its inputs; the caller keeps the returned state for the next run.
 */
import { LIMIT_MAX } from '../sla/units.js';
import { adaptStep, type AdaptSample } from './adapt.js';
import { calibrateBudget, configuredBudgetNs, initialUplinkState, weightPoolBytes } from './budget.js';
import { DEFAULT_POLICY_CONFIG, type PolicyConfig } from './config.js';
import { PolicyInputError } from './errors.js';
import { steerGains } from './feedback.js';
import { Reason } from './reasons.js';
import { bytesAtRate, floorBytes, nsAtRate } from './line-rate.js';
import { waterFill, type Claim } from './split.js';
import { vifKey, type PolicyState, type UplinkState, type VifActivity, type VifState } from './state.js';
import type {
  BudgetReasonCode, LimitReason, PolicyInput, ReportInput, UplinkDecision, UplinkInput, VifDecision, VifInput, VifReport,
} from './types.js';

export interface PolicyResult {
  readonly state: PolicyState;
  readonly vifs: readonly VifDecision[];
  readonly uplinks: readonly UplinkDecision[];
}

const IDLE: VifActivity = { active: false, backlogged: false, demandBytes: 0 };

/** Per-vif working record of one run. */
interface Work {
  readonly vif: VifInput;
  readonly key: number;
  readonly prev: VifState | undefined;
  readonly report: VifReport | undefined;
  readonly activity: VifActivity;
  gain: number;
  tighten: number;
  /** Reports since it was last throttled (0: this one); null: not since it appeared. */
  readonly throttledAgo: number | null;
  weighted: boolean;
  fullStreak: number;
  limitBytes: number;
  peersLatencyNs: number;
  why: LimitReason[];
}

function activityOf(r: VifReport | undefined, intervalNs: number, floor: number, cfg: PolicyConfig): VifActivity {
  if (r === undefined) return IDLE;
  const backlogged = r.throttleEvents > 0 || r.throttledNs > 0;
  const active = backlogged || r.bytes > 0 || r.pendingBytes > 0;
  // bytes in flight on average: Σ(size × time in flight) / interval ≈ mean size × Σ latency / interval
  const inflight = r.packets > 0 && intervalNs > 0 ? ((r.bytes / r.packets) * r.latencySumNs) / intervalNs : 0;
  return { active, backlogged, demandBytes: Math.max(floor, Math.ceil(cfg.demandHeadroom * Math.max(inflight, r.pendingBytes))) };
}

function validateUplinks(uplinks: readonly UplinkInput[]): void {
  const ids = new Set<string>();
  for (const u of uplinks) {
    if (ids.has(u.id)) throw new PolicyInputError(`uplink ${u.id} is listed twice`, 'pass each uplink once');
    ids.add(u.id);
    if (!Number.isFinite(u.rateBitsPerSec) || u.rateBitsPerSec <= 0) {
      throw new PolicyInputError(`uplink ${u.id} has line rate ${u.rateBitsPerSec}`, 'pass a positive rate in bits/s (the conservative default when it is unknown)');
    }
  }
}

const kib = (b: number): string => (b >= 10_240 ? `${(b / 1024).toFixed(0)} KiB` : `${b} B`);

export function computePolicy(input: PolicyInput, prev: PolicyState, cfg: PolicyConfig = DEFAULT_POLICY_CONFIG): PolicyResult {
  validateUplinks(input.uplinks);
  const report: ReportInput | null = input.report;
  const reports = new Map<number, VifReport>();
  if (report) for (const e of report.entries) reports.set(vifKey(e.domid, e.handle), e);

  const uplinkById = new Map<string, UplinkInput>(input.uplinks.map((u) => [u.id, u]));
  const byUplink = new Map<string, Work[]>();
  const decisions: VifDecision[] = [];
  const vifStates = new Map<number, VifState>();
  const uplinkStates = new Map<string, UplinkState>();
  const uplinkDecisions: UplinkDecision[] = [];
  const seen = new Set<number>();
  const floors = new Map<string, number>();

  for (const vif of input.vifs) {
    const key = vifKey(vif.domid, vif.handle);
    if (seen.has(key)) throw new PolicyInputError(`vif ${vif.domid}/${vif.handle} is listed twice`, 'pass each vif once');
    seen.add(key);
    const uplink = vif.uplinkId === null ? undefined : uplinkById.get(vif.uplinkId);
    if (uplink === undefined) {
      decisions.push(noUplink(vif, cfg));
      continue;
    }
    const p = prev.vifs.get(key);
    const r = reports.get(key);
    let floor = floors.get(uplink.id);
    if (floor === undefined) {
      floor = floorBytes(uplink.rateBitsPerSec, uplink.mtu, cfg);
      floors.set(uplink.id, floor);
    }
    const activity = report ? activityOf(r, report.intervalNs, floor, cfg) : (p?.activity ?? IDLE);
    const ago = p?.throttledAgo ?? null;
    const w: Work = {
      vif, key, prev: p, report: r, activity,
      throttledAgo: !report ? ago : activity.backlogged ? 0 : ago === null ? null : ago + 1,
      weighted: p?.weighted ?? false,
      gain: p?.gain ?? 1, tighten: p?.tighten ?? 1, fullStreak: p?.fullStreak ?? 0, limitBytes: 0, peersLatencyNs: 0, why: [],
    };
    const list = byUplink.get(uplink.id);
    if (list) list.push(w);
    else byUplink.set(uplink.id, [w]);
  }

  for (const uplink of input.uplinks) {
    const works = byUplink.get(uplink.id) ?? [];
    const { state, decision } = runUplink(uplink, works, prev.uplinks.get(uplink.id), input, cfg);
    uplinkStates.set(uplink.id, state);
    uplinkDecisions.push(decision);
    for (const w of works) {
      vifStates.set(w.key, {
        gain: w.gain, tighten: w.tighten, fullStreak: w.fullStreak, activity: w.activity, throttledAgo: w.throttledAgo, weighted: w.weighted, limitBytes: w.limitBytes,
      });
      decisions.push(settingsOf(w, uplink, cfg));
    }
  }
  return { state: { uplinks: uplinkStates, vifs: vifStates }, vifs: decisions, uplinks: uplinkDecisions };
}

function settingsOf(w: Work, uplink: UplinkInput, cfg: PolicyConfig): VifDecision {
  const sla = w.vif.sla;
  return {
    domid: w.vif.domid, handle: w.vif.handle, ifindex: w.vif.ifindex, uplinkId: uplink.id, why: w.why,
    settings: {
      limitBytes: w.limitBytes,
      limitPackets: sla.priority === 'low' ? Math.min(LIMIT_MAX, sla.pendingPackets ?? cfg.lowPacketCap) : (sla.pendingPackets ?? 0),
      priority: sla.priority, group: uplink.group, timeoutMs: sla.timeoutMs,
    },
  };
}

function noUplink(vif: VifInput, cfg: PolicyConfig): VifDecision {
  const sla = vif.sla;
  const why: LimitReason[] = [new Reason('no-uplink', 0, 0, 0, 0, 0, vif.uplinkId)];
  if (sla.pendingBytes !== null) why.push(new Reason('sla-cap', sla.pendingBytes));
  return {
    domid: vif.domid, handle: vif.handle, ifindex: vif.ifindex, uplinkId: vif.uplinkId, why,
    settings: {
      limitBytes: sla.pendingBytes ?? 0,
      limitPackets: sla.priority === 'low' ? (sla.pendingPackets ?? cfg.lowPacketCap) : (sla.pendingPackets ?? 0),
      priority: sla.priority, group: 0, timeoutMs: sla.timeoutMs,
    },
  };
}

function runUplink(uplink: UplinkInput, works: Work[], prevState: UplinkState | undefined, input: PolicyInput, cfg: PolicyConfig): { state: UplinkState; decision: UplinkDecision } {
  const rate = uplink.rateBitsPerSec;
  const floor = floorBytes(rate, uplink.mtu, cfg);
  const report = input.report;
  const budgetWhy: Array<{ code: BudgetReasonCode; detail: string }> = [];

  // ---- budget: configured, or calibrated from the report
  let state = prevState ?? initialUplinkState(input.nowNs, cfg);
  const configured = configuredBudgetNs(uplink.budget, rate);
  if (configured !== null) {
    state = { ...state, budgetNs: configured };
    budgetWhy.push({ code: 'configured', detail: `host setting budget ${uplink.budget.kind === 'bytes' ? `${uplink.budget.bytes} B` : `${configured / 1e6} ms`}` });
  } else {
    if (prevState === undefined) budgetWhy.push({ code: 'initial', detail: `initial budget ${cfg.budgetInitialNs / 1e6} ms at line rate` });
    let delivered = 0;
    let maxThrottled = 0;
    let pending = 0;
    for (const w of works) {
      if (!w.report) continue;
      delivered += w.report.bytes;
      pending += w.report.pendingBytes;
      if (w.report.throttledNs > maxThrottled) maxThrottled = w.report.throttledNs;
    }
    const step = calibrateBudget(state, report ? { intervalNs: report.intervalNs, deliveredBytes: delivered, maxThrottledNs: maxThrottled, pendingBytes: pending } : null, rate, input.nowNs, cfg);
    state = step.state;
    budgetWhy.push(step.why);
  }
  const budgetBytes = Math.max(1, Math.min(LIMIT_MAX, bytesAtRate(state.budgetNs, rate)));

  const highActive = works.filter((w) => w.vif.sla.priority === 'high' && w.activity.active);
  const claimants = highActive.length > 0 ? highActive : works.filter((w) => w.activity.active);

  // ---- weights by feedback: only among vifs that want more than they get (without a report,
  // who did in the last one)
  if (report) markWeighted(works, claimants, cfg);
  const backlogged = claimants.filter((w) => w.weighted);
  if (report) {
    const steps = steerGains(backlogged.map((w) => ({ weight: w.vif.sla.weight, gain: w.gain, deliveredBytes: w.report?.bytes ?? 0 })), cfg);
    steps.forEach((s, i) => {
      const w = backlogged[i];
      if (w && s.gain !== w.gain) {
        w.why.push(new Reason('feedback', s.ratio ?? 0, w.gain, s.gain));
        w.gain = s.gain;
      }
    });
  }

  // ---- the pool: the budget, or room for unequal weights above the floors (auto only)
  let pool = budgetBytes;
  if (configured === null) {
    const wp = Math.min(weightPoolBytes(backlogged.map((w) => ({ weight: w.vif.sla.weight, gain: w.gain })), floor), bytesAtRate(cfg.budgetMaxNs, rate), LIMIT_MAX);
    if (wp > pool) {
      pool = wp;
      budgetWhy.push({ code: 'raised-for-weights', detail: `pool ${kib(wp)}: the weights of ${backlogged.length} throttled (or lately throttled) vifs above their floors of ${kib(floor)}` });
    }
  }

  // ---- adaptation: tighten who keeps its share full while peers wait; relax when all behave
  let calmStreak = state.calmStreak;
  let allowedNs = 0;
  if (report && input.adaptation) {
    let allowed = 0;
    for (const w of claimants) allowed += w.prev?.limitBytes ?? 0;
    if (allowed > 0) {
      const samples: AdaptSample[] = claimants.map((w) => ({
        tighten: w.tighten, fullStreak: w.fullStreak, packets: w.report?.packets ?? 0, latencySumNs: w.report?.latencySumNs ?? 0,
        full: (w.report?.pendingBytes ?? 0) >= cfg.fullFraction * (w.prev?.limitBytes ?? Infinity) || (w.report?.throttledNs ?? 0) >= report.intervalNs / 2,
      }));
      allowedNs = nsAtRate(allowed, rate);
      const a = adaptStep(samples, calmStreak, allowedNs, cfg);
      calmStreak = a.calmStreak;
      a.vifs.forEach((r, i) => {
        const w = claimants[i];
        if (!w) return;
        w.peersLatencyNs = r.peersLatencyNs ?? 0;
        w.tighten = r.tighten;
        w.fullStreak = r.fullStreak;
      });
    }
  } else if (!input.adaptation) {
    for (const w of works) {
      w.tighten = 1;
      w.fullStreak = 0;
    }
    calmStreak = 0;
  }

  // ---- split the pool among the claimants, work-conserving
  const claims: Claim[] = claimants.map((w) => ({
    weight: w.vif.sla.weight * w.gain,
    cap: Math.min(w.weighted ? Infinity : w.activity.demandBytes, w.vif.sla.pendingBytes ?? Infinity),
  }));
  const alloc = waterFill(pool, claims);
  let weightSum = 0;
  for (const c of claims) weightSum += c.weight;
  const claimantSet = new Set(claimants);
  const highActiveCount = highActive.length;
  claimants.forEach((w, i) => {
    const a = alloc[i] ?? 0;
    const c = claims[i];
    w.why.unshift(c && a < Math.floor((pool * c.weight) / weightSum) && !w.weighted
      ? new Reason('demand', a)
      : new Reason('budget-share', a, pool, w.vif.sla.weight, w.gain, claimants.length));
    let limit = Math.floor(a * w.tighten);
    if (w.tighten < 1) w.why.push(new Reason('tightened', w.tighten, w.peersLatencyNs, allowedNs));
    if (limit < floor) {
      limit = floor;
      w.why.push(new Reason('floor', floor));
    }
    w.limitBytes = limit;
  });
  for (const w of works) {
    if (claimantSet.has(w)) continue;
    w.limitBytes = floor;
    if (w.vif.sla.priority === 'low' && highActiveCount > 0) {
      w.why.push(new Reason('low-priority', highActiveCount, floor, 0, 0, 0, 'yields'));
    } else {
      w.why.push(new Reason('idle', floor));
    }
  }
  for (const w of works) {
    if (w.vif.sla.priority === 'low') w.why.push(new Reason('low-priority', w.vif.sla.pendingPackets ?? cfg.lowPacketCap, w.vif.sla.timeoutMs, uplink.group));
    const cap = w.vif.sla.pendingBytes;
    if (cap !== null && w.limitBytes > cap) {
      w.limitBytes = cap;
      w.why.push(new Reason('sla-cap', cap));
    }
  }
  applyDeadband(works, pool, floor, cfg);

  const decision: UplinkDecision = {
    id: uplink.id, rateBitsPerSec: rate, rateSource: uplink.rateSource, budgetNs: state.budgetNs, budgetBytes, poolBytes: pool, floorBytes: floor,
    activeVifs: claimants.length, why: budgetWhy,
  };
  return { state: { ...state, calmStreak }, decision };
}

/**
 * Who takes part in the weights after a report: every throttled claimant, and one throttled in
 * the last `backlogHoldReports` reports or weighted in the previous one that still delivered at
 * least `holdMinShare` of its weighted share among these (its guest, not its limit, held it back
 * this interval: a bulk TCP sender whose small queues stay under a raised limit). A vif that
 * sends little drops out at once and is capped at what it uses, as before.
 */
function markWeighted(works: Work[], claimants: Work[], cfg: PolicyConfig): void {
  for (const w of works) w.weighted = false;
  for (const w of claimants) w.weighted = w.activity.backlogged;
  const lately = claimants.filter((w) => w.activity.backlogged || w.prev?.weighted === true || (w.throttledAgo !== null && w.throttledAgo <= cfg.backlogHoldReports));
  if (lately.length < 2) return;
  let delivered = 0;
  let weights = 0;
  for (const w of lately) {
    delivered += w.report?.bytes ?? 0;
    weights += w.vif.sla.weight;
  }
  if (delivered <= 0 || weights <= 0) return;
  for (const w of lately) {
    if (w.weighted) continue;
    w.weighted = (w.report?.bytes ?? 0) / delivered >= cfg.holdMinShare * (w.vif.sla.weight / weights);
  }
}

/**
 * Keeps the previous limit when the new one is within the deadband, so limits do
 * not flap; gives up the held values if they would take the uplink above its
 * pool plus floors.
 */
function applyDeadband(works: Work[], pool: number, floor: number, cfg: PolicyConfig): void {
  let total = 0;
  const held: Array<[Work, number]> = [];
  for (const w of works) {
    const prev = w.prev?.limitBytes ?? 0;
    const cap = w.vif.sla.pendingBytes ?? Infinity;
    const band = Math.max(cfg.deadbandBytes, prev * cfg.deadbandFraction);
    if (prev > 0 && prev !== w.limitBytes && Math.abs(w.limitBytes - prev) <= band && prev <= cap && prev >= Math.min(floor, cap)) {
      held.push([w, w.limitBytes]);
      w.limitBytes = prev;
    }
    total += w.limitBytes;
  }
  if (total > pool + floor * works.length) {
    for (const [w, exact] of held) w.limitBytes = exact;
    return;
  }
  for (const [w] of held) w.why.push(new Reason('held', w.limitBytes, cfg.deadbandFraction));
}
