/**
 * The lab's second kernel: Debian's 6.12 (pinned in kernels.conf) boots as dom0
 * and as a PV guest, with dom0 running the 6.12 vifq series (kernel-patch/6.12:
 * ubuf_info_ops, split genl ops as ynl-gen-c.py generates them). The same checks
 * as on 6.1, one boot: traffic intact with limits unset, exact accounting after
 * mixed bulk traffic, a byte limit bounds pending and cuts a victim's RTT, the
 * UAPI (6.12's own ynl CLI, EPERM, EINVAL/ENOENT with extack), and xl destroy
 * with packets in flight followed by a clean unload.
 */
import t from 'tap';
import { Lab } from '../lab/lab.js';
import { md5Traffic } from '../lab/traffic.js';
import { acctEntriesReadBack, ensureYnlCli, bulkTrafficThenQuiet, destroyWhileFlooding, floodPhase, overRangeLimitRequests, unloadNetback, ynlCliDumpVifs, type PendingSamples } from '../lab/scenarios.js';
import { dumpResumesByIfindex, pausedPeerCannotStall } from '../lab/kernel-cases.js';
import { buildVifqModule, dmesgProblems, dumpVifs, ifindexOf, isError, nl, nlBatch, percentile, type NlError, type VifInfo } from '../lab/vifq.js';

const LIMIT = 16384;
/** largest frame of the flood: 1400 B of UDP payload + UDP/IP/Ethernet headers */
const FLOOD_FRAME = 1400 + 8 + 20 + 14;
const DESTROY_ROUNDS = 3;

const module = buildVifqModule('6.12', '6.12');
ensureYnlCli(); // the kernel's ynl cli.py, run in dom0 below
const lab = await Lab.boot({ name: 'kernel-6.12', guests: 3, kernel: '6.12', netback: module });
t.teardown(() => lab.close({ collect: !t.passing() }));

const g1 = lab.guestInfo(1);
const g2 = lab.guestInfo(2);
const g3 = lab.guestInfo(3);

t.test('dom0 and the guests run the pinned 6.12 kernel, dom0 with the 6.12 vifq netback', async (t) => {
  t.match(await lab.dom0Ok('uname -r'), /^6\.12\.\d+\+deb12-amd64/);
  t.match((await lab.guest(1, 'uname -r')).stdout, /^6\.12\.\d+\+deb12-amd64/);
  t.match(await lab.dom0Ok('cat /sys/module/xen_netback/taint'), /O/, 'xen_netback is the out-of-tree module');
  const vifs = await dumpVifs(lab);
  t.same(vifs.map((v) => v.ifname).sort(), lab.guests.map((g) => `vif${g.domid}.0`).sort(), 'vif-get dump lists vif<domid>.0 of every guest');
  for (const v of vifs) t.same([v['limit-bytes'], v['limit-packets'], v.priority], [0, 0, 'high'], `${v.ifname}: no limits, high priority by default`);
});

t.test('limits unset: md5-checked traffic both ways through the 6.12 netback', async (t) => {
  const r = await md5Traffic(lab, 1, 4);
  t.equal(r.toGuest.got, r.toGuest.want, 'dom0 → guest data intact');
  t.equal(r.fromGuest.got, r.fromGuest.want, 'guest → dom0 data intact');
});

t.test('after bulk traffic pending is 0 and totals equal what each guest sent', async (t) => {
  await lab.dom0Ok('/lab/uplink.sh qdisc tbf 4mbit 200 >/dev/null');
  const r = await bulkTrafficThenQuiet(lab);
  t.equal(r.code, 0, `traffic ran: ${r.stderr.trim()}`);
  const vifs = await dumpVifs(lab);
  for (const g of lab.guests) {
    const nf = r.netfront.get(g.domid);
    const v = vifs.find((x) => x.domid === g.domid);
    t.ok(nf && v, `${g.name}: netfront counters stored and vif${g.domid}.0 in the dump`);
    if (!nf || !v) continue;
    t.same([v['pending-bytes'], v['pending-packets']], [0, 0], `${g.name}: pending bytes and packets 0`);
    t.same([v.packets, v.bytes], [nf.packets, nf.bytes], `${g.name}: handed ${v.packets} packets / ${v.bytes} bytes = netfront's ${nf.packets} / ${nf.bytes}`);
    t.ok(v.packets > 1000, `${g.name}: the bulk traffic went through netback (${v.packets} packets)`);
    t.equal(v.hist.reduce((a, b) => a + b, 0), v.packets, `${g.name}: every handed packet was released once`);
  }
  t.equal(await dmesgProblems(lab), '', 'no oops/WARN/BUG in dmesg');
});

t.test('limit-bytes bounds pending bytes and cuts the victim\'s RTT', async (t) => {
  const if2 = await ifindexOf(lab, g2.domid);
  const if3 = await ifindexOf(lab, g3.domid);
  const phase = () => floodPhase(lab, { victim: g1, floods: [g2, g3], sample: [if2, if3] });
  const open = await phase();
  const o2 = open.samples[String(if2)] as PendingSamples;
  t.ok(o2.maxPendingBytes > LIMIT, `unlimited: the flood keeps more than ${LIMIT} B pending (${o2.maxPendingBytes})`);
  const set = await nlBatch(lab, [['set', { ifindex: if2, 'limit-bytes': LIMIT }], ['set', { ifindex: if3, 'limit-bytes': LIMIT }]]);
  t.same(set, [{ ok: true }, { ok: true }], `limit-bytes ${LIMIT} set on both flooding vifs`);
  const lim = await phase();
  const p50o = percentile(open.rtt, 50);
  const p50l = percentile(lim.rtt, 50);
  t.comment(`6.12: victim RTT p50/p99 unlimited ${p50o.toFixed(1)}/${percentile(open.rtt, 99).toFixed(1)} ms, limited ${p50l.toFixed(1)}/${percentile(lim.rtt, 99).toFixed(1)} ms; pending max unlimited ${o2.maxPendingBytes} B`);
  for (const ifx of [if2, if3]) {
    const s = lim.samples[String(ifx)] as PendingSamples;
    t.comment(`6.12 limit ${LIMIT}: ifindex ${ifx} pending max ${s.maxPendingBytes} B, ${s.nonZero}/${s.samples} samples > 0`);
    t.ok(s.samples >= 20 && s.nonZero >= s.samples / 4, `ifindex ${ifx}: sampled ${s.samples} times, pending > 0 in ${s.nonZero}`);
    t.ok(s.maxPendingBytes <= LIMIT + FLOOD_FRAME, `ifindex ${ifx}: pending max ${s.maxPendingBytes} <= limit ${LIMIT} + one ${FLOOD_FRAME}-byte frame`);
  }
  t.ok((lim.after.tx_throttle_events ?? 0) > (lim.before.tx_throttle_events ?? 0), 'the flooding vif stopped at its limit (throttle events)');
  t.ok(lim.rtt.length >= 40 && p50l < 0.6 * p50o, `victim RTT p50 drops: ${p50l.toFixed(1)} ms limited vs ${p50o.toFixed(1)} ms unlimited (${lim.rtt.length} replies)`);
  const clear = await nlBatch(lab, [['set', { ifindex: if2, 'limit-bytes': 0 }], ['set', { ifindex: if3, 'limit-bytes': 0 }]]);
  t.same(clear, [{ ok: true }, { ok: true }], 'limits cleared');
});

t.test('UAPI on 6.12: the ynl CLI dumps vifs, unprivileged vif-set gets EPERM, bad requests get extack', async (t) => {
  const cli = await ynlCliDumpVifs(lab);
  t.equal(cli.code, 0, `cli.py exit 0: ${cli.stderr.trim().slice(-300)}`);
  for (const g of lab.guests) t.match(cli.stdout, new RegExp(`'ifname': 'vif${g.domid}\\.0'`), `cli.py --dump vif-get shows vif${g.domid}.0`);
  const ifx = await ifindexOf(lab, g1.domid);
  const asNobody = await nlBatch(lab, [['set', { ifindex: ifx, 'limit-bytes': 1000 }], ['get', { ifindex: ifx }]], { asNobody: true });
  t.equal((asNobody[0] as NlError).error?.code, 'EPERM', 'vif-set as uid 65534: EPERM');
  t.equal((asNobody[1] as VifInfo).ifindex, ifx, 'vif-get as uid 65534 answers');
  const over = overRangeLimitRequests(ifx);
  const bad = await nlBatch(lab, [['get', { ifindex: 99999 }], ['set', { ifindex: ifx }], ['get', { ifindex: ifx }], ...over.map((o) => o.request)]);
  over.forEach(({ what }, i) => {
    const e = bad[3 + i] as NlError;
    t.ok(isError(e) && e.error.code === 'ERANGE' && /range/.test(e.error.extack?.message ?? ''), `${what}: ERANGE with extack (${JSON.stringify(e.error ?? e)})`);
  });
  const nobody = await nl(lab, 'listen 1 --as-nobody');
  t.ok(isError(nobody) && /\bEPERM\b/.test(`${nobody.error.code ?? ''} ${nobody.error.message ?? ''}`), `joining the vifq groups as uid 65534: EPERM (${JSON.stringify(nobody)})`);
  const e0 = bad[0] as NlError;
  const e1 = bad[1] as NlError;
  t.ok(isError(e0) && e0.error.code === 'ENOENT' && /no such vif/.test(e0.error.extack?.message ?? ''), `unknown ifindex: ${JSON.stringify(e0.error ?? e0)}`);
  t.ok(isError(e1) && e1.error.code === 'EINVAL' && /nothing to set/.test(e1.error.extack?.message ?? ''), `vif-set without attributes: ${JSON.stringify(e1.error ?? e1)}`);
  t.equal((bad[2] as VifInfo)['limit-bytes'], 0, 'refused requests changed nothing');
});

t.test('6.12: a paused guest cannot stall a limited peer that sends to it: the peer\'s pings to the sink go on', async (t) => {
  await pausedPeerCannotStall(t, lab, g1, g2, '6.12: ');
});

t.test('6.12: a dump resumes by ifindex: a vif detached mid-dump neither hides nor repeats another, and the next part says so', async (t) => {
  await dumpResumesByIfindex(t, lab, 1, 9, '6.12: ');
});

t.test(`xl destroy of a flooding guest, ${DESTROY_ROUNDS} times, then a clean unload`, async (t) => {
  await lab.dom0Ok('/lab/uplink.sh qdisc tbf 1mbit 200 >/dev/null');
  const inFlight: number[] = [];
  for (let i = 1; i <= DESTROY_ROUNDS; i++) {
    if (i > 1) {
      try { await lab.createGuest(3); } catch (e) { t.fail(`round ${i}: ${(e as Error).message}`); break; }
    }
    const domid = lab.guestInfo(3).domid;
    const r = await destroyWhileFlooding(lab, 3);
    if (r.code !== 0) { t.fail(`round ${i}: destroy failed (${r.code}): ${r.stderr.trim()}`); break; }
    inFlight.push(r.pending);
    t.ok(r.netdevsLeft === 0 && !r.backendLeft, `round ${i}: no vif${domid}.* netdev or backend left`);
  }
  t.comment(`6.12: packets in flight at xl destroy: ${inFlight.join(' ')}`);
  t.ok(inFlight.length === DESTROY_ROUNDS && inFlight.filter((p) => p > 0).length >= DESTROY_ROUNDS - 1, `packets were in flight at (nearly) every destroy: ${inFlight.join(' ')}`);
  const d = await lab.dom0('/lab/guests.sh destroy 1 && /lab/guests.sh destroy 2', { timeoutMs: 120_000 });
  t.equal(d.code, 0, `the other guests destroyed: ${d.stderr.trim()}`);
  t.same(await dumpVifs(lab), [], 'vif-get dump is empty');
  const rm = await unloadNetback(lab);
  t.equal(rm.rc, 0, `rmmod xen_netback exits 0: ${rm.stderr}`);
  t.notOk(rm.stillLoaded, 'xen_netback is no longer loaded');
  t.equal(await dmesgProblems(lab), '', 'no oops/WARN/BUG in dmesg after the unload');
  const r = await acctEntriesReadBack(lab);
  t.equal(r.code, 0, `insmod steps ran (exit ${r.code}: 3/4/6 insmod or rmmod failed, 5 a junk value was accepted): ${r.stderr}`);
  t.equal(r.small, 64, `tx_acct_entries=1 reads back as the NAPI budget, 64 (${r.stdout.replace(/\n/g, ', ')})`);
  t.equal(r.deflt, 1024, 'without the parameter the pool is 4 * MAX_PENDING_REQS (1024)');
});
