/** `vifq top`: one frame of the live view from a status view, sorted by a chosen column. Pure. */
import { renderTable } from '../render/table.js';
import { percent, rateShort } from '../render/units.js';
import { VIF_COLUMNS } from '../status/render.js';
import type { StatusView, VifStatus } from '../status/view.js';

export const SORT_KEYS = ['pending', 'throughput', 'latency', 'throttled'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

/** The key that switches to each sort in the live view. */
export const SORT_BY_KEY: Readonly<Record<string, SortKey>> = { p: 'pending', t: 'throughput', l: 'latency', h: 'throttled' };

const VALUE: Record<SortKey, (v: VifStatus) => number> = {
  pending: (v) => v.pendingBytes ?? -1,
  throughput: (v) => v.throughputBitsPerSec ?? -1,
  latency: (v) => v.latencyP99Ns ?? -1,
  throttled: (v) => v.throttledFraction ?? -1,
};

/** Highest first; ties by domid and vif so rows do not jump between frames. */
export function sortVifs(vifs: readonly VifStatus[], key: SortKey): VifStatus[] {
  return [...vifs].sort((a, b) => VALUE[key](b) - VALUE[key](a) || a.domid - b.domid || a.handle - b.handle);
}

/** The frame's lines: a header, the uplinks in one line each, the vif table; at most `height` lines. */
export function renderFrame(view: StatusView, sort: SortKey, width: number, height: number, now: Date): string[] {
  const clock = now.toISOString().slice(11, 19);
  const head = `vifq top ${clock}Z  by ${sort}  p:pending t:tput l:latency h:throttled q:quit`;
  const uplinks = view.uplinks.map((u) => `${u.ifname}: ${rateShort(u.rateBitsPerSec)}bit/s (${u.rateDetail ?? u.rateSource}), sending ${rateShort(u.throughputBitsPerSec)}bit/s, ${percent(u.utilisation)} used, ${u.activeVifs} active`);
  const table = view.vifs.length === 0 ? ['no guest vif'] : renderTable(sortVifs(view.vifs, sort), VIF_COLUMNS, width);
  const lines = [head.slice(0, width), ...uplinks.map((l) => l.slice(0, width)), '', ...table];
  return lines.slice(0, Math.max(1, height));
}
