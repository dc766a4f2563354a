/**
 * The counters of one noisy-neighbour phase, read in dom0 in one command before and after:
 * what each guest's vif took from the guest, what left the uplink (its root qdisc), drops in
 * dom0 (qdisc drops on uplink0 and every vif, the vifs' rx/tx_dropped), what the sink received
 * per protocol (its netns's /proc/net/snmp) and dom0's busy CPU time (/proc/stat).
 */
import type { Lab } from '../../../test/lab/lab.js';

export interface DeviceDrops { qdisc: number; rxDropped: number; txDropped: number }

export interface Counters {
  /** per domid: bytes and packets the vif took from the guest (rx on dom0's side) */
  vifs: Record<number, { bytes: number; packets: number }>;
  uplink: { bytes: number; packets: number; drops: number };
  drops: Record<string, DeviceDrops>;
  /** the sink's /proc/net/snmp: 'Udp.InDatagrams', 'Icmp.InEchos', ... */
  sinkSnmp: Record<string, number>;
  /** dom0's busy CPU time over all its CPUs, in clock ticks (USER_HZ) */
  cpuBusyTicks: number;
  /** USER_HZ as dom0 reports it (getconf CLK_TCK, else 100) */
  ticksPerSec: number;
}

/** dom0's answer did not have the shape this reader expects. */
export class CounterParseError extends Error {
  constructor(what: string, text: string) {
    super(`noisy-neighbour counters: cannot read ${what} from dom0's output: ${text.slice(0, 300)}`);
    this.name = 'CounterParseError';
  }
}

const SCRIPT = `for d in $(ls /sys/class/net | grep '^vif'); do
  printf 'vif\\t%s\\t%s\\t%s\\n' "$d" "$(cat /sys/class/net/$d/statistics/rx_bytes)" "$(cat /sys/class/net/$d/statistics/rx_packets)"
done
for d in uplink0 $(ls /sys/class/net | grep '^vif'); do
  printf 'drops\\t%s\\t%s\\t%s\\t%s\\n' "$d" "$(tc -s -j qdisc show dev $d | tr -d '\\n')" "$(cat /sys/class/net/$d/statistics/rx_dropped)" "$(cat /sys/class/net/$d/statistics/tx_dropped)"
done
printf 'uplink\\t%s\\n' "$(tc -s -j qdisc show dev uplink0 | tr -d '\\n')"
ip netns exec sink cat /proc/net/snmp | sed 's/^/snmp\\t/'
printf 'cpu\\t%s\\n' "$(head -1 /proc/stat)"
printf 'hz\\t%s\\n' "$(getconf CLK_TCK 2>/dev/null || echo 100)"`;

interface TcQdisc { kind?: string; root?: boolean; parent?: string; bytes?: number; packets?: number; drops?: number }

export async function readCounters(lab: Lab): Promise<Counters> {
  return parseCounters(await lab.dom0Ok(SCRIPT, { timeoutMs: 60_000 }));
}

export function parseCounters(text: string): Counters {
  const c: Counters = { vifs: {}, uplink: { bytes: 0, packets: 0, drops: 0 }, drops: {}, sinkSnmp: {}, cpuBusyTicks: 0, ticksPerSec: 100 };
  const snmpHeads = new Map<string, string[]>();
  let sawUplink = false;
  let sawCpu = false;
  for (const line of text.split('\n')) {
    const [tag, ...f] = line.split('\t');
    if (tag === 'vif') {
      const m = /^vif(\d+)\.0$/.exec(f[0] ?? '');
      if (m) c.vifs[Number(m[1])] = { bytes: Number(f[1]), packets: Number(f[2]) };
    } else if (tag === 'drops') {
      const qdiscs = JSON.parse(f[1] || '[]') as TcQdisc[];
      c.drops[f[0] ?? '?'] = { qdisc: qdiscs.reduce((s, q) => s + (q.drops ?? 0), 0), rxDropped: Number(f[2]), txDropped: Number(f[3]) };
    } else if (tag === 'uplink') {
      const qdiscs = JSON.parse(f[0] || '[]') as TcQdisc[];
      const root = qdiscs.find((q) => q.root) ?? qdiscs[0];
      if (!root) throw new CounterParseError('uplink0 root qdisc', line);
      // drops anywhere under the root (fq_codel under tbf drops in the child)
      c.uplink = { bytes: root.bytes ?? 0, packets: root.packets ?? 0, drops: qdiscs.reduce((s, q) => s + (q.drops ?? 0), 0) };
      sawUplink = true;
    } else if (tag === 'snmp') {
      const [proto = '', rest = ''] = (f[0] ?? '').split(/:\s*/, 2);
      const words = rest.trim().split(/\s+/);
      const head = snmpHeads.get(proto);
      if (!head) snmpHeads.set(proto, words);
      else head.forEach((k, i) => { c.sinkSnmp[`${proto}.${k}`] = Number(words[i]); });
    } else if (tag === 'cpu') {
      const v = (f[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
      if (v.length < 4 || v.some((x) => !Number.isFinite(x))) throw new CounterParseError('/proc/stat cpu line', line);
      // user nice system idle iowait irq softirq steal (guest time is already in user)
      const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = v;
      c.cpuBusyTicks = user + nice + system + irq + softirq;
      sawCpu = true;
    } else if (tag === 'hz') {
      c.ticksPerSec = Number(f[0]) || 100;
    }
  }
  if (!sawUplink) throw new CounterParseError('uplink0 qdisc statistics', text);
  if (!sawCpu) throw new CounterParseError('/proc/stat', text);
  return c;
}

/** after - before, field by field (devices or vifs that appeared count from 0). */
export function diffCounters(before: Counters, after: Counters): Counters {
  const vifs: Counters['vifs'] = {};
  for (const [d, a] of Object.entries(after.vifs)) {
    const b = before.vifs[Number(d)] ?? { bytes: 0, packets: 0 };
    vifs[Number(d)] = { bytes: a.bytes - b.bytes, packets: a.packets - b.packets };
  }
  const drops: Counters['drops'] = {};
  for (const [dev, a] of Object.entries(after.drops)) {
    const b = before.drops[dev] ?? { qdisc: 0, rxDropped: 0, txDropped: 0 };
    drops[dev] = { qdisc: a.qdisc - b.qdisc, rxDropped: a.rxDropped - b.rxDropped, txDropped: a.txDropped - b.txDropped };
  }
  const sinkSnmp: Counters['sinkSnmp'] = {};
  for (const [k, a] of Object.entries(after.sinkSnmp)) sinkSnmp[k] = a - (before.sinkSnmp[k] ?? 0);
  return {
    vifs, drops, sinkSnmp, ticksPerSec: after.ticksPerSec,
    // the uplink's counters restart when its qdisc is replaced between snapshots: never the case within a phase
    uplink: { bytes: after.uplink.bytes - before.uplink.bytes, packets: after.uplink.packets - before.uplink.packets, drops: after.uplink.drops - before.uplink.drops },
    cpuBusyTicks: after.cpuBusyTicks - before.cpuBusyTicks,
  };
}

export function totalDrops(d: Counters['drops']): number {
  return Object.values(d).reduce((s, x) => s + x.qdisc + x.rxDropped + x.txDropped, 0);
}
