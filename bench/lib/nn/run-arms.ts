/**
 * The arms of one boot: the victim alone once, then each arm in turn (set up, the loaded phase,
 * torn down). An arm that fails is recorded with its reason and the others still run; an arm that
 * cannot run here (no sch_cake) is recorded as skipped. The lab is closed whatever happens
 * (Lab also kills QEMU when this process exits or is interrupted).
 */
import { Lab, type Guest } from '../../../test/lab/lab.js';
import { dumpVifs, type VifInfo } from '../../../test/lab/vifq.js';
import type { LatencySummary } from '../stats.js';
import { ARMS, ArmSkipped, setUpArm, tearDownArm, type ArmName, type Uplink } from './arms.js';
import { aloneProbe, noisyPhase, SINK, type PhaseResult, type Timing } from './phase.js';
import { scenarioSuffix, type Scenario } from './scenario.js';
import { limitsSet, metricsLineRates, stopVifqd, vifqdLog, vifqdStatus, type LineRate } from './vifqd.js';

export interface VifLimits { vif: string; domid: number; role: string; limitBytes: number; limitPackets: number }

export interface ArmResult {
  phase: PhaseResult;
  /** victim p99 (p99.9) loaded / alone, same boot */
  p99xAlone: number;
  p999xAlone: number;
  /** victim p99 and uplink output over the stock arm's of the same boot (null without a stock arm) */
  p99xStock: number | null;
  outputxStock: number | null;
  limitsBefore: VifLimits[];
  limitsAfter: VifLimits[];
  credit?: { bytes: number; usec: number };
  vifqd?: { startMs?: number; lineRates: LineRate[]; statusBefore: unknown; limitsSetDuringLoad: Record<string, number[]>; errorLines: string[] };
}

export interface ArmOutcome {
  arm: ArmName;
  what: string;
  status: 'ok' | 'skipped' | 'failed';
  reason?: string;
  result?: ArmResult;
}

export interface BootRun {
  boot: number;
  versions: Record<string, string>;
  alone: LatencySummary;
  aloneTimeline: { t: number; rtt: number }[];
  arms: ArmOutcome[];
}

export interface BootOptions {
  boot: number;
  label: string;
  netback: string;
  arms: ArmName[];
  uplink: Uplink;
  timing: Timing;
  /** what the neighbours send */
  scenario: Scenario;
  versions: (lab: Lab) => Promise<Record<string, string>>;
  progress: (line: string) => void;
}

const ratio = (a: number, b: number): number => (b > 0 ? Math.round((a / b) * 100) / 100 : Number.NaN);

function limitsOf(vifs: VifInfo[], roles: Map<number, string>): VifLimits[] {
  return vifs.map((v) => ({
    vif: `vif${v.domid}.${v.handle}`, domid: Number(v.domid), role: roles.get(Number(v.domid)) ?? '?',
    limitBytes: Number(v['limit-bytes']), limitPackets: Number(v['limit-packets']),
  })).sort((a, b) => a.domid - b.domid);
}

export async function runBootArms(o: BootOptions): Promise<BootRun> {
  const lab = await Lab.boot({ name: `nn-${o.label}${scenarioSuffix(o.scenario)}-${o.boot}`, guests: 3, netback: o.netback });
  let ok = false;
  try {
    await lab.dom0Ok(`/lab/uplink.sh qdisc tbf ${o.uplink.rate} ${o.uplink.limitMs}`);
    const versions = await o.versions(lab);
    const [victim, tcp, udp] = lab.guests as [Guest?, Guest?, Guest?];
    if (!victim || !tcp || !udp) throw new Error('noisy-neighbour needs three guests');
    const roles = new Map([[victim.domid, 'victim'], [tcp.domid, 'tcp neighbour'], [udp.domid, 'udp neighbour']]);
    await lab.guest(victim.n, `ping -c 3 -W 2 ${SINK}`); // ARP and caches warm
    const alone = await aloneProbe(lab, victim, o.timing);
    o.progress(`boot ${o.boot}: victim alone p50/p99/max ${alone.summary.p50}/${alone.summary.p99}/${alone.summary.max} ms`);
    const run: BootRun = {
      boot: o.boot, versions, alone: alone.summary, arms: [],
      aloneTimeline: alone.samples.map((s) => ({ t: Math.round((s.seq / o.timing.pingHz) * 100) / 100, rtt: s.rtt })),
    };
    let vifqdRunning = false;
    for (const arm of o.arms) {
      const what = ARMS[arm].what;
      o.progress(`boot ${o.boot}: arm ${arm} (${what}) ...`);
      try {
        await lab.dom0Ok('sleep 3'); // the previous arm's queues drain
        const state = await setUpArm(lab, arm, o.uplink, vifqdRunning);
        if (ARMS[arm].vifqd) vifqdRunning = true;
        const limitsBefore = limitsOf(await dumpVifs(lab), roles);
        if (!ARMS[arm].vifqd && limitsBefore.some((l) => l.limitBytes !== 0 || l.limitPackets !== 0)) {
          throw new Error(`a vif has netback limits set before an arm without vifqd: ${JSON.stringify(limitsBefore)}`);
        }
        const logBefore = ARMS[arm].vifqd ? (await vifqdLog(lab)).length : 0;
        const statusBefore = ARMS[arm].vifqd ? await vifqdStatus(lab) : undefined;
        const phase = await noisyPhase(lab, victim, tcp, udp, o.timing, o.scenario);
        const limitsAfter = limitsOf(await dumpVifs(lab), roles);
        let vifqd: ArmResult['vifqd'];
        if (ARMS[arm].vifqd) {
          const lines = await vifqdLog(lab);
          vifqd = {
            ...(state.vifqdStartMs !== undefined ? { startMs: state.vifqdStartMs } : {}),
            lineRates: await metricsLineRates(lab), statusBefore, limitsSetDuringLoad: limitsSet(lines.slice(logBefore)),
            errorLines: lines.filter((l) => l.level === 'error' || l.level === 50 || l.level === 60).map((l) => l.msg ?? JSON.stringify(l)),
          };
        }
        await tearDownArm(lab, arm);
        const stock = run.arms.find((a) => a.arm === 'stock')?.result;
        const result: ArmResult = {
          phase,
          p99xAlone: ratio(phase.loaded.p99, alone.summary.p99),
          p999xAlone: ratio(phase.loaded.p999, alone.summary.p999),
          p99xStock: arm === 'stock' ? 1 : stock ? ratio(phase.loaded.p99, stock.phase.loaded.p99) : null,
          outputxStock: arm === 'stock' ? 1 : stock ? ratio(phase.uplinkBytesPerSec, stock.phase.uplinkBytesPerSec) : null,
          limitsBefore, limitsAfter,
          ...(state.credit ? { credit: state.credit } : {}),
          ...(vifqd ? { vifqd } : {}),
        };
        run.arms.push({ arm, what, status: 'ok', result });
        const l = phase.loaded;
        o.progress(`boot ${o.boot}: arm ${arm}: victim p50/p99/p99.9/max ${l.p50}/${l.p99}/${l.p999}/${l.max} ms (x${result.p99xAlone} alone), `
          + `uplink ${phase.uplinkMbit} Mbit/s, shares ${phase.flows.map((f) => f.share).join('/')}, dom0 drops ${phase.dom0Drops}, taken/delivered ${phase.takenPerDelivered}`);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        const skipped = error instanceof ArmSkipped;
        run.arms.push({ arm, what, status: skipped ? 'skipped' : 'failed', reason });
        o.progress(`boot ${o.boot}: arm ${arm} ${skipped ? 'SKIPPED' : 'FAILED'}: ${reason}`);
        // leave the next arm a clean start: no rate node, the FIFO back
        await tearDownArm(lab, arm).catch(() => undefined);
      }
    }
    if (vifqdRunning) await stopVifqd(lab);
    ok = run.arms.every((a) => a.status !== 'failed');
    return run;
  } finally {
    await lab.close({ collect: !ok });
  }
}
