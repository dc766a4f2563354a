/** Short human forms of the figures the CLI shows (3 significant digits at most). Pure. */

const DASH = '-';

/** At most 3 significant digits, no trailing zeros: 3.9, 12.5, 250. */
function sig(v: number): string {
  if (v >= 100) return String(Math.round(v));
  const t = v.toFixed(v >= 10 ? 1 : 2);
  return t.includes('.') ? t.replace(/\.?0+$/, '') : t;
}

function short(n: number, scales: readonly (readonly [string, number])[]): string {
  for (const [suffix, scale] of scales) if (n >= scale) return `${sig(n / scale)}${suffix}`;
  return String(Math.round(n));
}

/** 1536 -> "1.5K", 4194304 -> "4M" (binary multiples, as the SLA's byte values). */
export function bytesShort(n: number | null): string {
  return n === null ? DASH : short(n, [['G', 1024 ** 3], ['M', 1024 ** 2], ['K', 1024]]);
}

/** bits/s -> "3.9M", "120k" (SI, as tc writes rates). */
export function rateShort(bitsPerSec: number | null): string {
  return bitsPerSec === null ? DASH : short(bitsPerSec, [['G', 1e9], ['M', 1e6], ['k', 1e3]]);
}

/** ns -> "850us", "12ms", "1.2s". */
export function durationShort(ns: number | null): string {
  if (ns === null) return DASH;
  if (ns >= 1e9) return `${sig(ns / 1e9)}s`;
  if (ns >= 1e6) return `${sig(ns / 1e6)}ms`;
  if (ns >= 1e3) return `${sig(ns / 1e3)}us`;
  return `${Math.round(ns)}ns`;
}

/** 0.123 -> "12%"; null -> "-". */
export function percent(f: number | null): string {
  return f === null ? DASH : `${Math.round(f * 100)}%`;
}
