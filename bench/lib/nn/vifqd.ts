/**
 * vifqd in the lab's dom0 for the noisy-neighbour arms: started on its defaults (no flags; each
 * guest's SLA directory created empty, dom0-owned and guest read-only), its log, its control
 * socket's `status` and the line rates its metrics endpoint shows.
 */
import type { Lab } from '../../../test/lab/lab.js';

export const VIFQD_LOG = '/tmp/vifqd-nn.log';

export interface VifqdLogLine { level?: number | string; time?: string | number; event?: string; domid?: number; handle?: number; limitBytes?: number; why?: string[]; msg?: string }

export interface LineRate { uplink: string; bitsPerSecond: number; source: string }

/** vifqd did not come up, or did not set every vif in time. */
export class VifqdStartError extends Error {
  constructor(detail: string) {
    super(`vifqd did not set every vif after starting on its defaults: ${detail.slice(-1500)}`);
    this.name = 'VifqdStartError';
  }
}

/** Starts vifqd and resolves, with the time it took, once it has set every guest's vif. */
export async function startVifqd(lab: Lab): Promise<number> {
  const sla = (d: number): string => `/local/domain/${d}/vifq`;
  // the lab's dom0 leaves lo down (an operator's dom0 has it up): vifqd's metrics listen on 127.0.0.1
  await lab.dom0Ok('ip link set lo up');
  await lab.dom0Ok(lab.guests.map((g) => `xenstore-write ${sla(g.domid)} '' && xenstore-chmod ${sla(g.domid)} n0 r${g.domid}`).join(' && '));
  const t0 = Date.now();
  const r = await lab.dom0(`rm -f ${VIFQD_LOG} /tmp/vifqd-nn.rc /tmp/vifqd-nn.pid
setsid sh -c 'node /vifq/dist/service/main.js >${VIFQD_LOG} 2>&1 & echo $! >/tmp/vifqd-nn.pid; wait $!; echo $? >/tmp/vifqd-nn.rc' </dev/null >/dev/null 2>&1 &
for i in $(seq 1200); do [ "$(grep -c '"event":"vif-set"' ${VIFQD_LOG} 2>/dev/null)" -ge ${lab.guests.length} ] && exit 0; [ -e /tmp/vifqd-nn.rc ] && break; sleep 0.2; done
echo "exit status: $(cat /tmp/vifqd-nn.rc 2>/dev/null || echo 'still running')"; cat ${VIFQD_LOG}; exit 1`, { timeoutMs: 300_000 });
  if (r.code !== 0) throw new VifqdStartError(r.stdout + r.stderr);
  return Date.now() - t0;
}

/** Stops the vifqd this module started (its pid file), if it runs. */
export async function stopVifqd(lab: Lab): Promise<void> {
  await lab.dom0('[ -s /tmp/vifqd-nn.pid ] && kill "$(cat /tmp/vifqd-nn.pid)" 2>/dev/null; true');
}

export async function vifqdLog(lab: Lab): Promise<VifqdLogLine[]> {
  const r = await lab.dom0(`cat ${VIFQD_LOG}`);
  return r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as VifqdLogLine);
}

/** vifqd's control socket `status`: lineRates and uplinks (budget), only the parts the bench reports. */
export async function vifqdStatus(lab: Lab): Promise<unknown> {
  const client = `node -e 'setTimeout(() => process.exit(1), 20000);
const s = require("net").connect("/run/vifq/control.sock", () => s.write(JSON.stringify({ id: 1, method: "status" }) + "\\n"));
let b = ""; s.on("data", (d) => { b += d; if (b.includes("\\n")) { const r = JSON.parse(b.split("\\n")[0]).result ?? {}; console.log(JSON.stringify({ lineRates: r.lineRates, uplinks: r.uplinks })); process.exit(0); } });'`;
  const r = await lab.dom0(client, { timeoutMs: 60_000 });
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as unknown;
  } catch {
    return { error: `no answer (exit ${r.code}): ${r.stderr.trim().slice(-300)}` };
  }
}

/** The line rates on vifqd's metrics endpoint (empty when it could not listen). */
export async function metricsLineRates(lab: Lab): Promise<LineRate[]> {
  const m = await lab.dom0(`wget -qO- http://127.0.0.1:9851/metrics | grep '^vifq_uplink_line_rate_bits_per_second'`);
  return [...m.stdout.matchAll(/^vifq_uplink_line_rate_bits_per_second\{([^}]*)\} (\S+)$/gm)].map((x) => {
    const labels = Object.fromEntries([...(x[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    return { uplink: labels.uplink ?? '?', source: labels.source ?? '?', bitsPerSecond: Number(x[2]) };
  });
}

/** limit-bytes values vifqd set per vif in these log lines (distinct consecutive values, in order). */
export function limitsSet(lines: VifqdLogLine[]): Record<string, number[]> {
  const r: Record<string, number[]> = {};
  for (const l of lines.filter((x) => x.event === 'vif-set')) {
    const list = (r[`vif${l.domid ?? '?'}.${l.handle ?? '?'}`] ??= []);
    if (l.limitBytes !== undefined && list[list.length - 1] !== l.limitBytes) list.push(l.limitBytes);
  }
  return r;
}
