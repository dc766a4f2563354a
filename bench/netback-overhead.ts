/**
 * Cost of the vifq patch on the guest-TX path: packets/s and throughput a guest
 * pushes through netback with the stock module, the patched module with limits
 * 0 (unconfigured) and the patched module with limits set, all in ONE lab boot.
 * The modules are swapped in place (rmmod/insmod, guest re-created each time) and
 * the variants are measured in rounds (A B C A B C ...) so drift of the shared,
 * noisy host hits them alike.
 *
 *   node --import tsx bench/netback-overhead.ts [--rounds 3] [--secs 8]   (part of make bench)
 *
 * Load: the guest sends 64-byte UDP datagrams (udpblast) and a TCP bulk stream
 * to dom0 (198.18.0.1, no bottleneck queue); the rate is what dom0's vif took
 * from the guest (its rx counters). Under QEMU/TCG guest and dom0 share one
 * emulated CPU, so netback's per-packet cost shows up as guest TX rate.
 * After each load the vif's throttle counters are read (vif-get dump; the module
 * was loaded for this variant, so they count from zero): a limited variant that
 * throttled measured its limit, not the cost of the checks. Every variant runs
 * the same dump (stock has no vifq family: it fails after the same node start).
 *
 * Where the CPU went during each load (to tell a cost of the module from a lab or
 * host that was busy with something else): the host's CPU time of the lab's QEMU
 * and of everything else on the host (/proc), dom0's /proc/stat (user, system,
 * softirq, idle, steal), each domain's CPU time from xl list, the guest's own
 * /proc/stat, the vif's event-channel interrupts (/proc/interrupts), dom0's NET_RX
 * softirqs and the vif's ethtool counters. Round r starts with variant r mod 3
 * (stock, limits 0, limited, rotated), so no variant always runs last.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Lab, REPO } from '../test/lab/lab.js';
import { replaceSection } from './lib/benchmarks-md.js';
import { median } from './lib/stats.js';

const { values: opts } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, secs: { type: 'string', default: '8' } } });
const ROUNDS = Number(opts.rounds);
const SECS = Number(opts.secs);
const PATCHED = join(REPO, 'build/netback/vifq-bench.ko');
const DRIVER = 'node /vifq/test/e2e/drivers/vifq-nl.mjs';

type Variant = 'stock' | 'vifq-unlimited' | 'vifq-limited';
const VARIANTS: Variant[] = ['stock', 'vifq-unlimited', 'vifq-limited'];
const LIMIT_BYTES = 262_144;
const LIMIT_PACKETS = 256;

/** What the vif's vifq counters said after a load (null: stock, no vifq family). */
interface Throttling { events: number; throttledMs: number }
/** CPU seconds of /proc/stat's first line between two readings (USER_HZ 100). */
interface CpuSplit { user: number; system: number; softirq: number; irq: number; idle: number; steal: number }
/** Where the CPU went during one load (seconds unless named otherwise). */
interface LoadCost {
  wallS: number;
  /** host: the lab's QEMU process, and every other process (all host CPUs busy time minus QEMU's) */
  hostQemuCpuS: number; hostOthersCpuS: number; hostCpus: number;
  dom0: CpuSplit; guest: CpuSplit | null;
  /** xl list Time(s) deltas: dom0 and the measured guest */
  xlDom0CpuS: number; xlGuestCpuS: number;
  evtchnIrqs: number; netRxSoftirqs: number;
  /** ethtool -S deltas of the vif's tx_ counters (stock: none) */
  vifq: Record<string, number>;
  /** what the guest's sender said it sent (UDP only) */
  guestSent: number | null;
  /** ms a fixed bash loop (20000 iterations) took in dom0 just before and just after the load: the lab's speed */
  calBeforeMs: number; calAfterMs: number;
}
interface Sample {
  variant: Variant; round: number; udpPps: number; udpMbit: number; tcpMbit: number; tcpPps: number;
  udpThrottling: Throttling | null; tcpThrottling: Throttling | null;
  udpCost: LoadCost; tcpCost: LoadCost;
}

// the series of the lab kernel the run boots (Lab.boot's default: $LAB_KERNEL or 6.1)
const SERIES = process.env.LAB_KERNEL ?? '6.1';
execFileSync(join(REPO, 'kernel-patch/build-module.sh'), ['--series', SERIES, '--out', PATCHED, '--dir', join(REPO, 'build/netback/bench-tree')], { stdio: 'inherit' });

async function loadModule(lab: Lab, variant: Variant): Promise<number> {
  // no guest may hold a vif while netback is swapped
  await lab.dom0Ok(`xl list | awk 'NR>2{print $1}' | while read d; do xl destroy $d; done
    for i in $(seq 100); do ls /sys/class/net | grep -q '^vif' || break; sleep 0.1; done
    rmmod xen_netback
    if [ ${variant} = stock ]; then modprobe xen-netback; else insmod /vifq/build/netback/vifq-bench.ko; fi`, { timeoutMs: 120_000 });
  const { domid } = await lab.createGuest(1);
  // Every variant does the same dom0 work before it is measured (node starts in
  // ~10-30 s under TCG while the new guest finishes booting): the limited one sets
  // its limits, the others list the vifs (stock has no vifq family: that fails, after the same start).
  if (variant === 'vifq-limited') {
    await lab.dom0Ok(`${DRIVER} set '{"domid":${domid},"handle":0,"limit-bytes":${LIMIT_BYTES},"limit-packets":${LIMIT_PACKETS}}'`);
  } else {
    await lab.dom0(`${DRIVER} dump >/dev/null 2>&1`, { timeoutMs: 120_000 });
  }
  return domid;
}

/** The lab's QEMU on the host: the process whose -virtfs shares this run's ctl dir. */
function findQemu(runDir: string): number {
  const ctl = realpathSync(join(runDir, 'ctl'));
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.includes('qemu-system') && argv.some((a) => a.includes(`path=${ctl},`))) return Number(d);
    } catch { /* gone */ }
  }
  throw new Error(`no QEMU process shares ${ctl}`);
}

const HZ = 100; // USER_HZ of /proc/stat and /proc/<pid>/stat, here and in dom0
interface HostCpu { qemu: number; busy: number; cpus: number }
function hostCpu(qemuPid: number): HostCpu {
  const st = readFileSync(`/proc/${qemuPid}/stat`, 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ').map(Number); // f[0] is field 3 (state)
  const qemu = ((f[11] ?? 0) + (f[12] ?? 0)) / HZ; // utime, stime: fields 14, 15
  const lines = readFileSync('/proc/stat', 'utf8').split('\n');
  const c = (lines[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = c.slice(0, 8).reduce((a, b) => a + b, 0);
  const busy = (total - (c[3] ?? 0) - (c[4] ?? 0)) / HZ; // minus idle, iowait
  return { qemu, busy, cpus: lines.filter((l) => /^cpu\d/.test(l)).length };
}

/** "cpu user nice system idle iowait irq softirq steal ..." twice -> seconds between them. */
function cpuSplit(a: string | undefined, b: string | undefined): CpuSplit | null {
  if (!a || !b) return null;
  const x = a.trim().split(/\s+/).slice(1).map(Number);
  const y = b.trim().split(/\s+/).slice(1).map(Number);
  const d = (i: number): number => Math.round((((y[i] ?? 0) - (x[i] ?? 0)) / HZ) * 100) / 100;
  return { user: Math.round((d(0) + d(1)) * 100) / 100, system: d(2), idle: Math.round((d(3) + d(4)) * 100) / 100, irq: d(5), softirq: d(6), steal: d(7) };
}

function required<T>(x: T | null, what: string): T {
  if (x === null) throw new Error(`netback-overhead: missing ${what}`);
  return x;
}

async function rate(lab: Lab, qemuPid: number, domid: number, guestCmd: string): Promise<{ pps: number; mbit: number; cost: LoadCost }> {
  const vif = `vif${domid}.0`;
  // one reading of everything in dom0, each line tagged with the phase ($1)
  const snap = `snap() {
      echo "$1 stat $(head -1 /proc/stat)"
      echo "$1 irq $(awk '/${vif}-/{for(i=2;i<=NF&&$i~/^[0-9]+$/;i++)s+=$i} END{print s+0}' /proc/interrupts)"
      echo "$1 netrx $(awk '/NET_RX/{for(i=2;i<=NF;i++)s+=$i} END{print s+0}' /proc/softirqs)"
      echo "$1 xl $(xl list | awk 'NR>1{printf "%s:%s ", $2, $NF}')"
      ethtool -S ${vif} 2>/dev/null | awk -v p=$1 '/^ +tx_/{sub(":","",$1); print p, "eth", $1, $2}'
    }
    cal() { local t0=\${EPOCHREALTIME/./} i=0; while [ $i -lt 20000 ]; do i=$((i + 1)); done; echo "$1 cal $(( (\${EPOCHREALTIME/./} - t0) / 1000 ))"; }`;
  const h0 = hostCpu(qemuPid);
  const t0 = Date.now();
  const r = await lab.dom0Ok(`${snap}
    f=/sys/class/net/${vif}/statistics
    cal c0
    snap s0
    b0=$(cat $f/rx_bytes); p0=$(cat $f/rx_packets); t0=\${EPOCHREALTIME/./}
    /lab/gexec 198.18.0.2 'echo "g0 $(head -1 /proc/stat)"; ${guestCmd}; echo "g1 $(head -1 /proc/stat)"' | sed 's/^/guest /'
    b1=$(cat $f/rx_bytes); p1=$(cat $f/rx_packets); t1=\${EPOCHREALTIME/./}
    snap s1
    cal c1
    echo "rate $((b1 - b0)) $((p1 - p0)) $((t1 - t0))"`, { timeoutMs: (SECS + 60) * 1000 });
  const wallS = (Date.now() - t0) / 1000;
  const h1 = hostCpu(qemuPid);
  const lines = r.split('\n');
  const tagged = (tag: string): string | undefined => lines.find((l) => l.startsWith(`${tag} `))?.slice(tag.length + 1);
  const num = (tag: string): number => Number(tagged(tag) ?? 0);
  const [bytes = 0, packets = 0, us = 1] = (tagged('rate') ?? '').trim().split(/\s+/).map(Number);
  const xl = (phase: string): Map<string, number> =>
    new Map((tagged(`${phase} xl`) ?? '').trim().split(/\s+/).filter(Boolean).map((kv) => kv.split(':') as [string, string]).map(([k, v]) => [k, Number(v)]));
  const [xl0, xl1] = [xl('s0'), xl('s1')];
  const xlDelta = (id: string): number => Math.round(((xl1.get(id) ?? 0) - (xl0.get(id) ?? 0)) * 10) / 10;
  const eth = (phase: string): Map<string, number> =>
    new Map(lines.filter((l) => l.startsWith(`${phase} eth `)).map((l) => l.split(' ')).map((w) => [w[2] as string, Number(w[3])]));
  const [e0, e1] = [eth('s0'), eth('s1')];
  const vifq: Record<string, number> = {};
  for (const [k, v] of e1) if (/packets|early|throttle|written|lowprio/.test(k) && !/inflight/.test(k)) vifq[k] = v - (e0.get(k) ?? 0);
  const sent = /sent (\d+) datagrams/.exec(r);
  const cost: LoadCost = {
    wallS: Math.round(wallS * 100) / 100,
    hostQemuCpuS: Math.round((h1.qemu - h0.qemu) * 100) / 100,
    hostOthersCpuS: Math.round((h1.busy - h0.busy - (h1.qemu - h0.qemu)) * 100) / 100,
    hostCpus: h1.cpus,
    dom0: required(cpuSplit(tagged('s0 stat'), tagged('s1 stat')), `dom0 /proc/stat lines: ${r.slice(0, 300)}`),
    guest: cpuSplit(tagged('guest g0'), tagged('guest g1')),
    xlDom0CpuS: xlDelta('0'), xlGuestCpuS: xlDelta(String(domid)),
    evtchnIrqs: num('s1 irq') - num('s0 irq'),
    netRxSoftirqs: num('s1 netrx') - num('s0 netrx'),
    vifq, guestSent: sent ? Number(sent[1]) : null,
    calBeforeMs: num('c0 cal'), calAfterMs: num('c1 cal'),
  };
  return { pps: Math.round((packets * 1e6) / us), mbit: Math.round((bytes * 8) / us * 100) / 100, cost };
}

/** The vif's cumulative throttle counters, or null when the module has no vifq family. */
async function throttling(lab: Lab, domid: number): Promise<Throttling | null> {
  const r = await lab.dom0(`${DRIVER} dump`, { timeoutMs: 120_000 });
  if (r.code !== 0) return null;
  const vifs = JSON.parse(r.stdout) as { domid: number; handle: number; 'throttle-events'?: number; 'throttled-ns'?: number }[];
  const vif = vifs.find((v) => v.domid === domid && v.handle === 0);
  if (!vif) throw new Error(`vif-get dump has no vif${domid}.0: ${r.stdout.slice(0, 300)}`);
  return { events: Number(vif['throttle-events'] ?? 0), throttledMs: Math.round(Number(vif['throttled-ns'] ?? 0) / 1e4) / 100 };
}

/** b - a, per counter (a load's own throttling from two cumulative readings). */
function since(a: Throttling | null, b: Throttling | null): Throttling | null {
  return a && b ? { events: b.events - a.events, throttledMs: Math.round((b.throttledMs - a.throttledMs) * 100) / 100 } : null;
}

const lab = await Lab.boot({ name: 'bench-netback-overhead' });
const samples: Sample[] = [];
let ok = false;
try {
  const kernel = (await lab.dom0Ok('uname -r')).trim();
  const qemuPid = findQemu(lab.runDir);
  for (let round = 1; round <= ROUNDS; round++) {
    // rotated per round: stock first in round 1, limits 0 first in round 2, ...
    const order = VARIANTS.map((_, i) => VARIANTS[(i + round - 1) % VARIANTS.length] as Variant);
    for (const variant of order) {
      const domid = await loadModule(lab, variant);
      const udp = await rate(lab, qemuPid, domid, `udpblast 198.18.0.1 6001 ${SECS} 64`);
      const afterUdp = await throttling(lab, domid);
      const tcp = await rate(lab, qemuPid, domid, `timeout ${SECS} nc 198.18.0.1 6000 < /dev/zero; true`);
      const afterTcp = await throttling(lab, domid);
      const tcpThrottling = since(afterUdp, afterTcp);
      samples.push({ variant, round, udpPps: udp.pps, udpMbit: udp.mbit, tcpMbit: tcp.mbit, tcpPps: tcp.pps, udpThrottling: afterUdp, tcpThrottling, udpCost: udp.cost, tcpCost: tcp.cost });
      const shown = (x: Throttling | null): string => (x ? `${x.events} throttle events, ${x.throttledMs} ms throttled` : 'no vifq counters');
      const c = udp.cost;
      process.stderr.write(`[overhead] round ${round} ${variant}: udp ${udp.pps} pps (${shown(afterUdp)}; host QEMU ${c.hostQemuCpuS} s, others ${c.hostOthersCpuS} s of ${c.wallS} s; xl guest ${c.xlGuestCpuS} s, dom0 ${c.xlDom0CpuS} s; dom0 softirq ${c.dom0.softirq} s, idle ${c.dom0.idle} s; ${c.evtchnIrqs} vif irqs), tcp ${tcp.mbit} Mbit/s (${shown(tcpThrottling)})\n`);
    }
  }
  ok = true;
  const med = (v: Variant, k: 'udpPps' | 'tcpMbit'): number => median(samples.filter((s) => s.variant === v).map((s) => s[k]));
  const base = { udpPps: med('stock', 'udpPps'), tcpMbit: med('stock', 'tcpMbit') };
  // The lab's speed during a load: the dom0 loop's time around it. Scaling a load's
  // pps by (its loop time / the median loop time) gives its pps at the median speed.
  const cal = (c: LoadCost): number => (c.calBeforeMs + c.calAfterMs) / 2;
  const calMedian = median(samples.map((s) => cal(s.udpCost)));
  const udpNorm = (s: Sample): number => Math.round((s.udpPps * cal(s.udpCost)) / calMedian);
  const normBase = median(samples.filter((s) => s.variant === 'stock').map(udpNorm));
  const rows = VARIANTS.map((v) => {
    const u = med(v, 'udpPps');
    const t = med(v, 'tcpMbit');
    const own = samples.filter((s) => s.variant === v);
    const n = median(own.map(udpNorm));
    const events = (k: 'udpThrottling' | 'tcpThrottling'): string => (own.some((s) => s[k] === null) ? '–' : own.map((s) => s[k]?.events ?? 0).join(' / '));
    return { variant: v, udpPps: u, udpRatio: Math.round((u / base.udpPps) * 1000) / 1000, udpPpsAtMedianSpeed: n, udpRatioAtMedianSpeed: Math.round((n / normBase) * 1000) / 1000, tcpMbit: t, tcpRatio: Math.round((t / base.tcpMbit) * 1000) / 1000, udpThrottleEvents: events('udpThrottling'), tcpThrottleEvents: events('tcpThrottling') };
  });
  const command = `node --import tsx bench/netback-overhead.ts --rounds ${ROUNDS} --secs ${SECS}`;
  const doc = { benchmark: 'netback-overhead', command, date: new Date().toISOString(), kernel, limits: { bytes: LIMIT_BYTES, packets: LIMIT_PACKETS }, samples, medians: rows };
  writeFileSync(join(REPO, 'bench/results/netback-overhead.json'), JSON.stringify(doc, null, 2) + '\n');
  const unlimited = rows.find((r) => r.variant === 'vifq-unlimited');
  replaceSection(join(REPO, 'docs/BENCHMARKS.md'), 'netback-overhead', `
## Guest TX cost of the patch: stock vs vifq netback, same boot

\`make bench\` → \`${command}\` (${doc.date.slice(0, 10)}; dom0 ${kernel} under QEMU/TCG; raw: \`bench/results/netback-overhead.json\`)

One guest sends to dom0 (no bottleneck queue): 64-byte UDP datagrams, then one TCP bulk stream, ${SECS} s each;
rates are what dom0's vif took from the guest. The three modules are swapped in place in one boot and measured
in ${ROUNDS} interleaved rounds; medians. "limited" = limit-bytes ${LIMIT_BYTES}, limit-packets ${LIMIT_PACKETS}
(meant to sit above what this path keeps in flight, so that it measures the cost of the checks; the throttle
events show whether it did: a round that throttled measured the limit too).

| module | UDP 64 B pps | ratio to stock | throttle events (UDP, per round) | TCP Mbit/s | ratio to stock | throttle events (TCP, per round) |
|---|---|---|---|---|---|---|
${rows.map((r) => `| ${r.variant} | ${r.udpPps} | ${r.udpRatio.toFixed(3)} | ${r.udpThrottleEvents} | ${r.tcpMbit} | ${r.tcpRatio.toFixed(3)} | ${r.tcpThrottleEvents} |`).join('\n')}

Target: vifq with limits 0 ≥ 0.98 × stock pps — ${unlimited && unlimited.udpRatio >= 0.98 ? 'met' : 'NOT met'} in this run
(per-round samples in the JSON show the noise of the shared host).

Where the CPU went during each UDP load (s = CPU seconds over the load's wall time; host: this machine,
${samples[0]?.udpCost.hostCpus ?? '?'} CPUs; xl: Xen's per-domain CPU time; dom0: its /proc/stat; irqs: the vif's event channels;
rounds rotate the order of the variants):

| round | module | UDP pps | dom0 loop ms before / after | pps at median lab speed | wall s | host: QEMU s | host: other processes s | xl guest s | xl dom0 s | dom0 softirq s | dom0 idle s | guest steal s | vif irqs | NET_RX softirqs | guest sent |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
${samples.map((x) => { const c = x.udpCost; return `| ${x.round} | ${x.variant} | ${x.udpPps} | ${c.calBeforeMs} / ${c.calAfterMs} | ${udpNorm(x)} | ${c.wallS} | ${c.hostQemuCpuS} | ${c.hostOthersCpuS} | ${c.xlGuestCpuS} | ${c.xlDom0CpuS} | ${c.dom0.softirq} | ${c.dom0.idle} | ${c.guest?.steal ?? '–'} | ${c.evtchnIrqs} | ${c.netRxSoftirqs} | ${c.guestSent ?? '–'} |`; }).join('\n')}

UDP pps scaled to the median lab speed (a load's pps × its dom0 loop time / the median loop time ${calMedian} ms), medians:
${rows.map((r) => `${r.variant} ${r.udpPpsAtMedianSpeed} (${r.udpRatioAtMedianSpeed.toFixed(3)}× stock)`).join(', ')}.
`);
  process.stdout.write(JSON.stringify(rows) + '\n');
} finally {
  await lab.close({ collect: !ok });
}
