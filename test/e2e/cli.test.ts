/**
 * The `vifq` CLI in dom0 (one lab boot, two guests, uplink tbf 4 Mbit/s, vifqd started as
 * test/e2e/vifqd.test.ts starts it), every command with --json: `limits` lists both vifs
 * without vifqd's help; `domain set` writes the SLA dom0-owned and guest read-only and `status`
 * shows the new limit within a few seconds; `domain show` gives each value's source and
 * vifqd's limit; a bad value writes nothing; `doctor` on a guest-writable SLA node exits
 * non-zero naming the fix; `events --json --domain` streams that domain's release reports
 * (both guests ping) and stops on SIGINT with exit 0, while `top --once --json` prints one
 * frame with both domains; `limits set` works while vifqd runs and says vifqd will override it;
 * `domain reset` removes the SLA; vifqd gone: one line, exit 3; `vifq daemon` runs vifqd in
 * the foreground (status answers; with the uplink's shaper removed and the link down the line
 * rate is unknown and doctor names the fix; SIGTERM: exit 0); netback unloaded (the guests
 * destroyed first): doctor names modprobe.
 * Node starts in 10-15 s in the TCG dom0: about sixteen CLI invocations, each timed.
 * Uses the compiled CLI (/vifq/dist: run `make build` first).
 */
import t from 'tap';
import { Lab, type ExecResult } from '../lab/lab.js';
import { buildVifqModule } from '../lab/vifq.js';
import { unloadNetback } from '../lab/scenarios.js';

const LOG = '/tmp/vifqd.log';
const DAEMON_LOG = '/tmp/vifq-daemon.log';
const VIFQ = 'node /vifq/bin/vifq';

const module = buildVifqModule('cli');
const lab = await Lab.boot({ name: 'cli', guests: 2, netback: module, runTimeoutSec: 3600 });
t.teardown(async () => {
  if (!t.passing()) {
    const r = await lab.dom0(`tail -n 40 ${LOG}; echo '-- vifq daemon'; tail -n 20 ${DAEMON_LOG}`).catch(() => undefined);
    if (r) t.comment(`vifqd log (last lines):\n${r.stdout}`);
  }
  await lab.close({ collect: !t.passing() });
});

const g1 = lab.guestInfo(1);
const g2 = lab.guestInfo(2);
const sla = (domid: number): string => `/local/domain/${domid}/vifq`;
const timings: string[] = [];

/** One CLI invocation in dom0: its exit code, stdout parsed as JSON, stderr; timed. */
async function vifq(args: string): Promise<{ code: number; json: unknown; stderr: string; raw: ExecResult }> {
  const t0 = performance.now();
  const r = await lab.dom0(`${VIFQ} ${args}`, { timeoutMs: 120_000 });
  timings.push(`${args.split(' --')[0]}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  let json: unknown;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    json = undefined;
  }
  return { code: r.code, json, stderr: r.stderr, raw: r };
}

interface StatusVifJson { vif: string; domid: number; name: string | null; limitBytes: number; why: { code: string }[] }

t.test('vifqd runs; limits lists both vifs from the kernel', async (t) => {
  await lab.dom0Ok([
    '/lab/uplink.sh qdisc tbf 4mbit 200 >/dev/null',
    ...[g1, g2].map((g) => `xenstore-write ${sla(g.domid)} '' && xenstore-chmod ${sla(g.domid)} n0 r${g.domid}`),
  ].join(' && '));
  await lab.dom0Ok(`rm -f ${LOG} /tmp/vifqd.rc /tmp/vifqd.pid
setsid sh -c 'node /vifq/dist/service/main.js >${LOG} 2>&1 & echo $! >/tmp/vifqd.pid; wait $!; echo $? >/tmp/vifqd.rc' </dev/null >/dev/null 2>&1 &
for i in $(seq 900); do [ "$(grep -c '"event":"vif-set"' ${LOG} 2>/dev/null)" -ge 2 ] && exit 0; [ -e /tmp/vifqd.rc ] && break; sleep 0.2; done
cat ${LOG}; exit 1`, { timeoutMs: 240_000 });
  const r = await vifq('limits --json');
  t.equal(r.code, 0, r.stderr);
  const vifs = (r.json as { vifs?: { domid: number; handle: number; 'limit-bytes': number }[] } | undefined)?.vifs ?? [];
  t.same(vifs.map((v) => `vif${v.domid}.${v.handle}`).sort(), [`vif${g1.domid}.0`, `vif${g2.domid}.0`].sort(), 'both guests\' vifs');
  t.ok(vifs.every((v) => v['limit-bytes'] === 3028), 'at the floor vifqd set (4 Mbit/s: two full frames)');
});

t.test('domain set by name, then status shows the new limit within a few seconds', async (t) => {
  const set = await vifq(`domain set ${g1.name} --pending-bytes 2500 --weight 300 --json`);
  t.equal(set.code, 0, set.stderr);
  t.match(set.json, { domid: g1.domid, name: g1.name, handle: null, written: [{ path: `${sla(g1.domid)}/weight`, value: '300' }, { path: `${sla(g1.domid)}/pending-bytes`, value: '2500' }] });
  const perms = await lab.dom0Ok(`xenstore-ls -p ${sla(g1.domid)}`);
  t.match(perms, new RegExp(`weight = "300"[ .]*\\(n0,r${g1.domid}\\)`), 'dom0-owned, guest read-only');
  t.match(perms, new RegExp(`pending-bytes = "2500"[ .]*\\(n0,r${g1.domid}\\)`));
  const t0 = performance.now();
  let mine: StatusVifJson | undefined;
  for (let i = 0; i < 3; i++) {
    const s = await vifq('status --json');
    t.equal(s.code, 0, s.stderr);
    mine = (s.json as { vifs?: StatusVifJson[] } | undefined)?.vifs?.find((v) => v.domid === g1.domid);
    if (mine?.limitBytes === 2500) break;
  }
  t.comment(`domain set -> status shows it: ${((performance.now() - t0) / 1000).toFixed(1)} s after set returned (a status call costs a node start)`);
  t.match(mine, { vif: `vif${g1.domid}.0`, name: g1.name, limitBytes: 2500 }, 'status: the SLA cap is the limit, the domain named');
  t.ok(mine?.why.some((w) => w.code === 'sla-cap'), 'and says why: sla-cap');
});

t.test('domain show: each value\'s source, vifqd\'s limit', async (t) => {
  const r = await vifq(`domain show ${g1.domid} --json`);
  t.equal(r.code, 0, r.stderr);
  t.match(r.json, {
    domid: g1.domid, name: g1.name, service: 'running',
    vifs: [{
      vif: `vif${g1.domid}.0`,
      sla: [
        { name: 'priority', value: 'high', source: 'default', path: null },
        { name: 'weight', value: '300', source: 'guest', path: `${sla(g1.domid)}/weight` },
        { name: 'pending-bytes', value: '2500', source: 'guest' },
        { name: 'pending-packets', source: 'default' },
        { name: 'timeout-ms', source: 'default' },
      ],
      limits: { from: 'vifqd', limitBytes: 2500 },
    }],
    findings: [],
  });
});

t.test('a bad value: one line, exit 2, nothing written', async (t) => {
  const r = await vifq(`domain set ${g1.domid} --weight 0 --pending-bytes 64k`);
  t.equal(r.code, 2);
  t.equal(r.raw.stdout, '');
  t.match(r.stderr.trim(), /^Error: --weight 0: .*nothing was written\)$/);
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
  t.equal((await lab.dom0Ok(`xenstore-read ${sla(g1.domid)}/pending-bytes`)).trim(), '2500', 'pending-bytes unchanged');
});

t.test('doctor on a guest-writable SLA node: non-zero, the node and the fix named', async (t) => {
  await lab.dom0Ok(`xenstore-write ${sla(g2.domid)}/weight 1000 && xenstore-chmod ${sla(g2.domid)}/weight n${g2.domid}`);
  const r = await vifq('doctor --json');
  t.equal(r.code, 1, 'exit 1: a check failed');
  const checks = (r.json as { checks?: { check: string; status: string; detail: string; hint?: string }[] } | undefined)?.checks ?? [];
  t.match(checks.find((c) => c.check === `SLA domain ${g2.domid}`), { status: 'fail', detail: new RegExp(`${sla(g2.domid)}/weight`), hint: `xenstore-chmod -r ${sla(g2.domid)} n0 r${g2.domid}` });
  t.match(checks.find((c) => c.check === 'vifqd'), { status: 'ok' });
  t.match(checks.find((c) => c.check === 'line rate uplink0'), { status: 'ok', detail: /4 Mbit\/s/ });
  t.match(checks.find((c) => c.check === 'vifq family'), { status: 'ok' });
  t.comment(checks.map((c) => `${c.status} ${c.check}: ${c.detail}`).join('\n'));
});

interface DoctorCheck { check: string; status: string; detail: string; hint?: string }

/** Parses NDJSON; a line that is not JSON is kept as a string, so a test can show it. */
function ndjson(text: string): unknown[] {
  return text.split('\n').filter((l) => l.trim() !== '').map((l) => {
    try {
      return JSON.parse(l) as unknown;
    } catch {
      return l;
    }
  });
}

t.test('events --json --domain streams that domain\'s release reports until SIGINT; top --once --json: both domains', async (t) => {
  // release reports list only the vifs active in the interval: both guests ping the sink.
  // events runs in the background (job control on: SIGINT is not ignored) while top runs;
  // once a release line came, SIGINT, and the command must exit 0 on its own within 20 s
  const t0 = performance.now();
  const r = await lab.dom0(`set -m
rm -f /tmp/ev.out /tmp/ev.err /tmp/top.out /tmp/top.err
for ip in ${g1.ip} ${g2.ip}; do /lab/gexec $ip 'ping -c 900 -i 0.2 198.18.0.100 </dev/null >/dev/null 2>&1 &'; done
${VIFQ} events --json --domain ${g1.name} >/tmp/ev.out 2>/tmp/ev.err & ep=$!
${VIFQ} top --once --json >/tmp/top.out 2>/tmp/top.err; echo "top rc $?"
for i in $(seq 600); do grep -q '"event":"release"' /tmp/ev.out && break; kill -0 $ep 2>/dev/null || break; sleep 0.2; done
sleep 3
kill -INT $ep
for i in $(seq 100); do kill -0 $ep 2>/dev/null || break; sleep 0.2; done
if kill -0 $ep 2>/dev/null; then echo "events still running 20 s after SIGINT"; kill -9 $ep; fi
wait $ep; echo "events rc $?"`, { timeoutMs: 360_000 });
  timings.push(`events + top --once (in parallel, ${g1.name}'s pings): ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  t.equal(r.code, 0, r.stderr);
  const files = await lab.dom0Ok('cat /tmp/top.out; echo @@; cat /tmp/top.err; echo @@; cat /tmp/ev.out; echo @@; cat /tmp/ev.err');
  const [topOut = '', topErr = '', evOut = '', evErr = ''] = files.split('@@\n');
  t.match(r.stdout, /^top rc 0$/m, `top --once --json: exit 0 ${topErr}`);
  t.notMatch(r.stdout, /still running/, 'events stopped on SIGINT');
  t.match(r.stdout, /^events rc 0$/m, `events: exit 0 after SIGINT ${evErr}`);
  const frames = ndjson(topOut);
  t.equal(frames.length, 1, '--once: one JSON object');
  const frame = frames[0] as { vifs?: StatusVifJson[]; uplinks?: { ifname: string; rateSource: string }[] } | undefined;
  t.same(frame?.vifs?.map((v) => v.domid).sort((a, b) => a - b), [g1.domid, g2.domid].sort((a, b) => a - b), 'one frame with both domains');
  t.same(frame?.vifs?.map((v) => v.name).sort(), [g1.name, g2.name].sort(), 'named');
  t.match(frame?.uplinks, [{ ifname: 'uplink0', rateSource: 'qdisc' }]);
  const events = ndjson(evOut) as { event?: string; at?: string; data?: { intervalMs?: number; vifs?: { domid: number; handle: number }[] } }[];
  t.ok(events.every((e) => typeof e === 'object' && typeof e.event === 'string' && typeof e.at === 'string'), `NDJSON, one {event, at, data} a line: ${evOut.slice(0, 300)}`);
  const releases = events.filter((e) => e.event === 'release');
  t.ok(releases.length >= 1, `at least one release report (${events.length} events: ${[...new Set(events.map((e) => e.event))].join(', ')})`);
  t.ok(releases.every((e) => (e.data?.vifs?.length ?? 0) > 0 && e.data?.vifs?.every((v) => v.domid === g1.domid && v.handle === 0)),
    `--domain ${g1.name}: only vif${g1.domid}.0 in each release (${g2.name} pings too)`);
  t.ok(events.filter((e) => e.event === 'vif-add' || e.event === 'vif-del').every((e) => (e.data as { domid?: number } | undefined)?.domid === g1.domid), 'no other domain\'s vif-add/-del');
});

t.test('limits set while vifqd runs: the kernel takes it, and the answer says vifqd will set it again', async (t) => {
  const r = await vifq(`limits set vif${g2.domid}.0 --bytes 64k --packets 64 --json`);
  t.equal(r.code, 0, r.stderr);
  t.match(r.json, {
    vif: { domid: g2.domid, handle: 0 }, set: { 'limit-bytes': 65536, 'limit-packets': 64 }, vifqdRunning: true,
    warning: new RegExp(`^vifqd is running \\(/run/vifq/control\\.sock\\) and will set vif${g2.domid}\\.0's limits again .*vifq domain set`),
  });
});

t.test('domain reset removes the SLA; vifqd stopped: status is one line, exit 3', async (t) => {
  const r = await vifq(`domain reset ${g1.name} --json`);
  t.equal(r.code, 0, r.stderr);
  t.same(r.json, { domid: g1.domid, name: g1.name, removed: sla(g1.domid), existed: true });
  t.equal((await lab.dom0(`xenstore-read ${sla(g1.domid)}/weight`)).code === 0, false, 'the nodes are gone');
  await lab.dom0Ok('kill $(cat /tmp/vifqd.pid); for i in $(seq 100); do [ -e /tmp/vifqd.rc ] && break; sleep 0.1; done; [ -e /tmp/vifqd.rc ]', { timeoutMs: 60_000 });
  const s = await vifq('status');
  t.equal(s.code, 3);
  t.equal(s.stderr.trim().split('\n').length, 1, s.stderr);
  t.match(s.stderr, /^Error: cannot connect to vifqd at \/run\/vifq\/control\.sock.*vifqd is not running/);
});

t.test('vifq daemon: vifqd in the foreground; status answers; an unknown line rate fails doctor with the fix; SIGTERM: exit 0', async (t) => {
  // --log-level debug: vifqd logs each pass (at debug), which the uplink change below waits for
  const passes = `grep -c '"event":"pass"' ${DAEMON_LOG} 2>/dev/null || true`;
  const t0 = performance.now();
  await lab.dom0Ok(`rm -f ${DAEMON_LOG} /tmp/vifq-daemon.rc /tmp/vifq-daemon.pid
setsid sh -c '${VIFQ} daemon --log-level debug >${DAEMON_LOG} 2>&1 & echo $! >/tmp/vifq-daemon.pid; wait $!; echo $? >/tmp/vifq-daemon.rc' </dev/null >/dev/null 2>&1 &
for i in $(seq 900); do grep -q '"event":"control-listening"' ${DAEMON_LOG} 2>/dev/null && exit 0; [ -e /tmp/vifq-daemon.rc ] && break; sleep 0.2; done
cat ${DAEMON_LOG}; exit 1`, { timeoutMs: 240_000 });
  timings.push(`daemon (until its control socket listens, after its first pass): ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  // uplink0 is a veth: no shaping qdisc once the tbf is gone, and a down veth has no speed
  // (sysfs speed is EINVAL), so the line rate is unknown; vifqd re-reads it on the qdisc and
  // operstate change and passes again
  const moved = await lab.dom0(`n=$(${passes})
tc qdisc del dev uplink0 root && ip link set uplink0 down || exit 2
for i in $(seq 300); do [ "$(${passes})" -gt "$n" ] && exit 0; sleep 0.2; done; exit 1`, { timeoutMs: 120_000 });
  t.equal(moved.code, 0, `vifqd passed again after the uplink change ${moved.stderr}`);
  const s = await vifq('status --json');
  t.equal(s.code, 0, `vifq daemon answers status: ${s.stderr}`);
  const st = s.json as { vifs?: StatusVifJson[]; uplinks?: { ifname: string; rateSource: string; rateDetail: string | null }[] } | undefined;
  t.same(st?.vifs?.map((v) => v.domid).sort((a, b) => a - b), [g1.domid, g2.domid].sort((a, b) => a - b), 'both guests\' vifs');
  t.match(st?.uplinks, [{ ifname: 'uplink0', rateSource: 'unknown-default' }], 'uplink0\'s rate is unknown now');
  const d = await vifq('doctor --json');
  t.equal(d.code, 1, 'doctor: exit 1');
  const checks = (d.json as { checks?: DoctorCheck[]; ok?: boolean } | undefined)?.checks ?? [];
  t.match(checks.find((c) => c.check === 'line rate uplink0'), {
    status: 'fail', detail: /^unknown: vifqd assumes/,
    hint: /^xenstore-write \/local\/domain\/0\/vifq\/uplink\/uplink0\/rate \S+ && xenstore-chmod \/local\/domain\/0\/vifq\/uplink\/uplink0\/rate n0/,
  }, 'the line rate check fails with the command that sets it');
  t.match(checks.find((c) => c.check === 'vifqd'), { status: 'ok', detail: /answers on \/run\/vifq\/control\.sock, 2 vif/ });
  t.comment(checks.map((c) => `${c.status} ${c.check}: ${c.detail}`).join('\n'));
  await lab.dom0Ok('ip link set uplink0 up && /lab/uplink.sh qdisc tbf 4mbit 200 >/dev/null');
  const stop = await lab.dom0('kill -TERM $(cat /tmp/vifq-daemon.pid); for i in $(seq 300); do [ -e /tmp/vifq-daemon.rc ] && break; sleep 0.1; done; cat /tmp/vifq-daemon.rc', { timeoutMs: 60_000 });
  t.equal(stop.stdout.trim(), '0', `SIGTERM: vifq daemon exits 0 ${stop.stderr}`);
  t.match(await lab.dom0Ok(`grep -c '"event":"stopped"' ${DAEMON_LOG} || true`), /^[1-9]/, 'after logging that it stopped');
});

t.test('xen-netback unloaded (the guests destroyed first): doctor fails, naming modprobe', async (t) => {
  for (const n of [1, 2]) {
    const r = await lab.dom0(`/lab/guests.sh destroy ${n}`, { timeoutMs: 120_000 });
    t.equal(r.code, 0, `domu${n} destroyed: ${r.stderr.trim()}`);
  }
  const rm = await unloadNetback(lab);
  t.equal(rm.rc, 0, `rmmod xen_netback: ${rm.stderr}`);
  t.notOk(rm.stillLoaded, 'xen_netback unloaded');
  const d = await vifq('doctor --json');
  t.equal(d.code, 1, 'doctor: exit 1');
  const checks = (d.json as { checks?: DoctorCheck[] } | undefined)?.checks ?? [];
  t.match(checks.find((c) => c.check === 'xen-netback'), { status: 'fail', detail: 'module xen_netback is not loaded', hint: /^modprobe xen-netback/ });
  t.match(checks.find((c) => c.check === 'vifq family'), { status: 'fail', detail: /not registered/, hint: /\S/ });
  for (const c of checks.filter((x) => ['xen hypervisor', 'control domain', 'xenstored', 'node.js'].includes(x.check))) t.equal(c.status, 'ok', `${c.check}: ${c.detail}`);
  t.comment(checks.map((c) => `${c.status} ${c.check}: ${c.detail}`).join('\n'));
  t.comment(`CLI invocations in dom0 (node start included):\n${timings.join('\n')}`);
});
