/**
 * The arms' results as a terminal table, as JSON, and as docs/BENCHMARKS.md's section.
 */
import type { BootRun } from './run-arms.js';

const x = (v: number | null | undefined): string => (v === null || v === undefined || Number.isNaN(v) ? '-' : `×${v}`);
const pct = (v: number): string => `${Math.round(v * 100)}%`;

/** One row per arm: victim RTT, ratios, shares, output, drops, work lost. */
export function armsTable(run: BootRun): string {
  const head = ['arm', 'victim p50/p99/p99.9/max (ms)', 'p99 ×alone', 'p99 ×stock', 'loss', 'delivered Mbit/s victim/tcp/udp (share)', 'uplink Mbit/s', 'out ×stock', 'dom0 drops', 'taken÷delivered', 'dom0 CPU s/MB'];
  const rows = run.arms.map((a) => {
    if (a.status !== 'ok' || !a.result) return [a.arm, `${a.status.toUpperCase()}: ${a.reason ?? ''}`];
    const r = a.result;
    const p = r.phase;
    const l = p.loaded;
    return [
      a.arm, `${l.p50} / ${l.p99} / ${l.p999} / ${l.max}`, x(r.p99xAlone), x(r.p99xStock), `${l.lossPct}%`,
      p.flows.map((f) => `${Math.round((f.deliveredBytesPerSec * 8) / 1e4) / 100} (${pct(f.share)})`).join(' / '),
      String(p.uplinkMbit), x(r.outputxStock), String(p.dom0Drops), String(p.takenPerDelivered), String(p.dom0CpuSecPerMB),
    ];
  });
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function aloneLine(run: BootRun): string {
  const a = run.alone;
  return `victim alone: p50/p99/p99.9/max ${a.p50} / ${a.p99} / ${a.p999} / ${a.max} ms, loss ${a.lossPct}%`;
}

/** Lines naming the arms that failed or were skipped, and why. */
export function problems(runs: BootRun[]): string[] {
  return runs.flatMap((r) => r.arms.filter((a) => a.status !== 'ok').map((a) => `boot ${r.boot}: arm ${a.arm} ${a.status}: ${a.reason ?? ''}`));
}
