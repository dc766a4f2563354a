/**
 * The noisy-neighbour problem, measured in the Xen lab.
 *
 *   node --import tsx bench/noisy-neighbour.ts [--boots 3] [--secs 20] [--netback FILE.ko]
 *                                              [--limit-bytes N] [--label stock] [--demo]
 *   node --import tsx bench/noisy-neighbour.ts --arms limits0,vifqd [--secs 20] [--netback FILE.ko]
 *   (make bench runs it with --boots 3; make demo with --boots 1 --demo)
 *
 * Per boot: three PV guests on xenbr0, all sending to the sink behind the uplink
 * stand-in (tbf 4 Mbit/s + FIFO, the shared NIC queue). The victim (domu1) pings
 * the sink at 10/s, first alone, then while domu2 sends one TCP bulk stream and
 * domu3 a flood of 1400-byte UDP datagrams into the same uplink. Full-size
 * datagrams keep the uplink queue the bottleneck: a small-datagram flood makes
 * the one emulated CPU the bottleneck under TCG instead (the uplink then sent
 * ~1.9 of its 4 Mbit/s), which is not the problem vifq addresses. Records the victim's
 * RTT p50/p99/max in both phases, the ratio p99(loaded)/p99(alone) and each
 * neighbour's throughput (bytes its vif took from the guest, bytes that left the
 * uplink). Results: bench/results/noisy-neighbour-<label>.json and a table in
 * docs/BENCHMARKS.md (not with --demo, which prints a summary only).
 * --limit-bytes N (needs the vifq netback) sets each neighbour's pending-byte
 * limit with vif-set before the loaded phase; the victim stays unlimited.
 *
 * --arms limits0,vifqd (the vifq module: --netback, else built from kernel-patch/6.1) runs several arms in ONE boot
 * after one alone phase: `limits0` is the patched module with no limits (behaves as stock:
 * the baseline), `vifqd` starts the dom0 service on its defaults (each guest's SLA directory
 * created dom0-owned and guest read-only, with nothing in it), waits until it has set every
 * vif, then runs the same noisy phase. Per arm: victim RTT, uplink output and its ratio to
 * the first arm, drops in dom0 (tc -s on uplink0 and the vifs, vif drop counters), vif-get,
 * and for vifqd the line rate and its source. Results: noisy-neighbour-<label>.json
 * (label default vifqd-defaults) and the docs section of the same name.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Lab, REPO, type Guest } from '../test/lab/lab.js';
import { parsePingRtts, summarize, type LatencySummary } from './lib/stats.js';
import { replaceSection } from './lib/benchmarks-md.js';
import { buildVifqModule, dumpVifs, type VifInfo } from '../test/lab/vifq.js';

const { values: opts } = parseArgs({
  options: {
    boots: { type: 'string', default: '3' },
    secs: { type: 'string', default: '20' },
    netback: { type: 'string' },
    'limit-bytes': { type: 'string' },
    label: { type: 'string' },
    arms: { type: 'string' },
    demo: { type: 'boolean', default: false },
  },
});
const ARMS = opts.arms ? opts.arms.split(',').map((a) => a.trim()).filter(Boolean) : null;
const LABEL = opts.label ?? (ARMS ? 'vifqd-defaults' : 'stock');
const BOOTS = Number(opts.boots);
const SECS = Number(opts.secs);
const WARM = 4;
const PING_HZ = 10;
const SINK = '198.18.0.100';
const UDP_SIZE = 1400;
const QDISC = { kind: 'tbf', rate: '4mbit', limitMs: 200 };

interface NeighbourLoad {
  guest: string;
  kind: string;
  vifTxMbit: number;
  vifTxPps: number;
}

interface BootResult {
  boot: number;
  alone: LatencySummary;
  loaded: LatencySummary;
  p99Ratio: number;
  neighbours: NeighbourLoad[];
  uplink: { sentMbit: number; drops: number; backlogMaxPkts: number | null };
}

async function vifCounters(lab: Lab, domid: number): Promise<{ bytes: number; packets: number }> {
  // rx on the dom0 side of a vif = what the guest transmitted into dom0
  const out = await lab.dom0Ok(`cat /sys/class/net/vif${domid}.0/statistics/rx_bytes /sys/class/net/vif${domid}.0/statistics/rx_packets`);
  const [bytes = 0, packets = 0] = out.trim().split('\n').map(Number);
  return { bytes, packets };
}

async function uplinkSent(lab: Lab): Promise<{ bytes: number; drops: number }> {
  const stats = JSON.parse(await lab.dom0Ok('/lab/uplink.sh stats')) as { bytes?: number; drops?: number }[];
  const root = stats[0] ?? {};
  return { bytes: root.bytes ?? 0, drops: root.drops ?? 0 };
}

async function probe(lab: Lab): Promise<number[]> {
  const count = SECS * PING_HZ;
  const r = await lab.guest(1, `ping -c ${count} -i ${1 / PING_HZ} -W 2 ${SINK}`, { timeoutMs: (SECS + 60) * 1000 });
  return parsePingRtts(r.stdout);
}

async function runBoot(boot: number): Promise<{ result: BootResult; versions: Record<string, string> }> {
  const lab = await Lab.boot({ name: `nn-${LABEL}-${boot}`, guests: 3, ...(opts.netback ? { netback: opts.netback } : {}) });
  let ok = false;
  try {
    await lab.dom0Ok(`/lab/uplink.sh qdisc ${QDISC.kind} ${QDISC.rate} ${QDISC.limitMs}`);
    const versions = await labVersions(lab);
    await lab.guest(1, `ping -c 3 -W 2 ${SINK}`); // ARP and caches warm
    const alone = await probe(lab);

    const [, tcp, udp] = lab.guests;
    if (!tcp || !udp) throw new Error('noisy-neighbour needs three guests');
    if (opts['limit-bytes']) {
      for (const g of [tcp, udp]) {
        await lab.dom0Ok(`node /vifq/test/e2e/drivers/vifq-nl.mjs set '{"domid":${g.domid},"handle":0,"limit-bytes":${Number(opts['limit-bytes'])}}'`);
      }
    }
    const phase = await noisyPhase(lab, tcp, udp);
    const a = summarize(alone, SECS * PING_HZ);
    const l = phase.loaded;
    ok = true;
    return {
      versions,
      result: {
        boot, alone: a, loaded: l, p99Ratio: Math.round((l.p99 / a.p99) * 10) / 10, neighbours: phase.neighbours,
        uplink: { sentMbit: phase.uplink.sentMbit, drops: phase.uplink.drops, backlogMaxPkts: phase.uplink.backlogMaxPkts },
      },
    };
  } finally {
    await lab.close({ collect: !ok });
  }
}

interface PhaseResult {
  loaded: LatencySummary;
  neighbours: NeighbourLoad[];
  secs: number;
  uplink: { sentMbit: number; sentBytesPerSec: number; drops: number; backlogMaxPkts: number | null };
  /** drops in dom0 during the phase: qdisc drops per device (uplink0, vifs) and the vifs' rx/tx_dropped */
  dom0Drops: { total: number; byDevice: Record<string, { qdisc: number; rxDropped: number; txDropped: number }> };
}

/** The loaded phase: the neighbours flood (TCP bulk + UDP) while the victim pings the sink. */
async function noisyPhase(lab: Lab, tcp: Guest, udp: Guest): Promise<PhaseResult> {
  const before = await Promise.all([vifCounters(lab, tcp.domid), vifCounters(lab, udp.domid), uplinkSent(lab), dom0DropCounters(lab)]);
  const t0 = Date.now();
  const dur = SECS + WARM + 2;
  const loads = [
    lab.guest(tcp.n, `timeout ${dur} nc ${SINK} 6000 < /dev/zero; true`, { timeoutMs: (dur + 30) * 1000 }),
    lab.guest(udp.n, `udpblast ${SINK} 6001 ${dur} ${UDP_SIZE}`, { timeoutMs: (dur + 30) * 1000 }),
  ];
  await new Promise((r) => setTimeout(r, WARM * 1000));
  const backlogSampler = sampleBacklog(lab, SECS * 1000);
  const loaded = await probe(lab);
  const backlogMaxPkts = await backlogSampler;
  await Promise.all(loads);
  const secs = (Date.now() - t0) / 1000;
  const after = await Promise.all([vifCounters(lab, tcp.domid), vifCounters(lab, udp.domid), uplinkSent(lab), dom0DropCounters(lab)]);
  const mbit = (b: number): number => Math.round((b * 8) / secs / 1e4) / 100;
  const byDevice: PhaseResult['dom0Drops']['byDevice'] = {};
  let total = 0;
  for (const [dev, a] of Object.entries(after[3])) {
    const b = before[3][dev] ?? { qdisc: 0, rxDropped: 0, txDropped: 0 };
    const d = { qdisc: a.qdisc - b.qdisc, rxDropped: a.rxDropped - b.rxDropped, txDropped: a.txDropped - b.txDropped };
    byDevice[dev] = d;
    total += d.qdisc + d.rxDropped + d.txDropped;
  }
  const upBytes = after[2].bytes - before[2].bytes;
  return {
    loaded: summarize(loaded, SECS * PING_HZ),
    neighbours: [
      { guest: tcp.name, kind: 'tcp bulk', vifTxMbit: mbit(after[0].bytes - before[0].bytes), vifTxPps: Math.round((after[0].packets - before[0].packets) / secs) },
      { guest: udp.name, kind: `udp ${UDP_SIZE} B flood`, vifTxMbit: mbit(after[1].bytes - before[1].bytes), vifTxPps: Math.round((after[1].packets - before[1].packets) / secs) },
    ],
    secs: Math.round(secs * 10) / 10,
    uplink: { sentMbit: mbit(upBytes), sentBytesPerSec: Math.round(upBytes / secs), drops: after[2].drops - before[2].drops, backlogMaxPkts },
    dom0Drops: { total, byDevice },
  };
}

/** Drop counters in dom0: per device (uplink0 and every vif) the qdiscs' drops (tc -s) and rx/tx_dropped. */
async function dom0DropCounters(lab: Lab): Promise<Record<string, { qdisc: number; rxDropped: number; txDropped: number }>> {
  const out = await lab.dom0Ok(`for d in uplink0 $(ls /sys/class/net | grep '^vif'); do
  printf '%s\t%s\t%s\t%s\n' "$d" "$(tc -s -j qdisc show dev $d | tr -d '\n')" "$(cat /sys/class/net/$d/statistics/rx_dropped)" "$(cat /sys/class/net/$d/statistics/tx_dropped)"
done`);
  const r: Record<string, { qdisc: number; rxDropped: number; txDropped: number }> = {};
  for (const line of out.trim().split('\n').filter(Boolean)) {
    const [dev = '', json = '[]', rx = '0', tx = '0'] = line.split('\t');
    const qdiscs = JSON.parse(json || '[]') as { drops?: number }[];
    r[dev] = { qdisc: qdiscs.reduce((sum, q) => sum + (q.drops ?? 0), 0), rxDropped: Number(rx), txDropped: Number(tx) };
  }
  return r;
}

/** Largest uplink qdisc backlog (packets) seen every 0.5 s over `ms`. */
async function sampleBacklog(lab: Lab, ms: number): Promise<number | null> {
  const n = Math.floor(ms / 500);
  const r = await lab.dom0(`for i in $(seq ${n}); do tc -s qdisc show dev uplink0 | sed -n 's/.*backlog [^ ]* \\([0-9]*\\)p.*/\\1/p' | head -1; sleep 0.5; done`,
    { timeoutMs: ms + 30_000 });
  const vals = r.stdout.trim().split('\n').filter(Boolean).map(Number);
  return vals.length ? Math.max(...vals) : null;
}

async function labVersions(lab: Lab): Promise<Record<string, string>> {
  const out = await lab.dom0Ok(`echo "kernel=$(uname -r)"; echo "xen=$(xl info | sed -n 's/^xen_version *: //p')"
    if [ -f /lab/xen-netback.ko ]; then echo "netback=custom md5 $(md5sum < /lab/xen-netback.ko | cut -c1-12)"; else echo "netback=stock $(modinfo -n xen-netback)"; fi`);
  const v: Record<string, string> = {};
  for (const line of out.trim().split('\n')) {
    const i = line.indexOf('=');
    v[line.slice(0, i)] = line.slice(i + 1);
  }
  const kernelDir = readFileSync(join(REPO, 'build', 'lab', `${v.kernel ?? ''}`, 'versions.txt'), 'utf8');
  v.images = kernelDir.trim().replace(/\n/g, '; ');
  return v;
}

// ---------------------------------------------------------------- --arms: several arms, one boot

const VIFQD_LOG = '/tmp/vifqd-nn.log';

interface VifLimits { vif: string; domid: number; role: string; limitBytes: number; limitPackets: number; priority: string; group: number }

interface ArmResult {
  arm: string;
  loaded: LatencySummary;
  /** p99(loaded) / p99(alone, same boot) */
  p99xAlone: number;
  /** p99(loaded) / p99(loaded) of the first arm */
  p99xBaseline: number | null;
  /** uplink bytes/s over the first arm's */
  outputxBaseline: number | null;
  phase: PhaseResult;
  limitsBefore: VifLimits[];
  limitsAfter: VifLimits[];
  vifqd?: VifqdInfo;
}

interface VifqdInfo {
  startMs: number;
  vifSetsBeforeLoad: number;
  vifSetsDuringLoad: number;
  /** limit-bytes values vifqd set per vif during the loaded phase (distinct, in order) */
  limitsSetDuringLoad: Record<string, number[]>;
  /** from the metrics endpoint (empty when it could not listen) */
  lineRate: { uplink: string; bitsPerSecond: number; source: string }[];
  /** the control socket's `status` before and after the loaded phase: lineRates and uplinks (budget) */
  statusBefore: unknown;
  statusAfter: unknown;
  /** vifqd's log lines other than debug (vif-set, findings, warnings, errors) */
  log: VifqdLogLine[];
  /** the decision's reasons of the last vif-set before the load, per vif */
  why: Record<string, string[]>;
  errorLines: string[];
}

interface VifqdLogLine { level?: number | string; time?: string | number; event?: string; domid?: number; handle?: number; limitBytes?: number; why?: string[]; msg?: string }

/** vifqd's control socket `status` (lineRates, uplinks' budgets), only the parts this bench reports. */
async function vifqdStatus(lab: Lab): Promise<unknown> {
  const client = `node -e 'setTimeout(() => process.exit(1), 20000);
const s = require("net").connect("/run/vifq/control.sock", () => s.write(JSON.stringify({ id: 1, method: "status" }) + "\\n"));
let b = ""; s.on("data", (d) => { b += d; if (b.includes("\\n")) { const r = JSON.parse(b.split("\\n")[0]).result ?? {}; console.log(JSON.stringify({ lineRates: r.lineRates, uplinks: r.uplinks })); process.exit(0); } });'`;
  const r = await lab.dom0(client, { timeoutMs: 60_000 });
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as unknown;
  } catch {
    return { error: `no answer (exit ${r.code}): ${r.stderr.trim().slice(-300)}` };
  }
}

function limitsOf(vifs: VifInfo[], roles: Map<number, string>): VifLimits[] {
  return vifs.map((v) => ({
    vif: `vif${v.domid}.${v.handle}`, domid: Number(v.domid), role: roles.get(Number(v.domid)) ?? '?',
    limitBytes: Number(v['limit-bytes']), limitPackets: Number(v['limit-packets']), priority: String(v.priority), group: Number(v.group),
  })).sort((a, b) => a.domid - b.domid);
}

async function vifqdLog(lab: Lab): Promise<VifqdLogLine[]> {
  const r = await lab.dom0(`cat ${VIFQD_LOG}`);
  return r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as VifqdLogLine);
}

/** SLA dirs dom0-owned + guest read-only (empty), then vifqd on its defaults; resolves once every vif was set. */
async function startVifqd(lab: Lab): Promise<number> {
  const sla = (d: number): string => `/local/domain/${d}/vifq`;
  // the lab's dom0 leaves lo down (an operator's dom0 has it up): vifqd's metrics listen on 127.0.0.1
  await lab.dom0Ok('ip link set lo up');
  await lab.dom0Ok(lab.guests.map((g) => `xenstore-write ${sla(g.domid)} '' && xenstore-chmod ${sla(g.domid)} n0 r${g.domid}`).join(' && '));
  const t0 = Date.now();
  await lab.dom0Ok(`rm -f ${VIFQD_LOG} /tmp/vifqd-nn.rc /tmp/vifqd-nn.pid
setsid sh -c 'node /vifq/dist/service/main.js >${VIFQD_LOG} 2>&1 & echo $! >/tmp/vifqd-nn.pid; wait $!; echo $? >/tmp/vifqd-nn.rc' </dev/null >/dev/null 2>&1 &
for i in $(seq 1200); do [ "$(grep -c '"event":"vif-set"' ${VIFQD_LOG} 2>/dev/null)" -ge ${lab.guests.length} ] && exit 0; [ -e /tmp/vifqd-nn.rc ] && break; sleep 0.2; done
cat ${VIFQD_LOG}; exit 1`, { timeoutMs: 300_000 });
  return Date.now() - t0;
}

async function lineRates(lab: Lab): Promise<VifqdInfo['lineRate']> {
  const m = await lab.dom0(`wget -qO- http://127.0.0.1:9851/metrics | grep '^vifq_uplink_line_rate_bits_per_second'`);
  return [...m.stdout.matchAll(/^vifq_uplink_line_rate_bits_per_second\{([^}]*)\} (\S+)$/gm)].map((x) => {
    const labels = Object.fromEntries([...(x[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    return { uplink: labels.uplink ?? '?', source: labels.source ?? '?', bitsPerSecond: Number(x[2]) };
  });
}

async function runArms(arms: string[]): Promise<void> {
  for (const a of arms) if (a !== 'limits0' && a !== 'vifqd') throw new Error(`--arms: unknown arm '${a}' (limits0, vifqd)`);
  const vi = arms.indexOf('vifqd');
  if (vi >= 0 && vi !== arms.length - 1) throw new Error('--arms: vifqd must be the last arm (it keeps its limits when it runs)');
  const netback = opts.netback ?? buildVifqModule('nn-arms');
  const lab = await Lab.boot({ name: `nn-${LABEL}`, guests: 3, netback });
  let ok = false;
  try {
    await lab.dom0Ok(`/lab/uplink.sh qdisc ${QDISC.kind} ${QDISC.rate} ${QDISC.limitMs}`);
    const versions = await labVersions(lab);
    const [victim, tcp, udp] = lab.guests;
    if (!victim || !tcp || !udp) throw new Error('noisy-neighbour needs three guests');
    const roles = new Map([[victim.domid, 'victim'], [tcp.domid, 'tcp neighbour'], [udp.domid, 'udp neighbour']]);
    await lab.guest(1, `ping -c 3 -W 2 ${SINK}`);
    const alone = summarize(await probe(lab), SECS * PING_HZ);
    process.stderr.write(`[nn] alone p50/p99 ${alone.p50}/${alone.p99} ms\n`);
    const results: ArmResult[] = [];
    for (const arm of arms) {
      await lab.dom0Ok('sleep 3'); // the previous arm's queue drains
      let vifqd: VifqdInfo | undefined;
      let startMs = 0;
      if (arm === 'vifqd') startMs = await startVifqd(lab);
      const limitsBefore = limitsOf(await dumpVifs(lab), roles);
      if (arm === 'limits0' && limitsBefore.some((l) => l.limitBytes !== 0 || l.limitPackets !== 0)) {
        throw new Error(`arm limits0: a vif has limits already: ${JSON.stringify(limitsBefore)}`);
      }
      const logBefore = arm === 'vifqd' ? (await vifqdLog(lab)).length : 0;
      const statusBefore = arm === 'vifqd' ? await vifqdStatus(lab) : undefined;
      process.stderr.write(`[nn] arm ${arm}: limits ${limitsBefore.map((l) => `${l.vif}=${l.limitBytes}`).join(' ')}\n`);
      const phase = await noisyPhase(lab, tcp, udp);
      const limitsAfter = limitsOf(await dumpVifs(lab), roles);
      if (arm === 'vifqd') {
        const lines = await vifqdLog(lab);
        const sets = lines.filter((l) => l.event === 'vif-set');
        const during = lines.slice(logBefore).filter((l) => l.event === 'vif-set');
        const limitsSetDuringLoad: Record<string, number[]> = {};
        for (const l of during) {
          const k = `vif${l.domid ?? '?'}.${l.handle ?? '?'}`;
          const list = (limitsSetDuringLoad[k] ??= []);
          if (l.limitBytes !== undefined && list[list.length - 1] !== l.limitBytes) list.push(l.limitBytes);
        }
        const why: Record<string, string[]> = {};
        for (const l of lines.slice(0, logBefore)) if (l.event === 'vif-set') why[`vif${l.domid ?? '?'}.${l.handle ?? '?'}`] = l.why ?? [];
        vifqd = {
          startMs, vifSetsBeforeLoad: sets.length - during.length, vifSetsDuringLoad: during.length, limitsSetDuringLoad,
          lineRate: await lineRates(lab), why, statusBefore, statusAfter: await vifqdStatus(lab),
          log: lines.filter((l) => l.level !== 20 && l.level !== 'debug' && l.event !== 'pass').slice(0, 300),
          errorLines: lines.filter((l) => l.level === 'error' || l.level === 50 || l.level === 60).map((l) => l.msg ?? JSON.stringify(l)),
        };
      }
      const base = results[0];
      const r: ArmResult = {
        arm, loaded: phase.loaded, p99xAlone: Math.round((phase.loaded.p99 / alone.p99) * 100) / 100,
        p99xBaseline: base ? Math.round((phase.loaded.p99 / base.loaded.p99) * 1000) / 1000 : null,
        outputxBaseline: base ? Math.round((phase.uplink.sentBytesPerSec / base.phase.uplink.sentBytesPerSec) * 1000) / 1000 : null,
        phase, limitsBefore, limitsAfter, ...(vifqd ? { vifqd } : {}),
      };
      results.push(r);
      process.stderr.write(`[nn] arm ${arm}: loaded p50/p99 ${r.loaded.p50}/${r.loaded.p99} ms (x${r.p99xAlone} alone, x${r.p99xBaseline ?? 1} baseline), uplink ${phase.uplink.sentBytesPerSec} B/s (x${r.outputxBaseline ?? 1}), dom0 drops ${phase.dom0Drops.total}\n`);
    }
    ok = true;
    writeArms(versions, alone, results);
  } finally {
    await lab.close({ collect: !ok });
  }
}

/** The line rates vifqd shows: its metrics endpoint, else its control socket's status. */
function shownLineRates(v: VifqdInfo): { uplink: string; bitsPerSecond: number; source: string; from: string }[] {
  if (v.lineRate.length > 0) return v.lineRate.map((l) => ({ ...l, from: 'metrics' }));
  const st = v.statusBefore as { lineRates?: { ifname?: string; bitsPerSec?: number; source?: string; detail?: string }[] } | undefined;
  return (st?.lineRates ?? []).map((l) => ({ uplink: l.ifname ?? '?', bitsPerSecond: l.bitsPerSec ?? 0, source: `${l.source ?? '?'}/${l.detail ?? '?'}`, from: 'control socket status' }));
}

function writeArms(versions: Record<string, string>, alone: LatencySummary, results: ArmResult[]): void {
  // without --netback the series is built (or taken from the build cache) by buildVifqModule
  const nb = opts.netback ? ` --netback ${opts.netback}` : '';
  const command = `node --import tsx bench/noisy-neighbour.ts --arms ${ARMS?.join(',') ?? ''} --secs ${SECS}${nb} --label ${LABEL}`;
  const base = results[0];
  const v = results.find((r) => r.arm === 'vifqd');
  const shown = v?.vifqd ? shownLineRates(v.vifqd) : [];
  const targets = v && base ? {
    p99xBaseline: { value: v.p99xBaseline, target: '<= 0.2', met: (v.p99xBaseline ?? Infinity) <= 0.2 },
    p99xAlone: { value: v.p99xAlone, target: '<= 3', met: v.p99xAlone <= 3 },
    outputxBaseline: { value: v.outputxBaseline, target: '>= 0.95', met: (v.outputxBaseline ?? 0) >= 0.95 },
    dom0Drops: { value: v.phase.dom0Drops.total, target: '0', met: v.phase.dom0Drops.total === 0 },
    lineRateShown: { value: shown, target: 'uplink0 from qdisc-tbf', met: shown.some((l) => l.uplink === 'uplink0' && l.source.includes('qdisc-tbf')) },
  } : null;
  const doc = {
    benchmark: 'noisy-neighbour', label: LABEL, command, date: new Date().toISOString(), versions,
    setup: { arms: ARMS, sameBoot: true, uplink: QDISC, pingHz: PING_HZ, probeSecs: SECS, warmSecs: WARM, udpSize: UDP_SIZE, guests: 3, vifqd: 'defaults: no flags, SLA dirs dom0-owned/guest read-only, empty' },
    alone, arms: results, targets,
  };
  const file = join(REPO, 'bench', 'results', `noisy-neighbour-${LABEL}.json`);
  mkdirSync(join(REPO, 'bench', 'results'), { recursive: true });
  writeFileSync(file, JSON.stringify(doc, null, 2) + '\n');
  const lim = (ls: VifLimits[]): string => ls.map((l) => `${l.vif} ${l.limitBytes}`).join(', ');
  const rows = results.map((r) => `| ${r.arm} | ${r.loaded.p50} / ${r.loaded.p99} / ${r.loaded.max} | ×${r.p99xAlone} | ${r.p99xBaseline === null ? '1 (baseline)' : `**×${r.p99xBaseline}**`} | ${r.loaded.lossPct}% | ${r.phase.neighbours.map((n) => n.vifTxMbit).join(' / ')} | ${r.phase.uplink.sentBytesPerSec} (${r.phase.uplink.sentMbit} Mbit/s) | ${r.outputxBaseline === null ? '1 (baseline)' : `**×${r.outputxBaseline}**`} | ${r.phase.dom0Drops.total} | ${lim(r.limitsBefore)} |`);
  const yes = (m: boolean): string => (m ? 'met' : '**not met**');
  const t = targets;
  const lr = shown.map((l) => `${l.uplink} ${l.bitsPerSecond} bit/s (source ${l.source}, ${l.from})`).join('; ') || 'none shown';
  replaceSection(join(REPO, 'docs', 'BENCHMARKS.md'), `noisy-neighbour-${LABEL}`, `
## Noisy neighbour: vifqd on its defaults against limits 0 (same boot)

\`${command}\` (${doc.date.slice(0, 10)}, one boot; raw: \`bench/results/noisy-neighbour-${LABEL}.json\`)

Lab: Xen ${versions.xen} in QEMU/TCG, dom0 kernel ${versions.kernel}, netback ${versions.netback}; the scenario of the sections
above (uplink0 \`${QDISC.kind} rate ${QDISC.rate} latency ${QDISC.limitMs}ms\`, victim domu1 pings ${PING_HZ}/s for ${SECS} s, domu2 one TCP bulk
stream, domu3 a ${UDP_SIZE}-byte UDP flood, ${WARM} s head start). One boot of the patched module: the victim alone
(p50/p99/max ${alone.p50} / ${alone.p99} / ${alone.max} ms), then arm \`limits0\` (no limits set: the module behaves as stock, the
baseline), then arm \`vifqd\`: \`node /vifq/dist/service/main.js\` started in dom0 with no flags, each guest's
\`/local/domain/<domid>/vifq\` created empty, dom0-owned and guest read-only; the loaded phase starts once vifqd has set every vif
(${v?.vifqd ? `${(v.vifqd.startMs / 1000).toFixed(0)} s after start` : '-'}). Drops = tc -s qdisc drops on uplink0 and the vifs plus the vifs' rx/tx_dropped, during the loaded phase.

| arm | victim loaded p50 / p99 / max (ms) | p99 ×alone | p99 ×baseline | loss | neighbours' TX: TCP / UDP (Mbit/s) | uplink out (B/s) | out ×baseline | drops in dom0 | limit-bytes (vif-get, before load) |
|---|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}

${v?.vifqd ? `Line rate vifqd found: ${lr}. Limits after the loaded phase: ${lim(v.limitsAfter)}; vif-sets during the load: ${v.vifqd.vifSetsDuringLoad}.` : ''}

${t ? `Targets (issue 12, "Defaults work"): victim p99 ≤ 0.2× baseline: ×${t.p99xBaseline.value} ${yes(t.p99xBaseline.met)}; ≤ 3× alone: ×${t.p99xAlone.value} ${yes(t.p99xAlone.met)};
uplink output ≥ 0.95× baseline: ×${t.outputxBaseline.value} ${yes(t.outputxBaseline.met)}; zero drops in dom0: ${t.dom0Drops.value} ${yes(t.dom0Drops.met)};
line rate from the uplink's tbf shown with its source: ${yes(t.lineRateShown.met)}. One boot only: a single sample, not a distribution.` : ''}
`);
  process.stderr.write(`[nn] wrote ${file} and docs/BENCHMARKS.md\n`);
}

function pooled(results: BootResult[], phase: 'alone' | 'loaded'): string {
  const p99s = results.map((r) => r[phase].p99);
  return `${Math.min(...p99s)}–${Math.max(...p99s)}`;
}

async function main(): Promise<void> {
  if (ARMS) {
    await runArms(ARMS);
    return;
  }
  const results: BootResult[] = [];
  let versions: Record<string, string> = {};
  for (let boot = 1; boot <= BOOTS; boot++) {
    process.stderr.write(`[nn] boot ${boot}/${BOOTS} (${LABEL})\n`);
    const r = await runBoot(boot);
    versions = r.versions;
    results.push(r.result);
    process.stderr.write(`[nn] boot ${boot}: alone p50/p99 ${r.result.alone.p50}/${r.result.alone.p99} ms, loaded ${r.result.loaded.p50}/${r.result.loaded.p99} ms, x${r.result.p99Ratio}\n`);
  }
  const limit = opts['limit-bytes'] ? ` --limit-bytes ${opts['limit-bytes']}` : '';
  const command = `node --import tsx bench/noisy-neighbour.ts --boots ${BOOTS} --secs ${SECS}${opts.netback ? ` --netback ${opts.netback}` : ''}${limit} --label ${LABEL}`;
  const doc = {
    benchmark: 'noisy-neighbour', label: LABEL, command, date: new Date().toISOString(), versions,
    setup: { neighbourLimitBytes: opts['limit-bytes'] ? Number(opts['limit-bytes']) : null, uplink: QDISC, pingHz: PING_HZ, probeSecs: SECS, warmSecs: WARM, udpSize: UDP_SIZE, guests: 3 },
    boots: results,
  };
  const rows = results.map((r) => `| ${r.boot} | ${r.alone.p50} / ${r.alone.p99} / ${r.alone.max} | ${r.loaded.p50} / ${r.loaded.p99} / ${r.loaded.max} | **×${r.p99Ratio}** | ${r.loaded.lossPct}% | ${r.neighbours.map((n) => `${n.vifTxMbit}`).join(' / ')} | ${r.uplink.sentMbit} | ${r.uplink.backlogMaxPkts ?? '-'} |`);
  const table = [
    `| boot | victim RTT alone p50 / p99 / max (ms) | loaded p50 / p99 / max (ms) | p99 loaded/alone | loss loaded | neighbours' TX: TCP / UDP (Mbit/s) | uplink out (Mbit/s) | max backlog (pkts) |`,
    '|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
  if (opts.demo) {
    process.stdout.write(`\nNoisy neighbour, ${LABEL} (${versions.netback}; ${versions.kernel}, Xen ${versions.xen}), uplink ${QDISC.kind} ${QDISC.rate}${limit ? `, neighbours limited to ${opts['limit-bytes']} pending bytes` : ''}:\n\n${table}\n\n`);
    const dir = join(REPO, 'build', 'demo');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `noisy-neighbour-${LABEL}.json`), JSON.stringify(doc, null, 2));
    return;
  }
  const file = join(REPO, 'bench', 'results', `noisy-neighbour-${LABEL}.json`);
  mkdirSync(join(REPO, 'bench', 'results'), { recursive: true });
  writeFileSync(file, JSON.stringify(doc, null, 2) + '\n');
  replaceSection(join(REPO, 'docs', 'BENCHMARKS.md'), `noisy-neighbour-${LABEL}`, `
## Noisy neighbour, ${LABEL} netback

\`make bench\` → \`${command}\` (${doc.date.slice(0, 10)}; raw: \`bench/results/noisy-neighbour-${LABEL}.json\`)

Lab: Xen ${versions.xen} in QEMU/TCG, dom0 kernel ${versions.kernel}, netback ${versions.netback}.
Three PV guests on xenbr0; the uplink stand-in is a veth with \`${QDISC.kind} rate ${QDISC.rate} latency ${QDISC.limitMs}ms\` (one FIFO),
sink namespace behind it. The victim (domu1) pings the sink ${PING_HZ}/s for ${SECS} s alone, then while domu2 sends one TCP
bulk stream and domu3 floods ${UDP_SIZE}-byte UDP datagrams to the sink (${WARM} s head start). Neighbours' TX = bytes their
vifs took from the guests.

${table}

Victim p99 alone ${pooled(results, 'alone')} ms, loaded ${pooled(results, 'loaded')} ms over ${results.length} boots;
p99(loaded)/p99(alone) = ${results.map((r) => `×${r.p99Ratio}`).join(', ')}.
`);
  process.stderr.write(`[nn] wrote ${file} and docs/BENCHMARKS.md\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`noisy-neighbour: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
