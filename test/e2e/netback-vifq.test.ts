/**
 * The patched netback (kernel-patch/6.1, all five patches) in the lab, limits unset:
 * traffic is intact, the per-vif accounting is exact after mixed bulk traffic
 * (GSO TCP, UDP, small packets, dom0-local delivery, a packet tap), and the
 * vifq genl family's UAPI behaves as documented (ynl CLI, EPERM, EINVAL, ERANGE,
 * ENOENT with extack).
 */
import t from 'tap';
import { Lab } from '../lab/lab.js';
import { md5Traffic } from '../lab/traffic.js';
import { YNL_CLI, acctEntriesReadBack, ensureYnlCli, bulkTrafficThenQuiet, le32, nlAttr, overRangeLimitRequests, parseCliReportEntries, unloadNetback, ynlCliDumpVifs } from '../lab/scenarios.js';
import { dumpResumesByIfindex, pausedPeerCannotStall } from '../lab/kernel-cases.js';
import { DRIVER, buildVifqModule, dmesgProblems, dumpVifs, isError, nl, nlBatch, type NlError, type VifInfo } from '../lab/vifq.js';

const module = buildVifqModule('basic');
ensureYnlCli(); // the kernel's ynl cli.py, run in dom0 below
const lab = await Lab.boot({ name: 'netback-vifq', guests: 3, netback: module });
t.teardown(() => lab.close({ collect: !t.passing() }));

t.test('the patched module is loaded and the vifq family lists the three vifs', async (t) => {
  const r = await lab.dom0Ok('cat /sys/module/xen_netback/taint; md5sum < /lab/xen-netback.ko; /lab/uplink.sh qdisc tbf 4mbit 200 >/dev/null');
  t.match(r, /O/, 'xen_netback is the out-of-tree module');
  const vifs = await dumpVifs(lab);
  t.same(vifs.map((v) => v.ifname).sort(), lab.guests.map((g) => `vif${g.domid}.0`).sort(), 'vif-get dump lists vif<domid>.0 of every guest');
  for (const v of vifs) t.same([v['limit-bytes'], v['limit-packets'], v.priority], [0, 0, 'high'], `${v.ifname}: no limits, high priority by default`);
});

t.test('limits unset: md5-checked traffic in both directions for every guest', async (t) => {
  for (const g of lab.guests) {
    const r = await md5Traffic(lab, g.n, 2);
    t.match(r.toGuest.want, /^[0-9a-f]{32}$/, `${g.name}: dom0 blob hashed`);
    t.equal(r.toGuest.got, r.toGuest.want, `${g.name}: dom0 → guest data intact`);
    t.equal(r.fromGuest.got, r.fromGuest.want, `${g.name}: guest → dom0 data intact`);
  }
});

t.test('after bulk traffic pending is 0 and totals equal what each guest sent', async (t) => {
  // TCP with GSO, UDP 1400 B and 40 B, a dom0-local receiver and a tcpdump tap, every guest at once
  const r = await bulkTrafficThenQuiet(lab);
  t.equal(r.code, 0, `traffic ran: ${r.stderr.trim()}`);
  const vifs = await dumpVifs(lab);
  for (const g of lab.guests) {
    const nf = r.netfront.get(g.domid);
    t.ok(nf, `${g.name} stored its netfront counters in xenstore`);
    const v = vifs.find((x) => x.domid === g.domid);
    t.ok(v, `vif${g.domid}.0 in the dump`);
    if (!nf || !v) continue;
    t.equal(v['pending-bytes'], 0, `${g.name}: pending bytes 0`);
    t.equal(v['pending-packets'], 0, `${g.name}: pending packets 0`);
    t.equal(v.packets, nf.packets, `${g.name}: packets handed (${v.packets}) = netfront tx_packets (${nf.packets})`);
    t.equal(v.bytes, nf.bytes, `${g.name}: bytes handed (${v.bytes}) = netfront tx_bytes (${nf.bytes})`);
    t.ok(v.packets > 1000, `${g.name}: the bulk traffic went through netback (${v.packets} packets)`);
    const histSum = v.hist.reduce((a, b) => a + b, 0);
    t.equal(histSum, v.packets, `${g.name}: every handed packet was released once (histogram sum ${histSum})`);
    t.comment(`${g.name}: packets ${v.packets} bytes ${v.bytes} released-early ${v['released-early']} mean in flight ${(v['latency-ns'] / v.packets / 1e6).toFixed(2)} ms`);
  }
  t.equal(await dmesgProblems(lab), '', 'no oops/WARN/BUG in dmesg');
});

t.test('release reports carry cumulative counters: a listener that joins late still gets the vif\'s totals', async (t) => {
  // The bulk traffic above happened before anybody listened. The kernel's own cli.py
  // subscribes (an independent client: the project's client turns reports into deltas), the
  // guest pings after cli.py joined and the kernel's first interval set its baseline; cli.py
  // prints what it heard at the end.
  const g = lab.guests[0];
  if (!g) throw new Error('no guest');
  const before = (await dumpVifs(lab)).find((x) => x.domid === g.domid);
  // cli.py has joined once a generic netlink socket (protocol 16) shows a group in /proc/net/netlink
  const r = await lab.dom0(`${YNL_CLI} --subscribe reports --sleep 12 > /tmp/rep.txt 2>&1 & l=$!
for i in $(seq 1200); do awk '$2 == 16 && $4 != "00000000" {f = 1} END {exit !f}' /proc/net/netlink && break; sleep 0.1; done
sleep 1.5; /lab/gexec ${g.ip} 'ping -c 5 -i 0.2 -W 2 198.18.0.100' >/dev/null; wait $l; cat /tmp/rep.txt`, { timeoutMs: 240_000 });
  const after = (await dumpVifs(lab)).find((x) => x.domid === g.domid);
  const entries = parseCliReportEntries(r.stdout).filter((e) => e.domid === g.domid);
  t.ok(entries.length > 0, `${g.name} is in a release report`);
  if (entries.length === 0) t.comment(r.stdout.slice(0, 3000));
  const last = entries[entries.length - 1];
  if (!last || !before || !after) return;
  t.ok(before.packets > 1000, `before the listener joined the vif had sent ${before.packets} packets (the bulk traffic)`);
  // deltas would be the pings' few packets; cumulative counters include all that went before
  t.ok(last.packets >= before.packets + 5 && last.packets <= after.packets,
    `the last report's released packets (${last.packets}) are the vif's total: ≥ ${before.packets} before + 5 pings, ≤ ${after.packets} after`);
  t.ok(last.bytes >= before.bytes && last.bytes <= after.bytes, `released bytes ${last.bytes} between the totals before (${before.bytes}) and after (${after.bytes})`);
});

t.test('UAPI: the kernel\'s own ynl CLI dumps the vifs', async (t) => {
  const r = await ynlCliDumpVifs(lab);
  t.equal(r.code, 0, `cli.py exit 0: ${r.stderr.trim().slice(-300)}`);
  for (const g of lab.guests) {
    t.match(r.stdout, new RegExp(`'ifname': 'vif${g.domid}\\.0'`), `cli.py --dump vif-get shows vif${g.domid}.0`);
  }
  t.match(r.stdout, /'pending-bytes': 0/, 'with the counters decoded from the spec');
});

t.test('UAPI: errors with extack', async (t) => {
  const v1 = (await dumpVifs(lab)).find((v) => v.domid === lab.guests[0]?.domid) as VifInfo;
  const ifx = v1.ifindex;
  const cases: { name: string; req: unknown[]; code: string; msg: RegExp }[] = [
    { name: 'unknown ifindex', req: ['get', { ifindex: 99999 }], code: 'ENOENT', msg: /no such vif/ },
    { name: 'unknown domid/handle', req: ['get', { domid: 4000, handle: 0 }], code: 'ENOENT', msg: /no such vif/ },
    { name: 'vif-set on an unknown vif', req: ['set', { ifindex: 99999, 'limit-bytes': 1 }], code: 'ENOENT', msg: /no such vif/ },
    { name: 'incomplete selector (domid without handle)', req: ['set', { domid: v1.domid, 'limit-bytes': 1 }], code: 'EINVAL', msg: /\S/ },
    { name: 'nothing to set', req: ['set', { ifindex: ifx }], code: 'EINVAL', msg: /nothing to set/ },
    { name: 'ifindex of the wrong length (2 bytes)', req: ['raw', 'vif-get', nlAttr(1, '0500')], code: 'EINVAL', msg: /invalid attribute length/ },
    { name: 'unknown attribute type 99', req: ['raw', 'vif-get', nlAttr(1, le32(ifx)) + nlAttr(99, le32(1))], code: 'EINVAL', msg: /[Uu]nknown attribute/ },
    { name: 'report-interval-ms 5 (min 10)', req: ['raw', 'config-set', nlAttr(1, le32(5))], code: 'ERANGE', msg: /range/ },
    { name: 'timeout-ms 0 (range 1..30000)', req: ['raw', 'vif-set', nlAttr(1, le32(ifx)) + nlAttr(19, le32(0))], code: 'ERANGE', msg: /range/ },
    { name: 'domid 40000 (max 32751)', req: ['raw', 'vif-get', nlAttr(2, le32(40000)) + nlAttr(3, le32(0))], code: 'ERANGE', msg: /range/ },
    { name: 'priority 7 (not in the enum)', req: ['raw', 'vif-set', nlAttr(1, le32(ifx)) + nlAttr(17, le32(7))], code: 'EINVAL|ERANGE', msg: /\S/ },
  ];
  const control: unknown[][] = [['raw', 'vif-get', nlAttr(1, le32(ifx))], ['get', { ifindex: ifx }]];
  const out = await nlBatch(lab, [...cases.map((c) => c.req), ...control]);
  cases.forEach((c, i) => {
    const o = out[i];
    t.ok(isError(o), `${c.name}: rejected`);
    if (!isError(o)) return;
    t.match(o.error.code, new RegExp(`^(${c.code})$`), `${c.name}: ${o.error.code}`);
    t.match(o.error.extack?.message ?? '', c.msg, `${c.name}: extack "${o.error.extack?.message ?? ''}"`);
    if (o.error.code === 'ERANGE') t.equal(o.error.extack?.policy, true, `${c.name}: the extack carries the policy (range)`);
  });
  t.same(out[cases.length], { ok: true, replies: 1 }, 'control: the same raw encoding with a valid ifindex is accepted');
  t.equal((out[cases.length + 1] as VifInfo).ifindex, ifx, 'control: vif-get by ifindex answers');
  const after = await nlBatch(lab, [['get', { ifindex: ifx }], ['config-get']]);
  t.same([(after[0] as VifInfo)['timeout-ms'], (after[0] as VifInfo).priority, (after[0] as VifInfo)['limit-bytes']], [100, 'high', 0], 'rejected requests changed nothing');
  t.same(after[1], { 'report-interval-ms': 1000 }, 'report interval unchanged');
});

t.test('UAPI: a limit of 2^31 or more is refused with ERANGE (it froze the vif\'s TX); the largest one lets it send', async (t) => {
  const g = lab.guests[0];
  if (!g) throw new Error('no guest');
  const ifx = (await dumpVifs(lab)).find((v) => v.domid === g.domid)?.ifindex ?? 0;
  // raw requests: the project's codec refuses these before they reach the kernel (checked last)
  const over = overRangeLimitRequests(ifx);
  const out = await nlBatch(lab, [
    ...over.map((o) => o.request),
    ['set', { ifindex: ifx, 'limit-bytes': 2147483647, 'limit-packets': 2147483647 }],
    ['get', { ifindex: ifx }],
    ['set', { ifindex: ifx, 'limit-packets': 4294967295 }],
  ]);
  for (const [i, { what }] of over.entries()) {
    const o = out[i];
    t.ok(isError(o), `${what}: refused by the kernel`);
    if (!isError(o)) continue;
    t.equal(o.error.code, 'ERANGE', `${what}: ERANGE`);
    t.match(o.error.extack?.message ?? '', /range/, `${what}: extack "${o.error.extack?.message ?? ''}"`);
  }
  t.same(out[2], { ok: true }, 'limits of 2^31 - 1 are accepted');
  const v = out[3] as VifInfo;
  t.same([v['limit-bytes'], v['limit-packets']], [2147483647, 2147483647], 'and read back');
  t.ok(isError(out[4]) && out[4].error.code === undefined, `the codec refuses 4294967295 from the spec's checks before sending: ${JSON.stringify(out[4])}`);
  // with the largest limits the vif is far under them: the guest's packets flow
  const ping = await lab.guest(g.n, 'ping -c 5 -i 0.2 -W 2 198.18.0.100');
  t.match(ping.stdout, / 0% packet loss/, `${g.name} pings the sink with limits 2^31 - 1: ${ping.stdout.trim().split('\n').slice(-2).join(' ')}`);
  t.same(await nlBatch(lab, [['set', { ifindex: ifx, 'limit-bytes': 0, 'limit-packets': 0 }]]), [{ ok: true }], 'limits back to none');
});

t.test('UAPI: only CAP_NET_ADMIN joins the reports and config groups', async (t) => {
  const nobody = await nl(lab, 'listen 1 --as-nobody');
  t.ok(isError(nobody), `uid 65534 cannot join: ${JSON.stringify(nobody)}`);
  if (isError(nobody)) t.match(`${nobody.error.code ?? ''} ${nobody.error.message ?? ''}`, /\bEPERM\b/, 'joining as uid 65534: EPERM');
  // (root joins both: the release report test above listens as root)
});

t.test('UAPI: an unprivileged vif-set and config-set get EPERM, an unprivileged vif-get works', async (t) => {
  const ifx = (await dumpVifs(lab))[0]?.ifindex ?? 0;
  const out = await nlBatch(lab, [['set', { ifindex: ifx, 'limit-bytes': 1000 }], ['config-set', { 'report-interval-ms': 100 }], ['get', { ifindex: ifx }]], { asNobody: true });
  t.equal((out[0] as NlError).error?.code, 'EPERM', 'vif-set as uid 65534: EPERM');
  t.equal((out[1] as NlError).error?.code, 'EPERM', 'config-set as uid 65534: EPERM');
  t.equal((out[2] as VifInfo).ifindex, ifx, 'vif-get as uid 65534 answers (no admin-perm)');
  const v = await nl(lab, `get '{"ifindex":${ifx}}'`) as VifInfo;
  t.equal(v['limit-bytes'], 0, 'the refused vif-set changed nothing');
});

t.test('a paused guest cannot stall a limited peer that sends to it: the peer\'s pings to the sink go on', async (t) => {
  const [from, to] = lab.guests;
  if (!from || !to) throw new Error('two guests needed');
  await pausedPeerCannotStall(t, lab, from, to);
});

t.test('a dump resumes by ifindex: a vif detached mid-dump neither hides nor repeats another, and the next part says so', async (t) => {
  await dumpResumesByIfindex(t, lab, 1, 9);
});

t.test('the module reloads while a client is open: the next listVifs() works without a new client', async (t) => {
  // last in this file: every vif holds a reference on the module, so the guests go first
  for (const g of lab.guests) {
    const d = await lab.dom0(`/lab/guests.sh destroy ${g.n}`, { timeoutMs: 120_000 });
    t.equal(d.code, 0, `${g.name} destroyed: ${d.stderr.trim()}`);
  }
  const before = await dumpVifs(lab);
  const out = await nl(lab, 'reload-check /lab/xen-netback.ko', 240_000);
  if (isError(out)) {
    t.fail(`reload-check failed: ${JSON.stringify(out.error)}`);
    return;
  }
  const r = out as { before: number; after: number; events: string[]; familyId: number };
  t.equal(r.before, before.length, `the client listed the ${before.length} vifs before the reload`);
  t.same(r.events.filter((e) => e === 'family-gone' || e === 'family-new'), ['family-gone', 'family-new'],
    `the client saw the family go and come back through nlctrl (events: ${r.events.join(', ')})`);
  t.type(r.after, 'number', `listVifs() on the same client answered after the reload (${r.after} vifs, family id ${r.familyId})`);
  t.equal(await dmesgProblems(lab), '', 'no oops/WARN/BUG in dmesg after the reload');
});

t.test('tx_acct_entries below the NAPI budget is raised to it (a smaller pool could starve a queue for good)', async (t) => {
  // after the reload case: no guest is left, so the module can go
  const rm = await unloadNetback(lab);
  t.equal(rm.rc, 0, `rmmod xen_netback: ${rm.stderr}`);
  const r = await acctEntriesReadBack(lab);
  t.equal(r.code, 0, `insmod steps ran (exit ${r.code}: 3/4/6 insmod or rmmod failed, 5 a junk value was accepted): ${r.stderr}`);
  t.equal(r.small, 64, `tx_acct_entries=1 reads back as the NAPI budget, 64 (${r.stdout.replace(/\n/g, ', ')})`);
  t.equal(r.deflt, 1024, 'without the parameter the pool is 4 * MAX_PENDING_REQS (1024)');
  t.equal(await dmesgProblems(lab), '', 'no oops/WARN/BUG in dmesg');
});
