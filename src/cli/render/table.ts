/**
 * Plain-text tables that fit a terminal width: optional columns are dropped (lowest `keep`
 * first) and then shrinkable ones truncated with `…` until the table fits. Pure.
 */

export interface Column<R> {
  header: string;
  cell: (row: R) => string;
  align?: 'left' | 'right';
  /** Dropped when the table is too wide; a lower value is dropped first. Absent: always shown. */
  keep?: number;
  /** May be truncated down to this width (at least the header's) when the table is too wide. */
  shrinkTo?: number;
}

const GAP = 2;

function truncate(text: string, width: number): string {
  if (text.length <= width) return text;
  return width <= 1 ? text.slice(0, width) : `${text.slice(0, width - 1)}…`;
}

/** The table as lines, none longer than `width` unless even the narrowest form cannot fit. */
export function renderTable<R>(rows: readonly R[], columns: readonly Column<R>[], width: number): string[] {
  const cells = rows.map((r) => columns.map((c) => c.cell(r).replace(/\s+/g, ' ')));
  const natural = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]?.length ?? 0)));
  const shown = columns.map(() => true);
  const widths = [...natural];
  const total = (): number => widths.reduce((a, w, i) => a + (shown[i] ? w : 0), 0) + GAP * (shown.filter(Boolean).length - 1);

  const droppable = columns.map((c, i) => ({ i, keep: c.keep })).filter((x): x is { i: number; keep: number } => x.keep !== undefined)
    .sort((a, b) => a.keep - b.keep || b.i - a.i);
  for (const d of droppable) {
    if (total() <= width) break;
    shown[d.i] = false;
  }
  for (let i = columns.length - 1; i >= 0 && total() > width; i--) {
    const c = columns[i];
    if (!shown[i] || c?.shrinkTo === undefined) continue;
    const floor = Math.max(c.shrinkTo, c.header.length);
    widths[i] = Math.max(floor, (widths[i] ?? 0) - (total() - width));
  }

  const line = (texts: readonly string[]): string => columns
    .map((c, i) => ({ c, i }))
    .filter(({ i }) => shown[i])
    .map(({ c, i }) => {
      const w = widths[i] ?? 0;
      const t = truncate(texts[i] ?? '', w);
      return c.align === 'right' ? t.padStart(w) : t.padEnd(w);
    })
    .join(' '.repeat(GAP))
    .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)];
}
