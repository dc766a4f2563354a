/**
 * One measured phase: the victim pings the sink from LEAD seconds before the neighbours start until
 * about TAIL seconds after they stop (the over-time plot); domu2 sends TCP bulk, domu3 floods
 * 1400-byte UDP datagrams, both into the one uplink, as the scenario says (scenario.ts: (a) one
 * stream and one port, (b) 32 streams and 64 ports). The victim's RTT
 * summary is taken over the steady window only: WARM seconds after the neighbours start, SECS long.
 */
import type { Guest, Lab } from '../../../test/lab/lab.js';
import { parsePingSamples, summarize, type LatencySummary, type PingSample } from '../stats.js';
import { diffCounters, readCounters, totalDrops, type Counters } from './counters.js';
import { neighbourCommands, SCENARIOS, SINK, UDP_SIZE, type Scenario } from './scenario.js';

export interface Timing {
  secs: number;
  warmSecs: number;
  leadSecs: number;
  tailSecs: number;
  pingHz: number;
}

export { SINK, UDP_SIZE } from './scenario.js';
/** on-the-wire size (Ethernet + IP + UDP headers) of one flood datagram as the uplink qdisc counts it */
const UDP_FRAME = UDP_SIZE + 8 + 20 + 14;
/** busybox ping's default 56-byte payload as an Ethernet frame */
const ICMP_FRAME = 56 + 8 + 20 + 14;

export interface GuestFlow {
  guest: string;
  domid: number;
  role: 'victim' | 'tcp neighbour' | 'udp neighbour';
  /** bytes/s the guest's vif took from it */
  takenBytesPerSec: number;
  /** bytes/s of its traffic that left the uplink (UDP, ICMP: counted at the sink; TCP: the remainder) */
  deliveredBytesPerSec: number;
  /** delivered / uplink output */
  share: number;
}

export interface PhaseResult {
  /** victim RTT over the steady window */
  loaded: LatencySummary;
  /** every reply: seconds since the probe started, RTT (ms) */
  timeline: { t: number; rtt: number }[];
  /** neighbours' start and stop, seconds since the probe started */
  neighboursStart: number;
  neighboursStop: number;
  /** whose clocks timed them: the guests' (PV wall clock from Xen) or, when a stamp is missing, the host's */
  clock: 'guest' | 'host';
  /** how long the neighbours ran: the span the throughput figures are over */
  secs: number;
  flows: GuestFlow[];
  uplinkBytesPerSec: number;
  uplinkMbit: number;
  /** packets dropped in dom0: qdisc drops (uplink0, vifs) and the vifs' rx/tx_dropped */
  dom0Drops: number;
  dropsByDevice: Counters['drops'];
  /** bytes the vifs took from all guests / bytes that left the uplink */
  takenPerDelivered: number;
  /** dom0 CPU seconds per delivered megabyte (10^6 bytes) */
  dom0CpuSecPerMB: number;
}

const mbit = (bytesPerSec: number): number => Math.round((bytesPerSec * 8) / 1e4) / 100;
const r3 = (x: number): number => Math.round(x * 1000) / 1000;

/** The victim alone: SECS seconds of pings, no neighbour. */
export async function aloneProbe(lab: Lab, victim: Guest, t: Timing): Promise<{ summary: LatencySummary; samples: PingSample[] }> {
  const count = t.secs * t.pingHz;
  const r = await lab.guest(victim.n, `ping -c ${count} -i ${1 / t.pingHz} -W 2 ${SINK}`, { timeoutMs: (t.secs + 60) * 1000 });
  const samples = parsePingSamples(r.stdout);
  return { summary: summarize(samples.map((s) => s.rtt), count), samples };
}

/**
 * A guest's wall clock with sub-second digits (busybox date has no %N: a fresh file's mtime does).
 * PV guests take their wall clock from Xen, so the guests' stamps compare with each other.
 */
const STAMP = 'touch /tmp/.nn-stamp && stat -c %y /tmp/.nn-stamp';

/** Epoch ms of a "NNSTART|NNSTOP 2026-11-29 12:27:09.089723870 +0000" line, or undefined. */
export function stampMs(output: string, tag: 'NNSTART' | 'NNSTOP'): number | undefined {
  const m = new RegExp(`^${tag} (\\d{4}-\\d\\d-\\d\\d) (\\d\\d:\\d\\d:\\d\\d)(\\.\\d+)? ([+-]\\d{4})$`, 'm').exec(output);
  if (!m) return undefined;
  const frac = Number(`0${m[3] ?? ''}`);
  const base = Date.parse(`${m[1]}T${m[2]}${(m[4] ?? '+0000').replace(/(\d\d)$/, ':$1')}`);
  return Number.isFinite(base) ? base + frac * 1000 : undefined;
}

/** `scenario` says what the neighbours send (bench/lib/nn/scenario.ts); (a) when not given. */
export async function noisyPhase(lab: Lab, victim: Guest, tcp: Guest, udp: Guest, t: Timing, scenario: Scenario = SCENARIOS.a): Promise<PhaseResult> {
  const load = t.warmSecs + t.secs;
  // the probe runs until it is interrupted TAIL seconds after the neighbours stop; the count is a backstop
  const cap = t.leadSecs + load + t.tailSecs + 120;
  const tProbe = Date.now();
  const probe = lab.guest(victim.n, `echo "NNSTART $(${STAMP})"; ping -c ${cap * t.pingHz} -i ${1 / t.pingHz} -W 2 ${SINK}; true`, { timeoutMs: (cap + 60) * 1000 });
  await new Promise((res) => setTimeout(res, t.leadSecs * 1000));
  const before = await readCounters(lab);
  const t0 = Date.now();
  const cmd = neighbourCommands(scenario, load, STAMP);
  const loads = await Promise.all([
    lab.guest(tcp.n, cmd.tcp, { timeoutMs: (load + 60) * 1000 }),
    lab.guest(udp.n, cmd.udp, { timeoutMs: (load + 60) * 1000 }),
  ]);
  const t1 = Date.now();
  const after = await readCounters(lab);
  await new Promise((res) => setTimeout(res, t.tailSecs * 1000));
  await lab.guest(victim.n, 'killall -INT ping 2>/dev/null; true');
  const r = await probe;
  const d = diffCounters(before, after);

  // ping sends one request per interval from its start: seq / Hz is the send time. The neighbours'
  // start and stop on the victim's timeline come from the guests' clocks, else from the host's
  // (which adds the command path's delay, seconds on a loaded machine).
  const samples = parsePingSamples(r.stdout);
  const pingStart = stampMs(r.stdout, 'NNSTART');
  const starts = loads.map((l) => stampMs(l.stdout, 'NNSTART'));
  const stops = loads.map((l) => stampMs(l.stdout, 'NNSTOP'));
  const guestClock = pingStart !== undefined && [...starts, ...stops].every((x) => x !== undefined);
  const startS = guestClock ? (Math.min(...(starts as number[])) - pingStart) / 1000 : (t0 - tProbe) / 1000;
  const stopS = guestClock ? (Math.max(...(stops as number[])) - pingStart) / 1000 : (t1 - tProbe) / 1000;
  // the counters span the neighbours' run (read before they were started, after they ended)
  const secs = stopS - startS > 1 ? stopS - startS : (t1 - t0) / 1000;
  const from = (startS + t.warmSecs) * t.pingHz;
  const to = from + t.secs * t.pingHz;
  const steady = samples.filter((s) => s.seq >= from && s.seq < to).map((s) => s.rtt);

  const up = d.uplink.bytes / secs;
  const udpDelivered = ((d.sinkSnmp['Udp.InDatagrams'] ?? 0) + (d.sinkSnmp['Udp.NoPorts'] ?? 0) + (d.sinkSnmp['Udp.InErrors'] ?? 0)) * UDP_FRAME / secs;
  const icmpDelivered = (d.sinkSnmp['Icmp.InEchos'] ?? 0) * ICMP_FRAME / secs;
  const tcpDelivered = Math.max(0, up - udpDelivered - icmpDelivered);
  const taken = (g: Guest): number => (d.vifs[g.domid]?.bytes ?? 0) / secs;
  const flow = (g: Guest, role: GuestFlow['role'], delivered: number): GuestFlow => ({
    guest: g.name, domid: g.domid, role, takenBytesPerSec: Math.round(taken(g)), deliveredBytesPerSec: Math.round(delivered), share: up > 0 ? r3(delivered / up) : 0,
  });
  // one guest may play both neighbours (the vifqd lab test): count its vif once
  const takenAll = [...new Map([victim, tcp, udp].map((g) => [g.domid, g])).values()].reduce((s, g) => s + taken(g), 0);
  return {
    loaded: summarize(steady, t.secs * t.pingHz),
    timeline: samples.map((s) => ({ t: Math.round((s.seq / t.pingHz) * 100) / 100, rtt: s.rtt })),
    neighboursStart: Math.round(startS * 100) / 100,
    neighboursStop: Math.round(stopS * 100) / 100,
    clock: guestClock ? 'guest' : 'host',
    secs: Math.round(secs * 10) / 10,
    flows: [flow(victim, 'victim', icmpDelivered), flow(tcp, 'tcp neighbour', tcpDelivered), flow(udp, 'udp neighbour', udpDelivered)],
    uplinkBytesPerSec: Math.round(up),
    uplinkMbit: mbit(up),
    dom0Drops: totalDrops(d.drops),
    dropsByDevice: d.drops,
    takenPerDelivered: up > 0 ? r3(takenAll / up) : 0,
    dom0CpuSecPerMB: d.uplink.bytes > 0 ? r3((d.cpuBusyTicks / d.ticksPerSec) / (d.uplink.bytes / 1e6)) : 0,
  };
}
