/**
 * An uplink's line rate and where it came from. Pure: the caller brings the root qdiscs,
 * the classes of htb roots, and the device's link speed (ethtool/sysfs).
 *
 * A shaping qdisc at the root decides what the uplink really drains (the lab's tbf, an
 * operator's htb or cake), so it wins over the link speed; a root qdisc that does not shape
 * (fq_codel, mq, pfifo_fast...) leaves the link speed; veths and tunnels have neither.
 */
import { TC_H_ROOT, type TcObject } from './tc.js';

export type LineRateSource = 'qdisc-tbf' | 'qdisc-htb' | 'qdisc-cake' | 'link-speed' | 'unknown';

export interface LineRate {
  /** bits per second; undefined when unknown */
  bitsPerSecond: number | undefined;
  source: LineRateSource;
}

export const UNKNOWN_RATE: LineRate = { bitsPerSecond: undefined, source: 'unknown' };

/**
 * The rate of one device. `qdiscs` and `classes` may hold every device's; `speedMbps` is the
 * device's link speed (sysfs `speed`: Mb/s, -1 or absent when unknown).
 */
export function lineRateOf(ifindex: number, qdiscs: readonly TcObject[], classes: readonly TcObject[], speedMbps: number | undefined): LineRate {
  const root = qdiscs.find((q) => q.ifindex === ifindex && q.parent === TC_H_ROOT);
  if (root?.kind === 'tbf' && root.rateBits) return { bitsPerSecond: root.rateBits, source: 'qdisc-tbf' };
  if (root?.kind === 'cake' && root.rateBits) return { bitsPerSecond: root.rateBits, source: 'qdisc-cake' };
  if (root?.kind === 'htb') {
    // htb keeps rates in its classes; the top-level ones (parent: root) bound the device
    const top = classes.filter((c) => c.ifindex === ifindex && c.parent === TC_H_ROOT && c.rateBits !== undefined);
    const rate = Math.max(0, ...top.map((c) => c.rateBits ?? 0));
    if (rate > 0) return { bitsPerSecond: rate, source: 'qdisc-htb' };
  }
  if (speedMbps !== undefined && Number.isFinite(speedMbps) && speedMbps > 0) {
    return { bitsPerSecond: speedMbps * 1_000_000, source: 'link-speed' };
  }
  return UNKNOWN_RATE;
}
