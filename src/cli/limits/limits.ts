/**
 * `vifq limits`: the kernel's own view (`vif-get` dump, spec attribute names unchanged, as the
 * kernel's ynl CLI prints them) and a one-off `vif-set`. Needs no vifqd.
 */
import { VifqError } from '../../errors.js';
import { LIMIT_MAX, parseBytes, parseInteger, parseKeyword, parseMilliseconds, type Parsed } from '../../sla/units.js';
import { TIMEOUT_MS_MAX, TIMEOUT_MS_MIN } from '../../sla/schema.js';
import type { VifqClient } from '../../vifq/client.js';
import type { VifSelector, VifSettings, VifqVif } from '../../vifq/types.js';
import { renderTable, type Column } from '../render/table.js';
import { bytesShort, durationShort } from '../render/units.js';

export interface LimitsResult {
  vifs: VifqVif[];
}

export class VifArgumentError extends VifqError {
  constructor(readonly arg: string) {
    super(`'${arg}' names no vif`, { hint: 'name it vif<domid>.<handle> (vif5.0) or by its ifindex (vifq limits lists them)', exitCode: 2 });
  }
}

export class LimitArgumentError extends VifqError {
  constructor(flag: string, text: string, problem: string, hint: string) {
    super(`--${flag} ${text}: ${problem}`, { hint: `${hint}; nothing was set`, exitCode: 2 });
  }
}

/** `vif5.0` -> domid 5 handle 0; `12` -> ifindex 12. */
export function parseVifSelector(arg: string): VifSelector {
  const m = /^vif(\d{1,5})\.(\d{1,10})$/.exec(arg);
  if (m) return { domid: Number(m[1]), handle: Number(m[2]) };
  if (/^[1-9]\d{0,9}$/.test(arg)) return { ifindex: Number(arg) };
  throw new VifArgumentError(arg);
}

function take<T>(flag: string, text: string | undefined, parse: (t: string) => Parsed<T>): T | undefined {
  if (text === undefined) return undefined;
  const r = parse(text);
  if (!r.ok) throw new LimitArgumentError(flag, text, r.problem.message, r.problem.hint);
  return r.value;
}

/** The flags of `limits set` -> the `vif-set` attributes (0 bytes/packets: no limit, the stock netback). */
export function parseLimitArgs(f: { bytes?: string | undefined; packets?: string | undefined; priority?: string | undefined; 'timeout-ms'?: string | undefined }): VifSettings {
  const out: VifSettings = {};
  const bytes = take('bytes', f.bytes, (t) => (t === '0' ? { ok: true, value: 0 } : parseBytes(t, 1, LIMIT_MAX)));
  const packets = take('packets', f.packets, (t) => parseInteger(t, 0, LIMIT_MAX));
  const priority = take('priority', f.priority, (t) => parseKeyword(t, ['high', 'low'] as const));
  const timeout = take('timeout-ms', f['timeout-ms'], (t) => parseMilliseconds(t, TIMEOUT_MS_MIN, TIMEOUT_MS_MAX));
  if (bytes !== undefined) out['limit-bytes'] = bytes;
  if (packets !== undefined) out['limit-packets'] = packets;
  if (priority !== undefined) out.priority = priority;
  if (timeout !== undefined) out['timeout-ms'] = timeout;
  if (Object.keys(out).length === 0) throw new LimitArgumentError('bytes', '(none)', 'no value given', 'give --bytes, --packets, --priority or --timeout-ms');
  return out;
}

export async function listLimits(client: Pick<VifqClient, 'listVifs'>): Promise<LimitsResult> {
  const vifs = await client.listVifs();
  return { vifs: [...vifs].sort((a, b) => (a.domid ?? 0) - (b.domid ?? 0) || (a.handle ?? 0) - (b.handle ?? 0)) };
}

const n = (v: number | undefined): number | null => v ?? null;

const COLUMNS: readonly Column<VifqVif>[] = [
  { header: 'VIF', cell: (v) => `vif${v.domid ?? '?'}.${v.handle ?? '?'}` },
  { header: 'IFINDEX', cell: (v) => String(v.ifindex ?? '-'), align: 'right', keep: 2 },
  { header: 'LIMIT', cell: (v) => (v['limit-bytes'] === 0 ? 'none' : bytesShort(n(v['limit-bytes']))), align: 'right' },
  { header: 'PKTS', cell: (v) => (v['limit-packets'] === 0 ? 'none' : String(v['limit-packets'] ?? '-')), align: 'right' },
  { header: 'PRIO', cell: (v) => String(v.priority ?? '-') },
  { header: 'TIMEOUT', cell: (v) => (v['timeout-ms'] === undefined ? '-' : `${v['timeout-ms']}ms`), align: 'right', keep: 1 },
  { header: 'GROUP', cell: (v) => String(v.group ?? '-'), align: 'right', keep: 3 },
  { header: 'PENDING', cell: (v) => bytesShort(n(v['pending-bytes'])), align: 'right' },
  { header: 'SENT', cell: (v) => bytesShort(n(v.bytes)), align: 'right' },
  { header: 'THROTTLED', cell: (v) => durationShort(n(v['throttled-ns'])), align: 'right' },
];

export function renderLimits(r: LimitsResult, width: number): string[] {
  if (r.vifs.length === 0) return ['the kernel reports no vif (no guest has a vif yet: xl list)'];
  return renderTable(r.vifs, COLUMNS, width);
}
