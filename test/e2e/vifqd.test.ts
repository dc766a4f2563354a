/**
 * vifqd in dom0 on the patched netback (one lab boot, two guests, uplink tbf 4 Mbit/s):
 * it programs the running guests' limits by itself, follows a dom0 SLA write into the kernel
 * (write -> kernel latency over VIFQD_SLA_WRITES writes, default 100), ignores nodes a guest
 * could have written (one log line each, limits unchanged), and on SIGTERM exits 0 leaving the
 * kernel as the host setting `on-stop` says (reset here; keep is the default and is covered by
 * the unit tests). Its metrics endpoint shows both guests' limits and the uplink's line rate,
 * and a hotplug-style nudge on the control socket is answered {ok: true}.
 * Weights (issue 12): with SLA weights 1:3 written by dom0 (guest read-only), two guests
 * bulk-sending TCP get uplink shares within 10% of 25%/75%, and when the heavy one stops the
 * light one has the whole uplink within one second.
 * Direction (issue 14): a short scenario (a) of the noisy-neighbour bench (the victim pings the
 * sink 10/s, domu2 sends TCP bulk and a 1400-byte UDP flood), first stock (vifqd stopped with
 * on-stop reset: every vif's limits 0), then vifqd on its defaults, in this boot: vifq's victim
 * p99 below stock's, uplink output >= 0.9x stock's. vifqd is restarted for the second phase (a
 * fresh log; the cases below use that process).
 * Faults while it runs, each followed by "the kernel holds what vifqd wants, and vifqd is up":
 * VIFQD_CHURN_CYCLES (default 20; `make soak` 500) `xl network-attach`/`network-detach` of an
 * extra vif, the module unloaded and reloaded (the guests go first: each vif holds a module
 * reference), then xenstored killed and restarted (last before SIGTERM: a restarted xenstored is
 * empty, so the desired state is every vif on defaults, and `xl` no longer knows the guests).
 * Uses the compiled service (/vifq/dist: run `make build` first).
 */
import t, { type Test } from 'tap';
import { Lab, type Guest } from '../lab/lab.js';
import { buildVifqModule, dumpVifs, percentile, type VifInfo } from '../lab/vifq.js';
import { unloadNetback, weightedBulk } from '../lab/scenarios.js';
import { bytesBetween, heavyStop, reachTime } from '../lab/vif-samples.js';
import { noisyPhase, type PhaseResult, type Timing } from '../../bench/lib/nn/phase.js';

const LOG = '/tmp/vifqd.log';
const XS_DRIVER = 'node /vifq/test/e2e/drivers/vifqd-xs.mjs';
/** SLA writes whose write -> kernel latency is measured. */
const WRITES = Number(process.env.VIFQD_SLA_WRITES ?? 100);
/** attach/detach cycles of the churn case (`make soak`: 500). */
const CYCLES = Number(process.env.VIFQD_CHURN_CYCLES ?? 20);
/** The churn case starts a fresh domu2 this often: netfront loses ~1.1 MB per cycle (netback-teardown.test.ts). */
const RECREATE_EVERY = 25;
/** The churned vif's MAC (domu1/domu2 have :02/:03). */
const CHURN_MAC = '00:16:3e:00:00:0a';

const module = buildVifqModule('vifqd');
const lab = await Lab.boot({ name: 'vifqd', guests: 2, netback: module, runTimeoutSec: 3600 + CYCLES * 30 });
t.teardown(async () => {
  if (!t.passing()) {
    const r = await lab.dom0(`tail -n 60 ${LOG}`).catch(() => undefined);
    if (r) t.comment(`vifqd log (last lines):\n${r.stdout}`);
  }
  await lab.close({ collect: !t.passing() });
});

interface LogLine { level: string; time: string; msg: string; limitBytes?: number; event?: string; code?: string; path?: string; domid?: number; onStop?: string; uplink?: string | null }

async function logLines(): Promise<LogLine[]> {
  const r = await lab.dom0(`cat ${LOG}`);
  return r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);
}

// the module reload case re-creates both guests (new domids): read them through the lab
const G = (n: 1 | 2): Guest => lab.guestInfo(n);
const sla = (domid: number): string => `/local/domain/${domid}/vifq`;
let uplinkIfindex = 0;

/** What vifqd says it wants for a vif (its control socket's `status`, `vifs[]`). */
interface StatusVif {
  ifindex: number;
  domid: number;
  handle: number;
  uplink: string | null;
  desired: { limitBytes: number; limitPackets: number; priority: string; group: number; timeoutMs: number };
}
interface DaemonState { kernel: VifInfo[]; status: { vifs: StatusVif[]; counters: Record<string, unknown> } }

/** The kernel's vifs (vif-get dump) and vifqd's desired settings, read in one dom0 process. */
async function daemonState(): Promise<DaemonState> {
  const r = await lab.dom0(`${XS_DRIVER} state`, { timeoutMs: 120_000 });
  const out = JSON.parse(r.stdout.trim().split('\n').pop() || '{}') as Partial<DaemonState> & { error?: unknown };
  if (out.error !== undefined || !out.kernel || !out.status) throw new Error(`vifqd-xs.mjs state failed: ${JSON.stringify(out.error ?? null)} ${r.stderr.trim().slice(-300)}`);
  return { kernel: out.kernel, status: out.status };
}

/** Where the kernel differs from what vifqd wants, one line each ([] when it holds exactly that). */
function mismatches(s: DaemonState): string[] {
  const out: string[] = [];
  const want = new Map(s.status.vifs.map((v) => [v.ifindex, v]));
  for (const k of s.kernel) {
    const d = want.get(k.ifindex);
    if (!d) {
      out.push(`${k.ifname} (ifindex ${k.ifindex}) is in the kernel, vifqd wants nothing for it`);
      continue;
    }
    want.delete(k.ifindex);
    const got = [k.domid, k.handle, k['limit-bytes'], k['limit-packets'], k.priority, k.group, k['timeout-ms']];
    const exp = [d.domid, d.handle, d.desired.limitBytes, d.desired.limitPackets, d.desired.priority, d.desired.group, d.desired.timeoutMs];
    if (JSON.stringify(got) !== JSON.stringify(exp)) out.push(`${k.ifname}: kernel ${JSON.stringify(got)}, vifqd wants ${JSON.stringify(exp)}`);
  }
  for (const d of want.values()) out.push(`vifqd wants vif${d.domid}.${d.handle} (ifindex ${d.ifindex}), the kernel has no such vif`);
  return out;
}

/**
 * Reads both sides until they agree (vifqd may still be running the pass of the last event),
 * at most `tries` times 2 s apart; returns the last reading and its differences.
 */
async function converged(tries = 3): Promise<{ state: DaemonState; diff: string[]; reads: number }> {
  let state = await daemonState();
  let diff = mismatches(state);
  let reads = 1;
  while (diff.length > 0 && reads < tries) {
    await lab.dom0('sleep 2');
    state = await daemonState();
    diff = mismatches(state);
    reads++;
  }
  return { state, diff, reads };
}

/** vifqd's pid if it is still running (it has not exited: no rc file), else undefined. */
async function alivePid(): Promise<number | undefined> {
  const r = await lab.dom0('p=$(cat /tmp/vifqd.pid) && [ ! -e /tmp/vifqd.rc ] && kill -0 "$p" && echo "$p"');
  return r.code === 0 ? Number(r.stdout.trim()) : undefined;
}

/** vifqd's resident set in kB (VmRSS). */
async function rssKb(): Promise<number> {
  return Number((await lab.dom0Ok(`awk '/^VmRSS:/{print $2}' /proc/$(cat /tmp/vifqd.pid)/status`)).trim());
}

/** Shell: wait up to `sec` s for vifqd's vif-set line of vif<domid>.<handle> with limit `bytes` (any if omitted). */
function waitVifSet(domid: string, handle: string, sec: number, bytes?: number): string {
  const pat = `"event":"vif-set",[^}]*"domid":${domid},"handle":${handle},${bytes === undefined ? '' : `[^}]*"limitBytes":${bytes},`}`;
  return `for k in $(seq ${sec * 10}); do grep -qE '${pat}' ${LOG} && break; sleep 0.1; done; grep -qE '${pat}' ${LOG}`;
}

/** Both guests' vifs as vifqd's defaults leave them at 4 Mbit/s: the floor, high priority, group uplink0. */
function onDefaults(t: Test, s: DaemonState): void {
  for (const n of [1, 2] as const) {
    const g = G(n);
    const v = s.kernel.find((x) => x.domid === g.domid && x.handle === 0);
    t.same([v?.['limit-bytes'], v?.priority, v?.group], [3028, 'high', uplinkIfindex], `vif${g.domid}.0 on defaults: limit 3028 B, high, group uplink0`);
  }
}

/** Starts vifqd on its defaults (a fresh log) and waits until it has set both guests' vifs. */
async function startVifqd(): Promise<void> {
  await lab.dom0Ok(`rm -f ${LOG} /tmp/vifqd.rc /tmp/vifqd.pid
setsid sh -c 'node /vifq/dist/service/main.js --log-level debug >${LOG} 2>&1 & echo $! >/tmp/vifqd.pid; wait $!; echo $? >/tmp/vifqd.rc' </dev/null >/dev/null 2>&1 &
for i in $(seq 900); do [ "$(grep -c '"event":"vif-set"' ${LOG} 2>/dev/null)" -ge 2 ] && exit 0; [ -e /tmp/vifqd.rc ] && break; sleep 0.2; done
cat ${LOG}; exit 1`, { timeoutMs: 240_000 });
}

t.test('vifqd started in dom0 programs the running guests\' limits', async (t) => {
  const [g1, g2] = [G(1), G(2)];
  // the operator's setup: the shaped uplink, and each guest's SLA directory dom0-owned, guest read-only
  const setup = [
    '/lab/uplink.sh qdisc tbf 4mbit 200 >/dev/null',
    ...[g1, g2].map((g) => `xenstore-write ${sla(g.domid)} '' && xenstore-chmod ${sla(g.domid)} n0 r${g.domid}`),
    `xenstore-write ${sla(g1.domid)}/pending-bytes none && xenstore-chmod ${sla(g1.domid)}/pending-bytes n0 r${g1.domid}`,
    'cat /sys/class/net/uplink0/ifindex',
  ].join(' && ');
  uplinkIfindex = Number((await lab.dom0Ok(setup)).trim());
  await startVifqd();
  const vifs = await dumpVifs(lab);
  for (const g of [g1, g2]) {
    const v = vifs.find((x) => x.domid === g.domid);
    t.ok(v, `vif${g.domid}.0 in the dump`);
    if (!v) continue;
    // 4 Mbit/s from the uplink's tbf: the floor is two full-size frames
    t.same([v['limit-bytes'], v.priority, v.group], [3028, 'high', uplinkIfindex], `vif${g.domid}.0: limit 3028 B (the floor at 4 Mbit/s), high priority, group = uplink0's ifindex`);
  }
  const lines = await logLines();
  const set = lines.find((l) => l.event === 'vif-set');
  t.equal(set?.uplink, 'uplink0', 'the decision names the uplink');
  t.notOk(lines.some((l) => l.level === 'error'), 'no error lines');
});

t.test(`a dom0 SLA write reaches the kernel: write -> limit latency over ${WRITES} writes`, async (t) => {
  const g1 = G(1);
  const r = await lab.dom0(`${XS_DRIVER} latency ${g1.domid} ${WRITES}`, { timeoutMs: 120_000 + WRITES * 6_000 });
  const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { writes?: { want: number; writtenAt: number; readBackMs: number }[]; missed?: unknown[]; error?: unknown };
  t.notOk(out.error, `driver ran: ${JSON.stringify(out.error ?? null)} ${r.stderr.trim().slice(-300)}`);
  const writes = out.writes ?? [];
  t.same(out.missed, [], 'every write reached the kernel within 5 s');
  t.equal(writes.length, WRITES, `${WRITES} writes measured`);
  // exact: from just before the write to vifqd's log line for that vif-set (written after the
  // kernel acked it); same clock (dom0's)
  const sets = (await logLines()).filter((l) => l.event === 'vif-set' && l.domid === g1.domid);
  const lat: number[] = [];
  for (const w of writes) {
    const line = sets.find((l) => l.limitBytes === w.want && Date.parse(l.time) >= w.writtenAt);
    if (line) lat.push(Date.parse(line.time) - w.writtenAt);
  }
  t.equal(lat.length, writes.length, 'each write has its vif-set log line');
  const p50 = percentile(lat, 50);
  const p99 = percentile(lat, 99);
  t.comment(`xenstore write -> kernel vif-set acked (vifqd's log), ${WRITES} writes: p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms, max ${Math.max(...lat).toFixed(0)} ms`);
  // where the time goes: vifqd's debug line of each pass a write triggered
  const passes = (await logLines()).filter((l) => l.event === 'pass') as Array<LogLine & { reasons?: string[]; durationMs?: number; queuedMs?: number; phases?: Record<string, number> }>;
  const mine = passes.filter((l) => l.reasons?.includes(`xenstore:${sla(g1.domid)}/pending-bytes`) && Date.parse(l.time) >= (writes[0]?.writtenAt ?? 0));
  if (mine.length > 0) {
    const p50Of = (f: (l: (typeof mine)[number]) => number | undefined): string => percentile(mine.map((l) => f(l) ?? NaN).filter((x) => !Number.isNaN(x)), 50).toFixed(1);
    t.comment(`the ${mine.length} passes the writes triggered, p50 ms: queued ${p50Of((l) => l.queuedMs)}, pass ${p50Of((l) => l.durationMs)} = ${['read', 'dump', 'config', 'policy', 'apply'].map((k) => `${k} ${p50Of((l) => l.phases?.[k])}`).join(', ')}; ${mine.filter((l) => (l.reasons?.length ?? 0) > 1).length} shared with other reasons`);
  }
  const late = writes.filter((w) => w.readBackMs > 400).length;
  t.comment(`read back with vif-get 250-300 ms after the write: ${writes.length - late} of ${writes.length} already there at the first read`);
  // a bound on the typical write, not the outlier: p99 is one of the slowest writes, and one GC
  // pause or a busy CPU in the TCG lab moves it (1272 ms once under load 6). The figures above
  // are the measurement (docs/BENCHMARKS.md); the issue's target is p99 < 50 ms, not met yet.
  t.ok(p50 < 1000, `p50 ${p50.toFixed(0)} ms under 1 s in the TCG lab`);
  t.ok(p99 < 5000, `p99 ${p99.toFixed(0)} ms under 5 s (every write reaches the kernel in time)`);
  const v = (await dumpVifs(lab)).find((x) => x.domid === g1.domid);
  t.equal(v?.['limit-bytes'], 3028, 'pending-bytes none: back to the floor');
});

t.test('a guest-owned priority/weight gains nothing: limits unchanged, one log line per node', async (t) => {
  const g2 = G(2);
  const before = (await dumpVifs(lab)).find((x) => x.domid === g2.domid);
  const r = await lab.dom0(`${XS_DRIVER} untrusted ${g2.domid}`, { timeoutMs: 120_000 });
  const after = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
  t.notOk(after.error, `driver ran: ${JSON.stringify(after.error ?? null)}`);
  const perms = await lab.dom0Ok(`xenstore-ls -p ${sla(g2.domid)}`);
  t.match(perms, new RegExp(`priority = "low"[ .]*\\(n${g2.domid}\\)`), 'the node is owned by the guest');
  t.same([after['limit-bytes'], after['limit-packets'], after.priority, after.group], [before?.['limit-bytes'], before?.['limit-packets'], 'high', before?.group], 'limits and class unchanged');
  // as the guest: it may rewrite the nodes it owns (still ignored, no second log line), but
  // cannot create one in its dom0-owned SLA directory
  const own = await lab.guest(g2.n, `xenstore-write ${sla(g2.domid)}/weight 999; echo rc=$?; xenstore-write ${sla(g2.domid)}/pending-bytes 64k; echo rc=$?`);
  t.match(own.stdout, /rc=0\s+rc=[1-9]/, `the guest rewrote its own weight node, and creating pending-bytes was refused (${own.stdout.trim().replace(/\s+/g, ' ')})`);
  const again = (await dumpVifs(lab)).find((x) => x.domid === g2.domid);
  t.same([again?.['limit-bytes'], again?.priority], [before?.['limit-bytes'], 'high'], 'still unchanged after the guest\'s own write');
  await lab.dom0(`sleep 1`);
  const lines = (await logLines()).filter((l) => l.event === 'sla-finding' && l.code === 'untrusted-node');
  for (const name of ['priority', 'weight']) {
    const mine = lines.filter((l) => l.path === `${sla(g2.domid)}/${name}`);
    t.equal(mine.length, 1, `one log line for ${name}: ${mine[0]?.msg ?? '(none)'}`);
  }
});

t.test('metrics on 127.0.0.1:9851, and the hotplug hook\'s nudge on the control socket', async (t) => {
  const [g1, g2] = [G(1), G(2)];
  // busybox wget (dom0 has no curl); vifqd runs with the default port and socket
  const m = await lab.dom0Ok('wget -qO- http://127.0.0.1:9851/metrics');
  for (const g of [g1, g2]) {
    t.match(m, new RegExp(`^vifq_vif_limit_bytes\\{domid="${g.domid}",[^}]*vif="vif${g.domid}\\.0",uplink="uplink0"\\} \\d+$`, 'm'), `vif${g.domid}.0's limit is exported`);
  }
  const rate = /^vifq_uplink_line_rate_bits_per_second\{uplink="uplink0",source="qdisc-tbf"\} (\d+)$/m.exec(m);
  t.ok(rate, 'uplink0\'s line rate with source qdisc-tbf');
  t.ok(Math.abs(Number(rate?.[1]) - 4e6) < 4e4, `the tbf's 4 Mbit/s (${rate?.[1] ?? '?'} bit/s)`);
  // the hook's own node client (dom0 has no python3), printing the answer line
  const client = `node -e 'const [, p, vif] = process.argv; setTimeout(() => process.exit(1), 5000);
const s = require("net").connect(p, () => s.write(JSON.stringify({ id: 1, method: "nudge", params: { vif, reason: "hotplug" } }) + "\\n"));
let b = ""; s.on("data", (d) => { b += d; if (b.includes("\\n")) { console.log(b.trim()); process.exit(0); } });' /run/vifq/control.sock vif${g1.domid}.0`;
  const r = await lab.dom0(client, { timeoutMs: 60_000 });
  t.same(JSON.parse(r.stdout.trim() || '{}'), { id: 1, result: { ok: true } }, `nudge answered ok (${r.stderr.trim().slice(-200)})`);
  await lab.dom0('sleep 1'); // pino's line after the pass
  const passes = (await logLines()).filter((l) => l.event === 'pass') as Array<LogLine & { reasons?: string[] }>;
  t.ok(passes.some((l) => l.reasons?.includes(`control:hotplug:vif${g1.domid}.0`)), 'the nudge ran a pass named by its reason and vif');
});

/** The uplink's line rate (tbf 4mbit) in bytes/s of Ethernet frames, as tbf and the vifs count them. */
const LINE_RATE = 4e6 / 8;
/** Weights: seconds of bulk before the shares are measured (vifqd steers once per 1 s report), then the window. */
const SETTLE_SECS = 10;
const WINDOW_SECS = 20;
/** TCP streams per guest in the weights case: enough that the heavy guest's in-flight data reaches its limit (TSQ caps each stream's). */
const WEIGHT_STREAMS = Number(process.env.VIFQD_WEIGHT_STREAMS ?? 4);

t.test('weights 1:3 from dom0-owned SLA nodes: uplink shares within 10% of 25%/75%; the light guest gets the whole uplink within 1 s of the heavy one stopping', async (t) => {
  const [light, heavy] = [G(1), G(2)];
  // the operator's write: dom0 owns each weight node, the guest may only read it (domu2's own
  // weight node from the untrusted case is removed first)
  await lab.dom0Ok(([[light, 1], [heavy, 3]] as const).map(([g, w]) => `xenstore-rm ${sla(g.domid)}/weight 2>/dev/null; xenstore-write ${sla(g.domid)}/weight ${w} && xenstore-chmod ${sla(g.domid)}/weight n0 r${g.domid}`).join('\n'));
  const logFrom = (await logLines()).length;
  const wb = await weightedBulk(lab, light, heavy, { heavySecs: SETTLE_SECS + WINDOW_SECS + 1, afterSecs: 4, streams: WEIGHT_STREAMS });
  t.equal(wb.code, 0, `both guests' bulk TCP ran (${wb.samples.length} readings): ${wb.stderr}`);
  const t0 = wb.samples[0]?.t ?? 0;
  // how it went, 2 s at a time: light / heavy kB/s
  const bins: string[] = [];
  for (let s = 0; s < SETTLE_SECS + WINDOW_SECS + 8; s += 2) {
    const b = bytesBetween(wb.samples, t0 + s, t0 + s + 2);
    if (b.secs > 0) bins.push(`${s}s ${Math.round(b.light / b.secs / 1000)}/${Math.round(b.heavy / b.secs / 1000)}`);
  }
  t.comment(`light/heavy kB/s per 2 s (line rate ${LINE_RATE / 1000} kB/s): ${bins.join(', ')}`);
  const sets = (await logLines()).slice(logFrom).filter((l) => l.event === 'vif-set') as Array<LogLine & { why?: string[] }>;
  t.comment(`vifqd's limits meanwhile: ${sets.map((l) => `vif${l.domid}.0=${l.limitBytes}`).join(' ')}`);
  const lastWhy = [...sets].reverse().find((l) => l.domid === heavy.domid)?.why;
  if (lastWhy) t.comment(`heavy's last decision: ${lastWhy.join('; ')}`);

  const w = bytesBetween(wb.samples, t0 + SETTLE_SECS, t0 + SETTLE_SECS + WINDOW_SECS);
  const total = w.light + w.heavy;
  const lightShare = total > 0 ? w.light / total : NaN;
  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
  const figures = `light ${pct(lightShare)} / heavy ${pct(1 - lightShare)} over ${w.secs.toFixed(1)} s after ${SETTLE_SECS} s, uplink ${(total / w.secs / LINE_RATE).toFixed(2)}x line rate`;
  t.comment(`weights 1:3: ${figures} (longest gap between readings ${w.longestGapSecs.toFixed(1)} s)`);
  // the readings span the whole window (its edges are interpolated: dom0's reader stalls for a
  // second or two now and then on a busy host, 18.3 s of 20 between readings in one CI run)
  t.ok(w.secs >= WINDOW_SECS - 1, `the readings cover the window (${w.secs.toFixed(1)} of ${WINDOW_SECS} s)`);
  // within 10% of the targets: light in [22.5%, 27.5%] (so heavy in [72.5%, 77.5%])
  t.ok(Math.abs(lightShare - 0.25) <= 0.025, `shares within 10% of 25%/75%: ${figures}`);

  const stop = heavyStop(wb.samples);
  t.ok(stop !== undefined, 'the heavy guest stopped within the readings');
  if (stop !== undefined) {
    // the whole uplink: 90% of its line rate, or of what the two guests got through it together
    // in the window when the emulated CPUs, not the tbf, were the bottleneck (a busy TCG host)
    const whole = Math.min(LINE_RATE, total / w.secs);
    const reach = reachTime(wb.samples, stop, 0.9 * whole);
    const alone = bytesBetween(wb.samples, stop + 1, stop + 3);
    const aloneRate = alone.secs > 0 ? alone.light / alone.secs : 0;
    const msg = `heavy stopped ${(stop - t0).toFixed(1)} s in; the light guest reached 90% of ${(whole / 1000).toFixed(0)} kB/s (line rate ${LINE_RATE / 1000}) over 0.5 s ${reach === undefined ? 'never' : `${(reach * 1000).toFixed(0)} ms`} after, then sent ${(aloneRate / 1000).toFixed(0)} kB/s (${(aloneRate / LINE_RATE).toFixed(2)}x line rate) over 1-3 s after`;
    t.comment(msg);
    t.ok(reach !== undefined && reach <= 1.0, `the light guest has the whole uplink within 1 s: ${msg}`);
    t.ok(aloneRate >= 0.9 * whole, `and keeps it: ${msg}`);
  }
  // undo the weights: both vifs back on defaults. An idle uplink sends no release report, so the
  // light guest's last limit (its share alone) stays until a report shows both vifs using little:
  // a few pings from each guest give one
  await lab.dom0Ok(`xenstore-rm ${sla(light.domid)}/weight; xenstore-rm ${sla(heavy.domid)}/weight`);
  await Promise.all([light, heavy].map((g) => lab.guest(g.n, 'ping -c 8 -i 0.25 -W 2 198.18.0.100 >/dev/null; true', { timeoutMs: 60_000 })));
  await lab.dom0Ok('sleep 2');
  const c = await converged();
  t.same(c.diff, [], `the kernel holds what vifqd wants (${c.reads} reading(s))`);
  onDefaults(t, c.state);
});

/** Direction test: scenario (a) phases, shorter than the bench's. */
const DIRECTION: Timing = { secs: 20, warmSecs: 4, leadSecs: 2, tailSecs: 1, pingHz: 10 };

t.test('noisy neighbour, same boot: vifq\'s victim p99 below stock\'s, uplink output not below 0.9x stock\'s', async (t) => {
  const [victim, neighbour] = [G(1), G(2)];
  // stock: vifqd stopped with on-stop reset, every vif's limits 0
  const stopped = await lab.dom0(`xenstore-write /local/domain/0/vifq/on-stop reset && sleep 1
kill -TERM $(cat /tmp/vifqd.pid); for i in $(seq 300); do [ -e /tmp/vifqd.rc ] && break; sleep 0.1; done
xenstore-rm /local/domain/0/vifq/on-stop; cat /tmp/vifqd.rc`, { timeoutMs: 60_000 });
  t.equal(stopped.stdout.trim(), '0', `vifqd stopped (exit 0) for the stock phase ${stopped.stderr.trim()}`);
  const reset = await dumpVifs(lab);
  t.same(reset.map((v) => [v['limit-bytes'], v['limit-packets']]), reset.map(() => [0, 0]), `stock: every vif's limits 0 (${reset.map((v) => v.ifname).join(' ')})`);
  // domu2 is both neighbours: one TCP bulk stream and a 1400-byte UDP flood
  const stock = await noisyPhase(lab, victim, neighbour, neighbour, DIRECTION);
  await lab.dom0Ok('sleep 3'); // the FIFO drains
  await startVifqd();
  await lab.dom0Ok('sleep 3'); // a few reports on idle vifs
  const vifq = await noisyPhase(lab, victim, neighbour, neighbour, DIRECTION);
  const line = (name: string, p: PhaseResult): string => `${name}: victim p50/p99/max ${p.loaded.p50}/${p.loaded.p99}/${p.loaded.max} ms (${p.loaded.n} replies), uplink ${p.uplinkMbit} Mbit/s, dom0 drops ${p.dom0Drops}`;
  const msg = `${line('stock', stock)}; ${line('vifq', vifq)}; p99 ${(vifq.loaded.p99 / stock.loaded.p99).toFixed(2)}x stock, output ${(vifq.uplinkBytesPerSec / stock.uplinkBytesPerSec).toFixed(2)}x stock`;
  t.comment(msg);
  t.ok(stock.loaded.n >= DIRECTION.secs * DIRECTION.pingHz * 0.5 && vifq.loaded.n >= DIRECTION.secs * DIRECTION.pingHz * 0.5, `enough victim replies in both phases: ${msg}`);
  t.ok(vifq.loaded.p99 < stock.loaded.p99, `vifq's victim p99 below stock's: ${msg}`);
  t.ok(vifq.uplinkBytesPerSec >= 0.9 * stock.uplinkBytesPerSec, `uplink output under vifq >= 0.9x stock's: ${msg}`);
  t.ok(await alivePid(), 'vifqd is running (the cases below use it)');
});

t.test(`${CYCLES} xl network-attach/detach cycles of an extra vif while vifqd runs`, async (t) => {
  const rssStart = await rssKb();
  const rss: Array<[number, number]> = [];
  const programMs: number[] = [];
  const unprogrammed: string[] = [];
  let done = 0;
  while (done < CYCLES) {
    if (done > 0 && done % RECREATE_EVERY === 0) {
      const d = await lab.dom0('/lab/guests.sh destroy 2', { timeoutMs: 120_000 });
      if (d.code !== 0) { t.fail(`after ${done} cycles: destroying domu2 failed: ${d.stderr.trim()}`); break; }
      await lab.createGuest(2);
    }
    const n = Math.min(CYCLES - done, RECREATE_EVERY - (done % RECREATE_EVERY));
    const d = G(2).domid;
    // each cycle: attach, wait until the backend is connected and vifqd has set the new vif
    // (its vif-set log line for that ifindex: 'ms' is how long that took after the backend
    // connected), detach, wait until the vif and its backend are gone
    const r = await lab.dom0(`d=${d}; mac=${CHURN_MAC}
up() { awk '{printf "%d", $1 * 1000}' /proc/uptime; }
for i in $(seq ${n}); do
  xl network-attach domu2 mac=$mac,bridge=xenbr0 || { echo "cycle $i: network-attach failed" >&2; exit 2; }
  for k in $(seq 300); do dev=$(xl network-list domu2 | awk -v m=$mac '$3 == m {print $1}'); [ -n "$dev" ] && [ -e /sys/class/net/vif$d.$dev ] && [ "$(xenstore-read /local/domain/0/backend/vif/$d/$dev/state 2>/dev/null)" = 4 ] && break; sleep 0.1; done
  [ -e /sys/class/net/vif$d.$dev ] || { echo "cycle $i: no vif$d.$dev 30 s after attach" >&2; exit 3; }
  ifx=$(cat /sys/class/net/vif$d.$dev/ifindex); t0=$(up)
  for k in $(seq 100); do grep -q "\\"event\\":\\"vif-set\\",\\"ifindex\\":$ifx," ${LOG} && break; sleep 0.1; done
  if grep -q "\\"event\\":\\"vif-set\\",\\"ifindex\\":$ifx," ${LOG}; then echo "set $ifx $(($(up) - t0))"; else echo "unset vif$d.$dev $ifx"; fi
  xl network-detach domu2 $mac || { echo "cycle $i: network-detach failed" >&2; exit 4; }
  for k in $(seq 300); do [ ! -e /sys/class/net/vif$d.$dev ] && ! xenstore-exists /local/domain/0/backend/vif/$d/$dev 2>/dev/null && break; sleep 0.1; done
  [ ! -e /sys/class/net/vif$d.$dev ] || { echo "cycle $i: vif$d.$dev still there 30 s after detach" >&2; exit 5; }
done`, { timeoutMs: 120_000 + n * 60_000 });
    for (const m of r.stdout.matchAll(/^set \d+ (\d+)$/gm)) programMs.push(Number(m[1]));
    for (const m of r.stdout.matchAll(/^unset (\S+) (\d+)$/gm)) unprogrammed.push(`${m[1]} (ifindex ${m[2]})`);
    if (r.code !== 0) { t.fail(`attach/detach failed after ${done} cycles (exit ${r.code}): ${r.stderr.trim()}`); break; }
    done += n;
    if (done === Math.min(50, CYCLES) || done === CYCLES) rss.push([done, await rssKb()]);
  }
  t.equal(done, CYCLES, `${CYCLES} attach/detach cycles done`);
  t.same(unprogrammed, [], 'vifqd set every attached vif within 10 s of its backend connecting');
  if (programMs.length > 0) t.comment(`backend connected -> vifqd's vif-set logged: p50 ${percentile(programMs, 50)} ms, p99 ${percentile(programMs, 99)} ms (/proc/uptime, 10 ms resolution, 100 ms poll)`);
  t.comment(`vifqd RSS: ${rssStart} kB at the start; ${rss.map(([c, kb]) => `${kb} kB after ${c} cycles`).join(', ')}`);
  t.ok(await alivePid(), 'vifqd is still running');
  const c = await converged();
  t.same(c.diff, [], `the kernel holds what vifqd wants (${c.reads} reading(s)): ${c.state.kernel.map((v) => v.ifname).join(' ')}`);
  t.notOk(c.state.kernel.some((v) => v.handle !== 0), 'no churned vif is left in the kernel');
  t.notOk(c.state.status.vifs.some((v) => v.handle !== 0), 'vifqd wants nothing for a churned vif');
  onDefaults(t, c.state);
  const at50 = rss.find(([cy]) => cy === 50)?.[1];
  const end = rss.at(-1)?.[1];
  if (CYCLES > 50 && at50 !== undefined && end !== undefined) {
    // generous: the heap settles in steps (GC), a leak of a few kB per cycle over 450 cycles does not
    const margin = Math.max(8 * 1024, at50 * 0.2);
    t.ok(end <= at50 + margin, `RSS does not grow: ${end} kB after ${CYCLES} cycles, ${at50} kB after 50 (margin ${Math.round(margin)} kB)`);
  }
});

t.test('the module unloaded and reloaded (guests destroyed and re-created around it) while vifqd runs', async (t) => {
  const pid = await alivePid();
  // every vif holds a reference on the module: the guests go first
  for (const n of [1, 2]) {
    const d = await lab.dom0(`/lab/guests.sh destroy ${n}`, { timeoutMs: 120_000 });
    t.equal(d.code, 0, `domu${n} destroyed: ${d.stderr.trim()}`);
  }
  const rm = await unloadNetback(lab);
  t.equal(rm.rc, 0, `rmmod xen_netback: ${rm.stderr}`);
  t.notOk(rm.stillLoaded, 'xen_netback unloaded');
  await lab.dom0Ok('sleep 2; insmod /lab/xen-netback.ko', { timeoutMs: 60_000 });
  for (const n of [1, 2]) await lab.createGuest(n);
  const [g1, g2] = [G(1), G(2)];
  const w = await lab.dom0(`${waitVifSet(String(g1.domid), '0', 60)} && ${waitVifSet(String(g2.domid), '0', 60)}`, { timeoutMs: 180_000 });
  t.equal(w.code, 0, `vifqd set both re-created guests' vifs (vif${g1.domid}.0, vif${g2.domid}.0)`);
  t.equal(await alivePid(), pid, 'the same vifqd process is still running');
  const lines = await logLines();
  const resyncs = lines.filter((l) => l.event === 'resync-needed').map((l) => (l as LogLine & { reason?: string }).reason);
  t.ok(resyncs.includes('family-gone') && resyncs.includes('family-new'), `vifqd saw the family go and come back (resync-needed: ${resyncs.join(', ')})`);
  const c = await converged();
  t.same(c.diff, [], `the kernel holds what vifqd wants (${c.reads} reading(s))`);
  t.equal(c.state.kernel.length, 2, 'two vifs: the re-created guests\' only');
  onDefaults(t, c.state);
});

t.test('xenstored killed and restarted while vifqd runs: every vif back on defaults (the new store knows no SLA)', async (t) => {
  const [g1, g2] = [G(1), G(2)];
  const pid = await alivePid();
  // an SLA on domu1 first, so that losing the store changes what vifqd wants
  await lab.dom0Ok(`xenstore-write ${sla(g1.domid)}/pending-bytes 2500 && xenstore-chmod ${sla(g1.domid)} n0 r${g1.domid} && xenstore-chmod ${sla(g1.domid)}/pending-bytes n0 r${g1.domid}
${waitVifSet(String(g1.domid), '0', 30, 2500)}`, { timeoutMs: 60_000 });
  const before = (await daemonState()).kernel.find((v) => v.domid === g1.domid);
  t.equal(before?.['limit-bytes'], 2500, `vif${g1.domid}.0 at its SLA's 2500 B before the restart`);
  const setsBefore = (await logLines()).filter((l) => l.event === 'vif-set').length;
  // as in xenstore.test.ts: a 1 s outage from when the old one has gone
  const restart = await lab.dom0('p=$(cat /run/xenstored.pid); kill $p; for i in $(seq 100); do kill -0 $p 2>/dev/null || break; sleep 0.05; done; sleep 1; xenstored --pid-file=/run/xenstored.pid', { timeoutMs: 60_000 });
  t.equal(restart.code, 0, `xenstored restarted: ${restart.stderr.trim()}`);
  const w = await lab.dom0(`for k in $(seq 600); do grep -q '"event":"xenstore-reconnected"' ${LOG} && break; sleep 0.1; done; grep -q '"event":"xenstore-reconnected"' ${LOG}`, { timeoutMs: 90_000 });
  t.equal(w.code, 0, 'vifqd logged its reconnection to xenstored');
  await lab.dom0(`for k in $(seq 300); do [ "$(grep -c '"event":"vif-set"' ${LOG})" -gt ${setsBefore} ] && break; sleep 0.1; done`, { timeoutMs: 60_000 });
  t.equal(await alivePid(), pid, 'the same vifqd process is still running');
  const c = await converged();
  t.same(c.diff, [], `the kernel holds what vifqd wants (${c.reads} reading(s))`);
  // the new store is empty: no SLA, no host setting -> each vif on defaults, domu1 back from 2500 B
  onDefaults(t, c.state);
  t.same(c.state.status.vifs.map((v) => [v.domid, v.desired.limitBytes]).sort(), [[g1.domid, 3028], [g2.domid, 3028]].sort(), 'vifqd wants the defaults for both (the restarted xenstored knows no SLA)');
});

t.test('SIGTERM: exit 0, and on-stop reset leaves stock limits', async (t) => {
  const [g1, g2] = [G(1), G(2)];
  await lab.dom0Ok(`xenstore-write /local/domain/0/vifq/on-stop reset && sleep 1`);
  const rss = await lab.dom0(`ps -o rss= -p $(cat /tmp/vifqd.pid) 2>/dev/null || grep VmRSS /proc/$(cat /tmp/vifqd.pid)/status`);
  t.comment(`vifqd RSS before stop: ${rss.stdout.trim()} (kB)`);
  // what the faults above left in the log (each logged with its hint, none fatal)
  const noted = new Map<string, number>();
  for (const l of await logLines()) if (l.level === 'warn' || l.level === 'error') noted.set(`${l.level} ${l.event ?? '?'}`, (noted.get(`${l.level} ${l.event ?? '?'}`) ?? 0) + 1);
  t.comment(`warn/error lines over the run: ${[...noted].map(([k, n]) => `${k} x${n}`).join(', ') || 'none'}`);
  const r = await lab.dom0(`kill -TERM $(cat /tmp/vifqd.pid); for i in $(seq 300); do [ -e /tmp/vifqd.rc ] && break; sleep 0.1; done; cat /tmp/vifqd.rc`, { timeoutMs: 60_000 });
  t.equal(r.stdout.trim(), '0', 'vifqd exited 0');
  const lines = await logLines();
  t.ok(lines.some((l) => l.event === 'stopped' && l.onStop === 'reset'), 'it logged the stop with on-stop reset');
  const vifs = await dumpVifs(lab);
  for (const g of [g1, g2]) {
    const v = vifs.find((x) => x.domid === g.domid);
    t.same([v?.['limit-bytes'], v?.['limit-packets'], v?.priority, v?.group], [0, 0, 'high', 0], `vif${g.domid}.0 back to stock`);
  }
  await lab.dom0(`xenstore-rm /local/domain/0/vifq/on-stop`);
});

