/**
 * Strict parsers (and their inverse formatters) for SLA values: integers, byte
 * sizes (`64k`), durations (`2ms`, `1s`), rates (`100mbit`), and keywords.
 * Each parser takes the raw node value and returns the value or a typed problem
 * saying what is wrong and what to write instead. No whitespace, signs, leading
 * zeros, fractions or exponents where they are not meant; every number is
 * checked against its range with BigInt first, so no value can overflow.
 */
import type { SlaValueProblem } from './findings.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: SlaValueProblem };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(code: SlaValueProblem['code'], message: string, hint: string): Parsed<T> => ({ ok: false, problem: { code, message, hint } });

/** Largest value the kernel accepts for a limit (`s32-max` in vifq.yaml; ERANGE above). */
export const LIMIT_MAX = 2 ** 31 - 1;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The node's bytes as text: not empty, valid UTF-8, no surrounding whitespace. */
export function decodeText(raw: Uint8Array): Parsed<string> {
  if (raw.length === 0) return fail('empty-value', 'the value is empty', 'write a value or remove the node');
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    return fail('not-utf8', `the value is not UTF-8 (${raw.length} bytes)`, 'write the value as plain ASCII text');
  }
  if (text.trim() !== text) return fail('bad-syntax', `${JSON.stringify(text)} has surrounding whitespace`, 'write it without spaces or newlines (`xenstore-write` adds none)');
  return ok(text);
}

function shown(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}...` : text);
}

interface Range {
  min: bigint;
  max: bigint;
}

/** Unsigned decimal digits times `scale`, checked against `range` without leaving BigInt. */
function scaled(digits: string, scale: bigint, range: Range, text: string, show: (n: number) => string): Parsed<number> {
  if (digits.length > 1 && digits.startsWith('0')) return fail('bad-syntax', `${shown(text)} has a leading zero`, 'write it without leading zeros');
  const most = show(Number(range.max));
  if (digits.length > 30) return fail('overflow', `${shown(text)} is far too large`, `write at most ${most}`);
  const v = BigInt(digits) * scale;
  if (v > range.max) return fail(v > BigInt(Number.MAX_SAFE_INTEGER) ? 'overflow' : 'out-of-range', `${shown(text)} is above the maximum ${most}`, `write at most ${most}`);
  if (v < range.min) return fail('out-of-range', `${shown(text)} is below the minimum ${show(Number(range.min))}`, `write at least ${show(Number(range.min))}`);
  return ok(Number(v));
}

/** A plain unsigned decimal integer in [min, max]. */
export function parseInteger(text: string, min: number, max: number): Parsed<number> {
  if (!/^[0-9]+$/.test(text)) return fail('bad-syntax', `${shown(text)} is not a whole number`, `write a number from ${min} to ${max}`);
  return scaled(text, 1n, { min: BigInt(min), max: BigInt(max) }, text, String);
}

const BYTE_UNITS: Record<string, bigint> = { '': 1n, b: 1n, k: 1024n, kib: 1024n, m: 1024n ** 2n, mib: 1024n ** 2n, g: 1024n ** 3n, gib: 1024n ** 3n };

/** Bytes: `3028`, `64k`, `1m`, `1g` (binary: k = 1024, as tc and ethtool mean it for sizes). */
export function parseBytes(text: string, min: number, max: number): Parsed<number> {
  const m = /^([0-9]+)([a-zA-Z]*)$/.exec(text);
  if (!m) return fail('bad-syntax', `${shown(text)} is not a byte size`, 'write whole bytes with an optional k, m or g suffix, e.g. 3028 or 64k');
  const scale = BYTE_UNITS[(m[2] ?? '').toLowerCase()];
  if (scale === undefined) return fail('bad-unit', `${shown(text)} has the unknown size unit ${shown(m[2] ?? '')}`, 'use no suffix (bytes) or k, m, g (1024-based)');
  return scaled(m[1] ?? '', scale, { min: BigInt(min), max: BigInt(max) }, text, (n) => `${n} bytes`);
}

/** Formats bytes with the largest exact binary suffix: 65536 -> `64k`, 3028 -> `3028`. */
export function formatBytes(bytes: number): string {
  for (const [suffix, scale] of [['g', 1024 ** 3], ['m', 1024 ** 2], ['k', 1024]] as const) {
    if (bytes >= scale && bytes % scale === 0) return `${bytes / scale}${suffix}`;
  }
  return String(bytes);
}

const TIME_UNITS_US: Record<string, bigint> = { us: 1n, ms: 1000n, s: 1_000_000n };

/**
 * A duration in microseconds: `500us`, `2ms`, `1s`. A bare number means
 * `bareUnit` (`ms` for `*-ms` nodes), or is refused when `bareUnit` is null.
 */
export function parseDurationUs(text: string, minUs: number, maxUs: number, bareUnit: 'us' | 'ms' | 's' | null): Parsed<number> {
  const m = /^([0-9]+)([a-z]*)$/.exec(text);
  if (!m) return fail('bad-syntax', `${shown(text)} is not a duration`, 'write a whole number with us, ms or s, e.g. 2ms or 1s');
  const unit = m[2] === '' ? bareUnit : (m[2] ?? null);
  if (unit === null) return fail('bad-unit', `${shown(text)} has no unit`, 'say the unit: us, ms or s, e.g. 5ms');
  const scale = TIME_UNITS_US[unit];
  if (scale === undefined) return fail('bad-unit', `${shown(text)} has the unknown time unit ${shown(unit)}`, 'use us, ms or s');
  return scaled(m[1] ?? '', scale, { min: BigInt(minUs), max: BigInt(maxUs) }, text, formatDurationUs);
}

/** A duration that must be whole milliseconds (bare numbers are ms). */
export function parseMilliseconds(text: string, minMs: number, maxMs: number): Parsed<number> {
  const r = parseDurationUs(text, minMs * 1000, maxMs * 1000, 'ms');
  if (!r.ok) return r;
  if (r.value % 1000 !== 0) return fail('bad-unit', `${shown(text)} is not a whole number of milliseconds`, `write whole milliseconds from ${minMs} to ${maxMs}`);
  return ok(r.value / 1000);
}

/** Formats microseconds with the largest exact unit: 2000 -> `2ms`. */
export function formatDurationUs(us: number): string {
  if (us >= 1_000_000 && us % 1_000_000 === 0) return `${us / 1_000_000}s`;
  if (us >= 1000 && us % 1000 === 0) return `${us / 1000}ms`;
  return `${us}us`;
}

const RATE_UNITS: Record<string, bigint> = { bit: 1n, kbit: 1000n, mbit: 1_000_000n, gbit: 1_000_000_000n, tbit: 1_000_000_000_000n };

/**
 * A line rate in bits/s, tc style and SI: `4mbit`, `100mbit`, `1gbit`, `2.5gbit`.
 * A bare number and tc's `bps` forms (bytes per second!) are refused as ambiguous.
 */
export function parseRateBitsPerSec(text: string, min: number, max: number): Parsed<number> {
  const m = /^([0-9]+)(?:\.([0-9]+))?([a-zA-Z]*)$/.exec(text);
  if (!m) return fail('bad-syntax', `${shown(text)} is not a rate`, 'write a number with kbit, mbit or gbit, e.g. 100mbit or 2.5gbit');
  const unit = (m[3] ?? '').toLowerCase();
  if (unit === '') return fail('bad-unit', `${shown(text)} has no unit`, 'say the unit, e.g. 4mbit or 10gbit');
  if (unit.endsWith('bps')) return fail('bad-unit', `${shown(text)} uses a bytes-per-second unit`, `write bits per second, e.g. ${m[1] ?? '1'}${unit.slice(0, -3)}bit if bits were meant`);
  const scale = RATE_UNITS[unit];
  if (scale === undefined) return fail('bad-unit', `${shown(text)} has the unknown rate unit ${shown(unit)}`, 'use bit, kbit, mbit, gbit or tbit (SI, 1000-based)');
  const frac = m[2] ?? '';
  if (frac.length > 12) return fail('bad-syntax', `${shown(text)} has too many decimals`, 'write at most 12 decimals');
  const fracScale = 10n ** BigInt(frac.length);
  const digits = `${m[1] ?? ''}${frac}`.replace(/^0+(?=[0-9])/, '');
  if ((m[1] ?? '').length > 1 && (m[1] ?? '').startsWith('0')) return fail('bad-syntax', `${shown(text)} has a leading zero`, 'write the rate without leading zeros');
  if (digits.length > 30) return fail('overflow', `${shown(text)} is far too large`, `the most is ${max} bit/s`);
  const scaledTimes = BigInt(digits) * scale;
  if (scaledTimes % fracScale !== 0n) return fail('bad-syntax', `${shown(text)} is not a whole number of bits per second`, 'use fewer decimals or a smaller unit');
  const bits = scaledTimes / fracScale;
  if (bits > BigInt(max)) return fail('out-of-range', `${shown(text)} is above ${formatRate(max)}`, `write at most ${formatRate(max)}`);
  if (bits < BigInt(min)) return fail('out-of-range', `${shown(text)} is below ${formatRate(min)}`, `write at least ${formatRate(min)}`);
  return ok(Number(bits));
}

/** Formats bits/s exactly, with the largest unit that needs no decimals: 4000000 -> `4mbit`. */
export function formatRate(bitsPerSec: number): string {
  for (const [unit, scale] of [['tbit', 1e12], ['gbit', 1e9], ['mbit', 1e6], ['kbit', 1e3]] as const) {
    if (bitsPerSec >= scale && bitsPerSec % scale === 0) return `${bitsPerSec / scale}${unit}`;
  }
  return `${bitsPerSec}bit`;
}

/** One of a fixed set of words (case-sensitive, as written by dom0 tools). */
export function parseKeyword<const K extends string>(text: string, words: readonly K[]): Parsed<K> {
  const found = words.find((w) => w === text);
  if (found !== undefined) return ok(found);
  return fail('bad-syntax', `${shown(text)} is not one of ${words.join(', ')}`, `write ${words.join(' or ')}`);
}
