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
import { bulkTrafficThenQuiet, ynlCliDumpVifs } from '../lab/scenarios.js';
import { buildVifqModule, dmesgProblems, dumpVifs, isError, nl, nlBatch, type NlError, type VifInfo } from '../lab/vifq.js';

const module = buildVifqModule('basic');
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
  const le32 = (n: number): string => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b.toString('hex'); };
  const attr = (type: number, payload: string): string => {
    const len = 4 + payload.length / 2;
    const h = Buffer.alloc(4); h.writeUInt16LE(len, 0); h.writeUInt16LE(type, 2);
    return h.toString('hex') + payload + '00'.repeat((4 - (len % 4)) % 4);
  };
  const cases: { name: string; req: unknown[]; code: string; msg: RegExp }[] = [
    { name: 'unknown ifindex', req: ['get', { ifindex: 99999 }], code: 'ENOENT', msg: /no such vif/ },
    { name: 'unknown domid/handle', req: ['get', { domid: 4000, handle: 0 }], code: 'ENOENT', msg: /no such vif/ },
    { name: 'vif-set on an unknown vif', req: ['set', { ifindex: 99999, 'limit-bytes': 1 }], code: 'ENOENT', msg: /no such vif/ },
    { name: 'incomplete selector (domid without handle)', req: ['set', { domid: v1.domid, 'limit-bytes': 1 }], code: 'EINVAL', msg: /\S/ },
    { name: 'nothing to set', req: ['set', { ifindex: ifx }], code: 'EINVAL', msg: /nothing to set/ },
    { name: 'ifindex of the wrong length (2 bytes)', req: ['raw', 'vif-get', attr(1, '0500')], code: 'EINVAL', msg: /invalid attribute length/ },
    { name: 'unknown attribute type 99', req: ['raw', 'vif-get', attr(1, le32(ifx)) + attr(99, le32(1))], code: 'EINVAL', msg: /[Uu]nknown attribute/ },
    { name: 'report-interval-ms 5 (min 10)', req: ['raw', 'config-set', attr(1, le32(5))], code: 'ERANGE', msg: /range/ },
    { name: 'timeout-ms 0 (range 1..30000)', req: ['raw', 'vif-set', attr(1, le32(ifx)) + attr(19, le32(0))], code: 'ERANGE', msg: /range/ },
    { name: 'domid 40000 (max 32751)', req: ['raw', 'vif-get', attr(2, le32(40000)) + attr(3, le32(0))], code: 'ERANGE', msg: /range/ },
    { name: 'priority 7 (not in the enum)', req: ['raw', 'vif-set', attr(1, le32(ifx)) + attr(17, le32(7))], code: 'EINVAL|ERANGE', msg: /\S/ },
  ];
  const control: unknown[][] = [['raw', 'vif-get', attr(1, le32(ifx))], ['get', { ifindex: ifx }]];
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

t.test('UAPI: an unprivileged vif-set and config-set get EPERM, an unprivileged vif-get works', async (t) => {
  const ifx = (await dumpVifs(lab))[0]?.ifindex ?? 0;
  const out = await nlBatch(lab, [['set', { ifindex: ifx, 'limit-bytes': 1000 }], ['config-set', { 'report-interval-ms': 100 }], ['get', { ifindex: ifx }]], { asNobody: true });
  t.equal((out[0] as NlError).error?.code, 'EPERM', 'vif-set as uid 65534: EPERM');
  t.equal((out[1] as NlError).error?.code, 'EPERM', 'config-set as uid 65534: EPERM');
  t.equal((out[2] as VifInfo).ifindex, ifx, 'vif-get as uid 65534 answers (no admin-perm)');
  const v = await nl(lab, `get '{"ifindex":${ifx}}'`) as VifInfo;
  t.equal(v['limit-bytes'], 0, 'the refused vif-set changed nothing');
});
