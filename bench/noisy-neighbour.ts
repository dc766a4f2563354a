/**
 * The noisy-neighbour problem, measured in the Xen lab.
 *
 *   node --import tsx bench/noisy-neighbour.ts [--boots 3] [--secs 20] [--netback FILE.ko]
 *                                              [--limit-bytes N] [--label stock] [--demo]
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
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Lab, REPO } from '../test/lab/lab.js';
import { parsePingRtts, summarize, type LatencySummary } from './lib/stats.js';
import { replaceSection } from './lib/benchmarks-md.js';

const { values: opts } = parseArgs({
  options: {
    boots: { type: 'string', default: '3' },
    secs: { type: 'string', default: '20' },
    netback: { type: 'string' },
    'limit-bytes': { type: 'string' },
    label: { type: 'string', default: 'stock' },
    demo: { type: 'boolean', default: false },
  },
});
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
  const lab = await Lab.boot({ name: `nn-${opts.label}-${boot}`, guests: 3, ...(opts.netback ? { netback: opts.netback } : {}) });
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
    const before = await Promise.all([vifCounters(lab, tcp.domid), vifCounters(lab, udp.domid), uplinkSent(lab)]);
    const t0 = Date.now();
    const dur = SECS + WARM + 2;
    const loads = [
      lab.guest(2, `timeout ${dur} nc ${SINK} 6000 < /dev/zero; true`, { timeoutMs: (dur + 30) * 1000 }),
      lab.guest(3, `udpblast ${SINK} 6001 ${dur} ${UDP_SIZE}`, { timeoutMs: (dur + 30) * 1000 }),
    ];
    await new Promise((r) => setTimeout(r, WARM * 1000));
    const backlogSampler = sampleBacklog(lab, SECS * 1000);
    const loaded = await probe(lab);
    const backlogMaxPkts = await backlogSampler;
    await Promise.all(loads);
    const secs = (Date.now() - t0) / 1000;
    const after = await Promise.all([vifCounters(lab, tcp.domid), vifCounters(lab, udp.domid), uplinkSent(lab)]);
    const mbit = (b: number): number => Math.round((b * 8) / secs / 1e4) / 100;
    const neighbours: NeighbourLoad[] = [
      { guest: tcp.name, kind: 'tcp bulk', vifTxMbit: mbit(after[0].bytes - before[0].bytes), vifTxPps: Math.round((after[0].packets - before[0].packets) / secs) },
      { guest: udp.name, kind: `udp ${UDP_SIZE} B flood`, vifTxMbit: mbit(after[1].bytes - before[1].bytes), vifTxPps: Math.round((after[1].packets - before[1].packets) / secs) },
    ];
    const count = SECS * PING_HZ;
    const a = summarize(alone, count);
    const l = summarize(loaded, count);
    ok = true;
    return {
      versions,
      result: {
        boot, alone: a, loaded: l, p99Ratio: Math.round((l.p99 / a.p99) * 10) / 10, neighbours,
        uplink: { sentMbit: mbit(after[2].bytes - before[2].bytes), drops: after[2].drops - before[2].drops, backlogMaxPkts },
      },
    };
  } finally {
    await lab.close({ collect: !ok });
  }
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

function pooled(results: BootResult[], phase: 'alone' | 'loaded'): string {
  const p99s = results.map((r) => r[phase].p99);
  return `${Math.min(...p99s)}–${Math.max(...p99s)}`;
}

async function main(): Promise<void> {
  const results: BootResult[] = [];
  let versions: Record<string, string> = {};
  for (let boot = 1; boot <= BOOTS; boot++) {
    process.stderr.write(`[nn] boot ${boot}/${BOOTS} (${opts.label})\n`);
    const r = await runBoot(boot);
    versions = r.versions;
    results.push(r.result);
    process.stderr.write(`[nn] boot ${boot}: alone p50/p99 ${r.result.alone.p50}/${r.result.alone.p99} ms, loaded ${r.result.loaded.p50}/${r.result.loaded.p99} ms, x${r.result.p99Ratio}\n`);
  }
  const limit = opts['limit-bytes'] ? ` --limit-bytes ${opts['limit-bytes']}` : '';
  const command = `node --import tsx bench/noisy-neighbour.ts --boots ${BOOTS} --secs ${SECS}${opts.netback ? ` --netback ${opts.netback}` : ''}${limit} --label ${opts.label}`;
  const doc = {
    benchmark: 'noisy-neighbour', label: opts.label, command, date: new Date().toISOString(), versions,
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
    process.stdout.write(`\nNoisy neighbour, ${opts.label} (${versions.netback}; ${versions.kernel}, Xen ${versions.xen}), uplink ${QDISC.kind} ${QDISC.rate}${limit ? `, neighbours limited to ${opts['limit-bytes']} pending bytes` : ''}:\n\n${table}\n\n`);
    const dir = join(REPO, 'build', 'demo');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `noisy-neighbour-${opts.label}.json`), JSON.stringify(doc, null, 2));
    return;
  }
  const file = join(REPO, 'bench', 'results', `noisy-neighbour-${opts.label}.json`);
  mkdirSync(join(REPO, 'bench', 'results'), { recursive: true });
  writeFileSync(file, JSON.stringify(doc, null, 2) + '\n');
  replaceSection(join(REPO, 'docs', 'BENCHMARKS.md'), `noisy-neighbour-${opts.label}`, `
## Noisy neighbour, ${opts.label} netback

\`make bench\` → \`${command}\` (${doc.date.slice(0, 10)}; raw: \`bench/results/noisy-neighbour-${opts.label}.json\`)

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
