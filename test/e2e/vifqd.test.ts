/**
 * vifqd in dom0 on the patched netback (one lab boot, two guests, uplink tbf 4 Mbit/s):
 * it programs the running guests' limits by itself, follows a dom0 SLA write into the kernel
 * (write -> kernel latency over 30 writes), ignores nodes a guest could have written (one log
 * line each, limits unchanged), and on SIGTERM exits 0 leaving the kernel as the host setting
 * `on-stop` says (reset here; keep is the default and is covered by the unit tests). Its metrics
 * endpoint shows both guests' limits and the uplink's line rate, and a hotplug-style nudge on the
 * control socket is answered {ok: true}.
 * Uses the compiled service (/vifq/dist: run `make build` first).
 */
import t from 'tap';
import { Lab } from '../lab/lab.js';
import { buildVifqModule, dumpVifs, percentile } from '../lab/vifq.js';

const LOG = '/tmp/vifqd.log';
const XS_DRIVER = 'node /vifq/test/e2e/drivers/vifqd-xs.mjs';

const module = buildVifqModule('vifqd');
const lab = await Lab.boot({ name: 'vifqd', guests: 2, netback: module });
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

const g1 = lab.guests[0];
const g2 = lab.guests[1];
if (!g1 || !g2) throw new Error('the lab has no two guests');
const sla = (domid: number): string => `/local/domain/${domid}/vifq`;
let uplinkIfindex = 0;

t.test('vifqd started in dom0 programs the running guests\' limits', async (t) => {
  // the operator's setup: the shaped uplink, and each guest's SLA directory dom0-owned, guest read-only
  const setup = [
    // the lab's dom0 init leaves lo down; a real dom0 has it up (the metrics endpoint is 127.0.0.1:9851)
    'ip link set lo up',
    '/lab/uplink.sh qdisc tbf 4mbit 200 >/dev/null',
    ...[g1, g2].map((g) => `xenstore-write ${sla(g.domid)} '' && xenstore-chmod ${sla(g.domid)} n0 r${g.domid}`),
    `xenstore-write ${sla(g1.domid)}/pending-bytes none && xenstore-chmod ${sla(g1.domid)}/pending-bytes n0 r${g1.domid}`,
    'cat /sys/class/net/uplink0/ifindex',
  ].join(' && ');
  uplinkIfindex = Number((await lab.dom0Ok(setup)).trim());
  await lab.dom0Ok(`rm -f ${LOG} /tmp/vifqd.rc /tmp/vifqd.pid
setsid sh -c 'node /vifq/dist/service/main.js --log-level debug >${LOG} 2>&1 & echo $! >/tmp/vifqd.pid; wait $!; echo $? >/tmp/vifqd.rc' </dev/null >/dev/null 2>&1 &
for i in $(seq 900); do [ "$(grep -c '"event":"vif-set"' ${LOG} 2>/dev/null)" -ge 2 ] && exit 0; [ -e /tmp/vifqd.rc ] && break; sleep 0.2; done
cat ${LOG}; exit 1`, { timeoutMs: 240_000 });
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

t.test('a dom0 SLA write reaches the kernel: write -> limit latency over 30 writes', async (t) => {
  const r = await lab.dom0(`${XS_DRIVER} latency ${g1.domid} 30`, { timeoutMs: 240_000 });
  const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { writes?: { want: number; writtenAt: number; polledMs: number }[]; missed?: unknown[]; error?: unknown };
  t.notOk(out.error, `driver ran: ${JSON.stringify(out.error ?? null)} ${r.stderr.trim().slice(-300)}`);
  const writes = out.writes ?? [];
  t.same(out.missed, [], 'every write reached the kernel within 5 s');
  t.equal(writes.length, 30, '30 writes measured');
  // exact: from just before the write to vifqd's log line for that vif-set (written after the
  // kernel acked it); same clock (dom0's)
  const sets = (await logLines()).filter((l) => l.event === 'vif-set' && l.domid === g1.domid);
  const lat: number[] = [];
  for (const w of writes) {
    const line = sets.find((l) => l.limitBytes === w.want && Date.parse(l.time) >= w.writtenAt);
    if (line) lat.push(Date.parse(line.time) - w.writtenAt);
  }
  t.equal(lat.length, writes.length, 'each write has its vif-set log line');
  const polled = writes.map((w) => w.polledMs);
  const p50 = percentile(lat, 50);
  const p99 = percentile(lat, 99);
  t.comment(`xenstore write -> kernel vif-set acked (vifqd's log), 30 writes: p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms, max ${Math.max(...lat).toFixed(0)} ms`);
  t.comment(`the same read back with vif-get polled every 25 ms: p50 ${percentile(polled, 50).toFixed(0)} ms, p99 ${percentile(polled, 99).toFixed(0)} ms`);
  // a bound on the typical write, not the outlier: with 30 writes p99 is the slowest one, and one
  // GC pause or a busy CPU in the TCG lab moves it (1272 ms once under load 6). The figures above
  // are the measurement (docs/BENCHMARKS.md); the target is p99 < 50 ms, not met yet.
  t.ok(p50 < 1000, `p50 ${p50.toFixed(0)} ms under 1 s in the TCG lab`);
  t.ok(p99 < 5000, `p99 ${p99.toFixed(0)} ms under 5 s (every write reaches the kernel in time)`);
  const v = (await dumpVifs(lab)).find((x) => x.domid === g1.domid);
  t.equal(v?.['limit-bytes'], 3028, 'pending-bytes none: back to the floor');
});

t.test('a guest-owned priority/weight gains nothing: limits unchanged, one log line per node', async (t) => {
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

t.test('SIGTERM: exit 0, and on-stop reset leaves stock limits', async (t) => {
  await lab.dom0Ok(`xenstore-write /local/domain/0/vifq/on-stop reset && sleep 1`);
  const rss = await lab.dom0(`ps -o rss= -p $(cat /tmp/vifqd.pid) 2>/dev/null || grep VmRSS /proc/$(cat /tmp/vifqd.pid)/status`);
  t.comment(`vifqd RSS before stop: ${rss.stdout.trim()} (kB)`);
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

