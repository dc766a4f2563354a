/** `vifq status` as text: the uplinks, then one row per vif, then vifqd's findings. Pure. */
import { renderTable, type Column } from '../render/table.js';
import { bytesShort, durationShort, percent, rateShort } from '../render/units.js';
import type { StatusView, UplinkStatus, VifStatus } from './view.js';

const UPLINK_COLUMNS: readonly Column<UplinkStatus>[] = [
  { header: 'UPLINK', cell: (u) => u.ifname, shrinkTo: 8 },
  { header: 'RATE', cell: (u) => rateShort(u.rateBitsPerSec), align: 'right' },
  { header: 'RATE FROM', cell: (u) => u.rateDetail ?? u.rateSource, shrinkTo: 9 },
  { header: 'BUDGET', cell: (u) => bytesShort(u.budgetBytes), align: 'right' },
  { header: 'AS TIME', cell: (u) => durationShort(u.budgetNs), align: 'right', keep: 1 },
  { header: 'ACTIVE', cell: (u) => String(u.activeVifs), align: 'right' },
  { header: 'SENT', cell: (u) => rateShort(u.throughputBitsPerSec), align: 'right' },
  { header: 'UTIL', cell: (u) => percent(u.utilisation), align: 'right' },
];

/** The reasons of a limit, by code (the details are in --json and `vifq domain show`). */
function whyCodes(v: VifStatus): string {
  return v.why.map((w) => w.code).join(',') || '-';
}

/** The columns of the vif table; `keep` decides what an 80-column terminal loses first. */
export const VIF_COLUMNS: readonly Column<VifStatus>[] = [
  { header: 'DOMAIN', cell: (v) => v.name ?? '?', shrinkTo: 6 },
  { header: 'ID', cell: (v) => String(v.domid), align: 'right' },
  { header: 'VIF', cell: (v) => v.vif },
  { header: 'PRIO', cell: (v) => v.priority },
  { header: 'WT', cell: (v) => String(v.weight), align: 'right' },
  { header: 'LIMIT', cell: (v) => bytesShort(v.limitBytes), align: 'right' },
  { header: 'PKTS', cell: (v) => String(v.limitPackets), align: 'right', keep: 2 },
  { header: 'WHY', cell: whyCodes, shrinkTo: 6 },
  { header: 'PENDING', cell: (v) => bytesShort(v.pendingBytes), align: 'right' },
  { header: 'SENT', cell: (v) => rateShort(v.throughputBitsPerSec), align: 'right' },
  { header: 'THROTTLED', cell: (v) => percent(v.throttledFraction), align: 'right' },
  { header: 'P50', cell: (v) => durationShort(v.latencyP50Ns), align: 'right', keep: 4 },
  { header: 'P99', cell: (v) => durationShort(v.latencyP99Ns), align: 'right', keep: 3 },
];

/** 2026-11-29T12:00:42.333Z -> "2026-11-29 12:00:42Z" (or its time of day alone). */
function utc(iso: string, timeOnly = false): string {
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)/.exec(iso);
  if (!m) return iso;
  return timeOnly ? `${m[2]}Z` : `${m[1]} ${m[2]}Z`;
}

function headLines(s: StatusView): string[] {
  const up = `vifqd up since ${utc(s.startedAt)}`;
  if (s.reportAt === null) return [`${up}; no release report yet (traffic shows -)`];
  const head = `${up}; last report ${utc(s.reportAt, true)} (${s.intervalMs ?? '?'} ms interval)`;
  return s.reportStale ? [head, 'no report since: every vif idle'] : [head];
}

export function renderStatus(s: StatusView, width: number): string[] {
  const out = [...headLines(s), ''];
  if (s.uplinks.length === 0) out.push('no uplink: no vif reaches one (vifq doctor)');
  else out.push(...renderTable(s.uplinks, UPLINK_COLUMNS, width));
  out.push('');
  if (s.vifs.length === 0) out.push('no guest vif (xl list; a guest shows once its vif is online)');
  else out.push(...renderTable(s.vifs, VIF_COLUMNS, width));
  if (s.findings.length > 0) {
    out.push('', `${s.findings.length} finding(s):`);
    for (const f of s.findings) out.push(`  ${f.path}: ${f.message}${f.hint === null ? '' : ` (${f.hint})`}`);
  }
  return out;
}
