/**
 * `vifq domain show`: a domain's effective SLA per vif, each value with where it came from, and
 * the resulting limits: vifqd's (its `domain.show`) when it runs, else what the SLA alone says.
 */
import { effectiveSla, SLA_FIELDS, SLA_KEYS, type SlaFinding, type SlaSource } from '../../sla/index.js';
import { listBackendVifs, readGuestSla, readHostSettings, type ServiceXenstore } from '../../service/sources.js';
import { ControlConnectError, ControlRequestError, type ControlClient } from '../../service/control-socket.js';
import { Shape, type Json } from '../json-shape.js';
import type { FindingStatus, LimitWhy } from '../status/view.js';

export interface SlaValueShown {
  /** the node name (`pending-bytes`) */
  name: string;
  /** as written in xenstore (`none`, `64k`, `300`) */
  value: string;
  source: SlaSource;
  /** the node it came from; null for a built-in default */
  path: string | null;
}

export interface VifLimits {
  /** vifqd: what vifqd decided; sla: vifqd not running (or not serving this vif), the SLA's caps alone */
  from: 'vifqd' | 'sla';
  /** null: no cap from the SLA (vifqd derives it from the uplink budget) */
  limitBytes: number | null;
  limitPackets: number | null;
  kernelLimitBytes: number | null;
  why: LimitWhy[];
}

export interface DomainVifShown {
  vif: string;
  handle: number;
  sla: SlaValueShown[];
  limits: VifLimits;
}

export interface DomainShowResult {
  domid: number;
  name: string | null;
  service: 'running' | 'not-running';
  vifs: DomainVifShown[];
  findings: FindingStatus[];
}

function finding(f: SlaFinding): FindingStatus {
  return { code: f.code, path: f.path, message: f.summary, hint: f.hint ?? null };
}

/** vifqd's `domain.show` vifs by handle; null when vifqd is not running or knows no vif of it. */
async function fromVifqd(control: () => Promise<ControlClient>, domid: number): Promise<{ running: boolean; byHandle: Map<number, VifLimits> }> {
  let client: ControlClient;
  try {
    client = await control();
  } catch (e) {
    if (e instanceof ControlConnectError && (e.code === 'ENOENT' || e.code === 'ECONNREFUSED')) return { running: false, byHandle: new Map() };
    throw e;
  }
  let answer: Json;
  try {
    answer = await client.request('domain.show', { domid });
  } catch (e) {
    if (e instanceof ControlRequestError && e.code === 'not-found') return { running: true, byHandle: new Map() };
    throw e;
  } finally {
    await client.close();
  }
  const byHandle = new Map<number, VifLimits>();
  for (const v of new Shape('domain.show', answer).get('vifs').array()) {
    const desired = v.get('desired');
    byHandle.set(v.get('handle').number(), {
      from: 'vifqd',
      limitBytes: desired.get('limitBytes').number(),
      limitPackets: desired.get('limitPackets').number(),
      kernelLimitBytes: v.get('kernel').optional()?.get('limitBytes').numberOrNull() ?? null,
      why: v.get('why').array().map((w) => ({ code: w.get('code').string(), detail: w.get('detail').string() })),
    });
  }
  return { running: true, byHandle };
}

export async function domainShow(xs: ServiceXenstore, control: () => Promise<ControlClient>, domid: number, name: string | null): Promise<DomainShowResult> {
  const [guest, host, backend] = await Promise.all([readGuestSla(xs, domid), readHostSettings(xs), listBackendVifs(xs)]);
  const handles = backend.get(domid) ?? [];
  const service = await fromVifqd(control, domid);
  const vifs = (handles.length > 0 ? handles : [0]).sort((a, b) => a - b).map((handle): DomainVifShown => {
    const eff = effectiveSla(host.settings, guest.sla, domid, handle);
    const sla = SLA_KEYS.map((k) => {
      const f = eff.fields[k];
      return { name: SLA_FIELDS[k].node, value: (SLA_FIELDS[k].format as (v: unknown) => string)(f.value), source: f.source, path: f.path };
    });
    const mine = service.byHandle.get(handle);
    const why = service.running
      ? `vifqd serves no vif${domid}.${handle}${handles.length === 0 ? ' (the domain has no vif in dom0\'s backend)' : ''}: the SLA's caps alone`
      : 'vifqd is not running: the SLA\'s caps alone (vifqd derives the limit from the uplink budget within them)';
    return {
      vif: `vif${domid}.${handle}`, handle, sla,
      limits: mine ?? { from: 'sla', limitBytes: eff.fields.pendingBytes.value, limitPackets: eff.fields.pendingPackets.value, kernelLimitBytes: null, why: [{ code: 'sla-only', detail: why }] },
    };
  });
  return { domid, name, service: service.running ? 'running' : 'not-running', vifs, findings: [...guest.findings, ...host.findings.filter((f) => f.path.startsWith('/local/domain/0/vifq/default'))].map(finding) };
}

const SOURCE_TEXT: Record<SlaSource, string> = { default: 'built-in default', host: 'host default', guest: 'guest node', vif: 'per-vif override' };

export function renderDomainShow(r: DomainShowResult): string[] {
  const out = [`domain ${r.name ?? '?'} (${r.domid}), vifqd ${r.service === 'running' ? 'running' : 'not running'}`];
  for (const v of r.vifs) {
    out.push('', v.vif);
    const w = Math.max(...v.sla.map((s) => s.name.length), 'limit'.length);
    const vw = Math.max(...v.sla.map((s) => s.value.length));
    for (const s of v.sla) out.push(`  ${s.name.padEnd(w)}  ${s.value.padEnd(vw)}  ${SOURCE_TEXT[s.source]}${s.path === null ? '' : ` ${s.path}`}`);
    const l = v.limits;
    const bytes = l.limitBytes === null ? 'no byte cap' : `${l.limitBytes} bytes`;
    const pkts = l.limitPackets === null ? 'no packet cap' : `${l.limitPackets} packets`;
    out.push(`  ${'limit'.padEnd(w)}  ${bytes}, ${pkts} (from ${l.from === 'vifqd' ? 'vifqd' : 'the SLA alone'})`);
    for (const y of l.why) out.push(`  ${''.padEnd(w)}  ${y.code}: ${y.detail}`);
  }
  if (r.findings.length > 0) {
    out.push('', `${r.findings.length} finding(s):`);
    for (const f of r.findings) out.push(`  ${f.path}: ${f.message}${f.hint === null ? '' : ` (${f.hint})`}`);
  }
  return out;
}
