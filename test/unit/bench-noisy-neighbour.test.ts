// The noisy-neighbour bench's host-side parts: dom0 counter parsing, ping parsing, the arm list,
// netback's fair-share credit and the plots rendered from a run's results (vega-lite -> SVG -> PNG).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ArmListError, fairShareCredit, parseArms } from '../../bench/lib/nn/arms.js';
import { CounterParseError, diffCounters, parseCounters, totalDrops } from '../../bench/lib/nn/counters.js';
import { stampMs, type PhaseResult } from '../../bench/lib/nn/phase.js';
import { armsTable, problems } from '../../bench/lib/nn/report.js';
import type { BootRun } from '../../bench/lib/nn/run-arms.js';
import { rttCdfSpec, writeNnPlots } from '../../bench/lib/plot/nn-plots.js';
import { toSvg } from '../../bench/lib/plot/render.js';
import { parsePingSamples, summarize } from '../../bench/lib/stats.js';

const dom0Text = (vifBytes: number, upBytes: number, udp: number, cpu: number): string => [
  `vif\tvif1.0\t1000\t10`, `vif\tvif2.0\t${vifBytes}\t100`, `vif\tvif3.0\t5000\t50`,
  `drops\tuplink0\t[{"kind":"tbf","root":true,"drops":3},{"kind":"fq_codel","parent":"1:1","drops":4}]\t0\t0`,
  `drops\tvif2.0\t[{"kind":"noqueue","root":true}]\t2\t1`,
  `uplink\t[{"kind":"tbf","handle":"1:","root":true,"bytes":${upBytes},"packets":9,"drops":3},{"kind":"fq_codel","parent":"1:1","bytes":${upBytes},"drops":4}]`,
  'snmp\tIcmp: InMsgs InErrors InEchos', 'snmp\tIcmp: 5 0 5',
  'snmp\tUdp: InDatagrams NoPorts InErrors', `snmp\tUdp: 0 ${udp} 0`,
  `cpu\tcpu  ${cpu} 0 100 5000 7 1 2 0 0 0`, 'hz\t100',
].join('\n');

t.test('dom0 counters: parsed, differenced, drops summed over qdiscs and devices', async (t) => {
  const a = parseCounters(dom0Text(2000, 10_000, 10, 400));
  const b = parseCounters(dom0Text(9000, 30_000, 25, 700));
  t.same(a.vifs[2], { bytes: 2000, packets: 100 });
  t.equal(a.uplink.drops, 7, 'fq_codel under tbf drops in the child: counted');
  t.equal(a.sinkSnmp['Udp.NoPorts'], 10);
  t.equal(a.cpuBusyTicks, 400 + 100 + 1 + 2);
  t.equal(totalDrops(a.drops), 7 + 3);
  const d = diffCounters(a, b);
  t.equal(d.vifs[2]?.bytes, 7000);
  t.equal(d.uplink.bytes, 20_000);
  t.equal(d.sinkSnmp['Udp.NoPorts'], 15);
  t.equal(d.cpuBusyTicks, 300);
  t.throws(() => parseCounters('vif\tvif1.0\t1\t1'), CounterParseError, 'no uplink line: an error naming it');
});

t.test('ping replies: busybox and iputils formats, sequence kept', async (t) => {
  const s = parsePingSamples('64 bytes from 198.18.0.100: seq=0 ttl=64 time=0.512 ms\n64 bytes from 198.18.0.100: icmp_seq=7 ttl=64 time=12 ms\n');
  t.same(s, [{ seq: 0, rtt: 0.512 }, { seq: 7, rtt: 12 }]);
  t.equal(stampMs('x\nNNSTART 2026-11-29 12:27:09.089723870 +0000\n', 'NNSTART'), Date.UTC(2026, 10, 29, 12, 27, 9) + 89.72387);
  t.equal(stampMs('NNSTOP 2026-11-29 13:27:09.5 +0100', 'NNSTOP'), Date.UTC(2026, 10, 29, 12, 27, 9) + 500);
  t.equal(stampMs('NNSTART %N', 'NNSTART'), undefined, 'no stamp: undefined (the host clock is used)');
  t.equal(summarize(Array.from({ length: 1000 }, (_, i) => i + 1), 1000).p999, 999);
});

t.test('arm list: known names, vifqd arms last', async (t) => {
  t.same(parseArms('stock, cake,vifq,vifq+fq_codel'), ['stock', 'cake', 'vifq', 'vifq+fq_codel']);
  t.throws(() => parseArms('stock,bogus'), ArmListError);
  t.throws(() => parseArms('vifq,stock'), ArmListError, 'vifqd keeps running: its arms come last');
  t.throws(() => parseArms('stock,stock'), ArmListError);
  t.same(fairShareCredit({ rate: '4mbit', bitsPerSec: 4_000_000, limitMs: 200 }, 3), { bytes: 8333, usec: 50_000 });
});

function phase(p99: number, shares: [number, number, number]): PhaseResult {
  const timeline = Array.from({ length: 200 }, (_, i) => ({ t: i / 10, rtt: i >= 30 && i < 170 ? p99 * (0.5 + ((i * 7) % 10) / 20) : 0.8 }));
  const up = 500_000;
  return {
    loaded: summarize(timeline.slice(70, 150).map((s) => s.rtt), 80), timeline, neighboursStart: 3, neighboursStop: 17, clock: 'guest', secs: 14,
    flows: (['victim', 'tcp neighbour', 'udp neighbour'] as const).map((role, i) => ({ guest: `domu${i + 1}`, domid: i + 1, role, takenBytesPerSec: up, deliveredBytesPerSec: up * shares[i]!, share: shares[i]! })),
    uplinkBytesPerSec: up, uplinkMbit: 4, dom0Drops: 0, dropsByDevice: {}, takenPerDelivered: 1.1, dom0CpuSecPerMB: 0.5,
  };
}

const run: BootRun = {
  boot: 1, versions: {}, alone: summarize([0.7, 0.8, 0.9], 3), aloneTimeline: [{ t: 0, rtt: 0.7 }, { t: 0.1, rtt: 0.8 }, { t: 0.2, rtt: 0.9 }],
  arms: [
    { arm: 'stock', what: 'fifo', status: 'ok', result: { phase: phase(300, [0.01, 0.19, 0.8]), p99xAlone: 300, p999xAlone: 300, p99xStock: 1, outputxStock: 1, limitsBefore: [], limitsAfter: [] } },
    { arm: 'cake', what: 'cake', status: 'skipped', reason: 'no sch_cake module' },
    { arm: 'vifq', what: 'vifqd', status: 'ok', result: { phase: phase(4, [0.01, 0.5, 0.49]), p99xAlone: 4, p999xAlone: 4, p99xStock: 0.01, outputxStock: 0.99, limitsBefore: [], limitsAfter: [] } },
  ],
};

t.test('report: failed and skipped arms named with their reason', async (t) => {
  t.match(armsTable(run), /\| cake \| SKIPPED: no sch_cake module \|/);
  t.same(problems([run]), ['boot 1: arm cake skipped: no sch_cake module']);
});

t.test('plots: CDF over the steady window only; three SVG + PNG files drawn by vega', async (t) => {
  const spec = rttCdfSpec(run, { warmSecs: 4, secs: 8 }) as { data: { values: { arm: string; rtt: number }[] } };
  const stock = spec.data.values.filter((v) => v.arm === 'stock');
  t.equal(stock.length, 80, 'steady window: t in [3+4, 3+4+8)');
  t.ok(stock.every((v) => v.rtt > 1), 'no idle-time sample in the window');
  const svg = await toSvg(rttCdfSpec(run, { warmSecs: 4, secs: 8 }));
  t.match(svg, /<svg/);
  t.match(svg, />vifq</, 'the legend names the arms');
  const dir = mkdtempSync(join(tmpdir(), 'nn-plots-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pngs = await writeNnPlots(dir, 'nn', run, { warmSecs: 4, secs: 8 });
  t.equal(pngs.length, 3);
  for (const p of pngs) {
    const b = readFileSync(p);
    t.same([...b.subarray(1, 4)].map((c) => String.fromCharCode(c)).join(''), 'PNG', `${p} is a PNG`);
    t.ok(b.length > 10_000, `${p} has content (${b.length} bytes)`);
    t.match(readFileSync(p.replace(/\.png$/, '.svg'), 'utf8'), /<svg/);
  }
});
