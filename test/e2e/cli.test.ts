/**
 * The `vifq` CLI in dom0 (one lab boot, two guests, uplink tbf 4 Mbit/s, vifqd started as
 * test/e2e/vifqd.test.ts starts it), every command with --json: `limits` lists both vifs
 * without vifqd's help; `domain set` writes the SLA dom0-owned and guest read-only and `status`
 * shows the new limit within a few seconds; `domain show` gives each value's source and
 * vifqd's limit; a bad value writes nothing; `doctor` on a guest-writable SLA node exits
 * non-zero naming the fix; `domain reset` removes the SLA; vifqd gone: one line, exit 3.
 * Node starts in 10-15 s in the TCG dom0: about ten CLI invocations, each timed.
 * Uses the compiled CLI (/vifq/dist: run `make build` first).
 */
import t from 'tap';
import { Lab, type ExecResult } from '../lab/lab.js';
import { buildVifqModule } from '../lab/vifq.js';

const LOG = '/tmp/vifqd.log';
const VIFQ = 'node /vifq/bin/vifq';

const module = buildVifqModule('cli');
const lab = await Lab.boot({ name: 'cli', guests: 2, netback: module, runTimeoutSec: 3600 });
t.teardown(async () => {
  if (!t.passing()) {
    const r = await lab.dom0(`tail -n 40 ${LOG}`).catch(() => undefined);
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
  t.comment(`CLI invocations in dom0 (node start included):\n${timings.join('\n')}`);
});
