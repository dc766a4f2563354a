/**
 * `vifq doctor`'s checks of the service and of xenstore's vifq nodes: vifqd answers, every
 * uplink's line rate is known, no SLA node a guest can write, no netback `rate` beside vifq.
 * Each failing check names the command that fixes it.
 */
import { GUEST_BASE, parseGuestSla, type SlaFinding } from '../sla/index.js';
import { BACKEND_VIF_DIR, readTree, type ServiceXenstore } from '../service/sources.js';
import type { ControlClient } from '../service/control-socket.js';
import { VifqError } from '../errors.js';
import type { CheckResult } from './checks.js';

/** What the service checks read from vifqd's `status` answer. */
interface StatusLineRate {
  ifname: string;
  source: string;
  bitsPerSec: number;
}

function lineRatesOf(answer: unknown): StatusLineRate[] | null {
  const rates = (answer as { lineRates?: unknown } | null)?.lineRates;
  if (!Array.isArray(rates)) return null;
  return rates.flatMap((r: unknown) => {
    const o = r as { ifname?: unknown; source?: unknown; bitsPerSec?: unknown } | null;
    return typeof o?.ifname === 'string' && typeof o.source === 'string' && typeof o.bitsPerSec === 'number'
      ? [{ ifname: o.ifname, source: o.source, bitsPerSec: o.bitsPerSec }] : [];
  });
}

/** vifqd answers `status`; then the line rate of every uplink it found. */
export async function checkService(open: () => Promise<ControlClient>, socket: string): Promise<CheckResult[]> {
  let answer: unknown;
  try {
    const c = await open();
    try {
      answer = await c.request('status');
    } finally {
      await c.close();
    }
  } catch (e) {
    if (!(e instanceof VifqError)) throw e;
    return [{ check: 'vifqd', status: 'fail', detail: e.summary, hint: e.hint ?? 'systemctl start vifqd (or vifq daemon)' }];
  }
  const rates = lineRatesOf(answer);
  const vifs = (answer as { vifs?: unknown[] }).vifs?.length ?? 0;
  const out: CheckResult[] = [{ check: 'vifqd', status: 'ok', detail: `answers on ${socket}, ${vifs} vif(s)` }];
  if (rates === null) {
    out.push({ check: 'line rate', status: 'warn', detail: 'vifqd\'s status has no line rates', hint: 'vifq and vifqd must be the same version' });
    return out;
  }
  if (rates.length === 0) out.push({ check: 'line rate', status: 'warn', detail: 'no uplink found: no vif reaches a physical device', hint: 'bridge the vifs to the uplink (brctl show)' });
  for (const r of rates) {
    out.push(r.source === 'unknown-default'
      ? {
        check: `line rate ${r.ifname}`, status: 'fail', detail: `unknown: vifqd assumes ${r.bitsPerSec / 1e6} Mbit/s (no shaping qdisc, no link speed)`,
        hint: `xenstore-write /local/domain/0/vifq/uplink/${r.ifname}/rate 1gbit && xenstore-chmod /local/domain/0/vifq/uplink/${r.ifname}/rate n0 (the real rate)`,
      }
      : { check: `line rate ${r.ifname}`, status: 'ok', detail: `${r.bitsPerSec / 1e6} Mbit/s from ${r.source}` });
  }
  return out;
}

function chmodFix(domid: number): string {
  return `xenstore-chmod -r ${GUEST_BASE(domid)} n0 r${domid}`;
}

/** Every guest's SLA nodes: none a guest can write (error), values that parse (warning). */
export async function checkSlaNodes(xs: ServiceXenstore): Promise<CheckResult[]> {
  const domids = (await xs.directory('/local/domain')).filter((d) => /^[1-9]\d{0,4}$/.test(d)).map(Number);
  const out: CheckResult[] = [];
  let nodes = 0;
  for (const domid of domids) {
    const tree = await readTree(xs, GUEST_BASE(domid));
    if (tree.length === 0) continue;
    nodes += tree.length;
    const { findings } = parseGuestSla(domid, tree);
    const unsafe = findings.filter((f: SlaFinding) => f.code === 'untrusted-node' || f.code === 'guest-writable-directory');
    const invalid = findings.filter((f: SlaFinding) => !unsafe.includes(f));
    if (unsafe.length > 0) {
      out.push({
        check: `SLA domain ${domid}`, status: 'fail',
        detail: `${unsafe.length} node(s) the guest can write: ${unsafe.map((f) => f.path).join(', ')} (vifqd ignores them)`,
        hint: chmodFix(domid),
      });
    }
    for (const f of invalid) out.push({ check: `SLA domain ${domid}`, status: 'warn', detail: f.summary, ...(f.hint ? { hint: f.hint } : {}) });
  }
  if (out.length === 0) out.push({ check: 'SLA nodes', status: 'ok', detail: `${nodes} node(s) under ${domids.length} guest(s), all dom0-owned and guest read-only` });
  return out;
}

/** A vif whose backend also has netback's own credit scheduler (`rate`): two limiters fight. */
export async function checkNetbackRate(xs: ServiceXenstore): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const tryDir = async (p: string): Promise<string[]> => xs.directory(p).catch(() => []);
  for (const d of await tryDir(BACKEND_VIF_DIR)) {
    for (const h of await tryDir(`${BACKEND_VIF_DIR}/${d}`)) {
      const has = (await tryDir(`${BACKEND_VIF_DIR}/${d}/${h}`)).includes('rate');
      if (has) {
        out.push({
          check: `netback rate vif${d}.${h}`, status: 'warn',
          detail: `${BACKEND_VIF_DIR}/${d}/${h}/rate is set: netback's credit scheduler also limits this vif, under vifq`,
          hint: `remove rate= from the guest's vif line (xl.cfg) and re-attach the vif (xl network-detach/-attach ${d} ...)`,
        });
      }
    }
  }
  return out;
}
