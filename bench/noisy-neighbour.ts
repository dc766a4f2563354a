/**
 * The noisy-neighbour problem, measured in the Xen lab.
 *
 *   node --import tsx bench/noisy-neighbour.ts [--boots 3] [--secs 20] [--netback FILE.ko]
 *                                              [--limit-bytes N] [--label stock] [--demo]
 *   node --import tsx bench/noisy-neighbour.ts --arms stock,fq_codel,cake,rate,vifq,vifq+fq_codel [--boots 1] [--secs 20] [--scenario a|b]
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
 * --arms stock,fq_codel,cake,rate,vifq,vifq+fq_codel [--boots N] [--secs S] [--label L] [--demo]
 * runs the arms of bench/lib/nn/arms.ts in ONE boot per --boots (the vifq module: --netback, else
 * built from kernel-patch/6.1): the victim alone once, then per arm its uplink qdisc / netback rate /
 * vifqd and the noisy phase (bench/lib/nn/phase.ts). Per arm: victim RTT p50/p99/p99.9/max and
 * ×alone, each guest's delivered throughput and share, uplink output, dom0 drops, bytes taken from
 * the guests ÷ bytes delivered, dom0 CPU per MB. Writes demo-output/noisy-neighbour-<label>.json and
 * plots (SVG + PNG, vega-lite) beside it; without --demo also bench/results/ and the docs section.
 * --scenario b (with --arms only): the same arms and figures while domu2 opens 32 TCP bulk streams
 * and domu3 floods 64 UDP ports (bench/lib/nn/scenario.ts), one neighbour with many flows where
 * per-flow fairness is not per-guest fairness; its files and docs section add "-b" to the name
 * (demo-output/noisy-neighbour-<label>-b.json, section noisy-neighbour-<label>-b). (a) is the default.
 * An arm that fails is named with its reason, the others still run, and the exit status is 1;
 * a missing sch_cake skips the cake arm with a line saying so.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Lab, REPO, type Guest } from '../test/lab/lab.js';
import { parsePingRtts, summarize, type LatencySummary } from './lib/stats.js';
import { replaceSection } from './lib/benchmarks-md.js';
import { buildVifqModule } from '../test/lab/vifq.js';
import { parseArms, type ArmName, type Uplink } from './lib/nn/arms.js';
import { UDP_SIZE, type Timing } from './lib/nn/phase.js';
import { parseScenario, ScenarioError, scenarioNames } from './lib/nn/scenario.js';
import { aloneLine, armsTable, problems } from './lib/nn/report.js';
import { runBootArms, type BootRun } from './lib/nn/run-arms.js';
import { writeNnPlots } from './lib/plot/nn-plots.js';

const { values: opts } = parseArgs({
  options: {
    boots: { type: 'string', default: '3' },
    secs: { type: 'string', default: '20' },
    netback: { type: 'string' },
    'limit-bytes': { type: 'string' },
    label: { type: 'string' },
    arms: { type: 'string' },
    demo: { type: 'boolean', default: false },
    scenario: { type: 'string', default: 'a' },
  },
});
const ARMS = opts.arms ? parseArms(opts.arms) : null;
const SCENARIO = parseScenario(opts.scenario);
if (SCENARIO.name !== 'a' && !ARMS) throw new ScenarioError(`'${SCENARIO.name}' needs --arms`);
const LABEL = opts.label ?? (ARMS ? 'arms' : 'stock');
const NAMES = scenarioNames(LABEL, SCENARIO);
const BOOTS = Number(opts.boots);
const SECS = Number(opts.secs);
const WARM = 4;
const PING_HZ = 10;
const SINK = '198.18.0.100';
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

const TIMING: Timing = { secs: SECS, warmSecs: WARM, leadSecs: 3, tailSecs: 3, pingHz: PING_HZ };
const UPLINK: Uplink = { rate: QDISC.rate, bitsPerSec: 4_000_000, limitMs: QDISC.limitMs };

async function runArms(arms: ArmName[]): Promise<number> {
  const netback = opts.netback ?? buildVifqModule('nn-arms');
  const progress = (line: string): void => { process.stderr.write(`[nn] ${line}\n`); };
  const runs: BootRun[] = [];
  const failedBoots: { boot: number; reason: string }[] = [];
  for (let boot = 1; boot <= BOOTS; boot++) {
    progress(`boot ${boot}/${BOOTS}: ${SCENARIO.name === 'a' ? '' : `scenario (${SCENARIO.name}), `}arms ${arms.join(', ')}; ${SECS} s per arm (${LABEL})`);
    let run: BootRun;
    try {
      run = await runBootArms({ boot, label: LABEL, netback, arms, uplink: UPLINK, timing: TIMING, scenario: SCENARIO, versions: labVersions, progress });
    } catch (error) {
      // the lab did not boot or went away: the other boots still run, the exit status says so
      const reason = error instanceof Error ? error.message : String(error);
      failedBoots.push({ boot, reason });
      progress(`boot ${boot} FAILED: ${reason}`);
      continue;
    }
    runs.push(run);
    process.stdout.write(`\nNoisy neighbour, scenario (${SCENARIO.name}), boot ${boot} (${run.versions.kernel}, Xen ${run.versions.xen}, netback ${run.versions.netback}); uplink tbf ${UPLINK.rate}\n${aloneLine(run)}\n\n${armsTable(run)}\n`);
  }
  const nb = opts.netback ? ` --netback ${opts.netback}` : '';
  const command = `node --import tsx bench/noisy-neighbour.ts --arms ${arms.join(',')}${NAMES.flag} --secs ${SECS} --boots ${BOOTS}${nb} --label ${LABEL}${opts.demo ? ' --demo' : ''}`;
  const doc = {
    benchmark: 'noisy-neighbour', scenario: SCENARIO.name, label: LABEL, command, date: new Date().toISOString(),
    setup: {
      arms, sameBoot: true, uplink: UPLINK, timing: TIMING, udpSize: UDP_SIZE, guests: 3, vifqd: 'defaults: no flags, SLA dirs dom0-owned/guest read-only, empty',
      // (a)'s JSON keeps the shape it always had: one stream, one port
      ...(SCENARIO.name === 'a' ? {} : { tcpStreams: SCENARIO.tcpStreams, udpPorts: SCENARIO.udpPorts }),
    },
    boots: runs, failedBoots,
  };
  const out = join(REPO, 'demo-output');
  mkdirSync(out, { recursive: true });
  const json = join(out, `${NAMES.stem}.json`);
  writeFileSync(json, JSON.stringify(doc, null, 2) + '\n');
  const first = runs[0];
  const pngs = first ? await writeNnPlots(out, NAMES.stem, first, TIMING) : [];
  if (!opts.demo && runs.length > 0) {
    mkdirSync(join(REPO, 'bench', 'results'), { recursive: true });
    writeFileSync(join(REPO, 'bench', 'results', `${NAMES.stem}.json`), JSON.stringify(doc, null, 2) + '\n');
    writeArmsSection(command, doc.date, runs);
  }
  const bad = [...failedBoots.map((b) => `boot ${b.boot} failed: ${b.reason}`), ...problems(runs)];
  process.stdout.write(`\nResults: ${json}\nPlots (SVG beside each PNG):\n${pngs.map((p) => `  ${p}`).join('\n')}\n`);
  process.stdout.write('These figures come from QEMU/TCG on a shared machine: they show direction, not what a real host measures.\n');
  if (bad.length > 0) process.stdout.write(`\n${bad.join('\n')}\n`);
  return failedBoots.length > 0 || runs.some((r) => r.arms.some((x) => x.status === 'failed')) ? 1 : 0;
}

function writeArmsSection(command: string, date: string, runs: BootRun[]): void {
  const v = runs[0]?.versions ?? {};
  const title = SCENARIO.name === 'a' ? 'scenario (a): every arm in one boot' : `scenario (${SCENARIO.name}), many flows per neighbour: every arm in one boot`;
  const load = SCENARIO.name === 'a'
    ? `domu2 one TCP bulk stream, domu3 a ${UDP_SIZE}-byte UDP flood`
    : `domu2 ${SCENARIO.tcpStreams} TCP bulk streams, domu3 a ${UDP_SIZE}-byte UDP flood over ${SCENARIO.udpPorts.length} ports (${SCENARIO.udpPorts[0]}–${SCENARIO.udpPorts.at(-1)})`;
  replaceSection(join(REPO, 'docs', 'BENCHMARKS.md'), NAMES.section, `
## Noisy neighbour, ${title}

\`${command}\` (${date.slice(0, 10)}; raw: \`bench/results/${NAMES.stem}.json\`; plots: \`demo-output/\`)

Lab: Xen ${v.xen ?? '?'} in QEMU/TCG, dom0 kernel ${v.kernel ?? '?'}, netback ${v.netback ?? '?'}. Uplink tbf ${UPLINK.rate}; victim domu1
pings the sink ${PING_HZ}/s; ${load}; RTT over ${SECS} s after a ${WARM} s head start.
Delivered per guest: UDP and ICMP counted at the sink, TCP the rest of the uplink's output. Taken÷delivered: bytes the vifs took
from all guests over bytes that left the uplink (1 = no work lost in dom0).

${runs.map((r) => `Boot ${r.boot}: ${aloneLine(r)}\n\n${armsTable(r)}`).join('\n\n')}
`);
}

function pooled(results: BootResult[], phase: 'alone' | 'loaded'): string {
  const p99s = results.map((r) => r[phase].p99);
  return `${Math.min(...p99s)}–${Math.max(...p99s)}`;
}

async function main(): Promise<void> {
  if (ARMS) {
    process.exitCode = await runArms(ARMS);
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
