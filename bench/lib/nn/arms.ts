/**
 * The noisy-neighbour arms: what an operator can put between the guests and the uplink today,
 * and vifq. All run in ONE boot of the patched netback, which with limits 0 behaves as stock;
 * an arm is its uplink qdisc, netback's credit `rate` per vif, and whether vifqd runs.
 *
 *   stock          tbf + FIFO (a NIC-like queue), limits 0
 *   fq_codel       fq_codel under the same tbf
 *   cake           CAKE as the shaper, per-host isolation (dual-srchost); skipped without sch_cake
 *   rate           FIFO, netback's credit limiter at each guest's fair share of the uplink
 *                  (xenstore backend/vif/<domid>/0/rate "bytes,usec", what `xl ... rate=` writes;
 *                  netback watches the node and applies it to a running vif)
 *   vifq           FIFO, vifqd on its defaults
 *   vifq+fq_codel  fq_codel under the tbf, vifqd on its defaults (still running)
 */
import type { Lab } from '../../../test/lab/lab.js';
import { startVifqd } from './vifqd.js';

export const ARM_NAMES = ['stock', 'fq_codel', 'cake', 'rate', 'vifq', 'vifq+fq_codel'] as const;
export type ArmName = (typeof ARM_NAMES)[number];

export interface Uplink {
  /** tc rate, e.g. '4mbit' */
  rate: string;
  bitsPerSec: number;
  /** tbf latency (ms): the FIFO's length */
  limitMs: number;
}

interface ArmSpec {
  qdisc: 'tbf' | 'fq_codel' | 'cake';
  netbackRate: boolean;
  vifqd: boolean;
  what: string;
}

export const ARMS: Record<ArmName, ArmSpec> = {
  stock: { qdisc: 'tbf', netbackRate: false, vifqd: false, what: 'tbf + FIFO, netback limits 0 (stock behaviour)' },
  fq_codel: { qdisc: 'fq_codel', netbackRate: false, vifqd: false, what: 'fq_codel under the tbf' },
  cake: { qdisc: 'cake', netbackRate: false, vifqd: false, what: 'CAKE shaper, dual-srchost (per-host isolation)' },
  rate: { qdisc: 'tbf', netbackRate: true, vifqd: false, what: "FIFO + netback credit rate at each guest's fair share" },
  vifq: { qdisc: 'tbf', netbackRate: false, vifqd: true, what: 'FIFO + vifqd on its defaults' },
  'vifq+fq_codel': { qdisc: 'fq_codel', netbackRate: false, vifqd: true, what: 'fq_codel under the tbf + vifqd on its defaults' },
};

/** --arms named an arm that does not exist, or put them in an order that cannot run in one boot. */
export class ArmListError extends Error {
  constructor(detail: string) {
    super(`--arms: ${detail} (arms: ${ARM_NAMES.join(', ')}; vifqd's arms last, it keeps its limits once running)`);
    this.name = 'ArmListError';
  }
}

/** This arm could not run here (e.g. no sch_cake module): not a failure of the run. */
export class ArmSkipped extends Error {
  constructor(readonly arm: ArmName, reason: string) {
    super(`arm ${arm} skipped: ${reason}`);
    this.name = 'ArmSkipped';
  }
}

export function parseArms(list: string): ArmName[] {
  const arms = list.split(',').map((a) => a.trim()).filter(Boolean);
  if (arms.length === 0) throw new ArmListError('no arm given');
  for (const a of arms) if (!(ARM_NAMES as readonly string[]).includes(a)) throw new ArmListError(`unknown arm '${a}'`);
  if (new Set(arms).size !== arms.length) throw new ArmListError('an arm is named twice');
  const named = arms as ArmName[];
  const firstVifqd = named.findIndex((a) => ARMS[a].vifqd);
  if (firstVifqd >= 0 && named.slice(firstVifqd).some((a) => !ARMS[a].vifqd)) throw new ArmListError(`'${named[firstVifqd]}' comes before an arm without vifqd`);
  return named;
}

/** netback's credit (bytes per 50 ms) for one guest's fair share of the uplink. */
export function fairShareCredit(uplink: Uplink, guests: number): { bytes: number; usec: number } {
  const usec = 50_000;
  return { bytes: Math.floor(uplink.bitsPerSec / guests / 8 * (usec / 1e6)), usec };
}

const rateNode = (domid: number): string => `/local/domain/0/backend/vif/${domid}/0/rate`;

export interface ArmState {
  /** vifqd's start time (ms), when this arm started it */
  vifqdStartMs?: number;
  /** netback credit per vif (split evenly over its queues), when the arm sets one */
  credit?: { bytes: number; usec: number };
}

/**
 * Puts the arm in place: the uplink qdisc, netback's rate nodes, vifqd. `vifqdRunning` says whether
 * an earlier arm of this boot started vifqd already.
 */
export async function setUpArm(lab: Lab, arm: ArmName, uplink: Uplink, vifqdRunning: boolean): Promise<ArmState> {
  const spec = ARMS[arm];
  const q = spec.qdisc === 'cake' ? `cake ${uplink.rate} dual-srchost` : `${spec.qdisc} ${uplink.rate} ${uplink.limitMs}`;
  const r = await lab.dom0(`/lab/uplink.sh qdisc ${q}`);
  if (r.code === 3) throw new ArmSkipped(arm, r.stderr.trim());
  if (r.code !== 0) throw new Error(`uplink.sh qdisc ${q} exited ${r.code}: ${r.stderr.trim()}`);
  const state: ArmState = {};
  if (spec.netbackRate) {
    // netback gives the credit to each of a vif's queues: the guest's share is split over them
    const credit = fairShareCredit(uplink, lab.guests.length);
    const script = lab.guests.map((g) => `q=$(ls -d /sys/class/net/vif${g.domid}.0/queues/tx-* | wc -l); `
      + `xenstore-write ${rateNode(g.domid)} $((${credit.bytes} / q)),${credit.usec}`).join(' && ');
    await lab.dom0Ok(script);
    state.credit = credit;
  }
  if (spec.vifqd && !vifqdRunning) state.vifqdStartMs = await startVifqd(lab);
  return state;
}

/** Undoes what the arm set that the next arm would not replace: netback's rate nodes (removed: unlimited). */
export async function tearDownArm(lab: Lab, arm: ArmName): Promise<void> {
  if (ARMS[arm].netbackRate) await lab.dom0Ok(lab.guests.map((g) => `xenstore-rm ${rateNode(g.domid)} 2>/dev/null || true`).join('; '));
}
