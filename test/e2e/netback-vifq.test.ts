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
import { buildVifqModule, dmesgProblems, dumpVifs, isError, nl, nlBatch, shq, type NlError, type VifInfo } from '../lab/vifq.js';

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
  // Every guest, at once: TCP (GSO) to the sink through the uplink queue, UDP 1400 B,
  // 40-byte UDP, TCP to dom0's own listener; a packet tap on the bridge meanwhile.
  // Then a background job in the guest waits until its vif is quiet (tx_packets unchanged
  // for 4 s, past the gexec reply, and no TCP connection to :6000 left but TIME_WAIT: a
  // killed nc's socket still drains and retransmits through the full uplink queue) and
  // stores netfront's tx counters in its xenstore data/vifq-tx (xenbus, not the vif).
  // IPv6 off first: the guest kernel's router solicitations (70-byte frames, sent with
  // exponential backoff for as long as no router answers) would land between the
  // guest's snapshot and dom0's dump
  const traffic = `for f in /proc/sys/net/ipv6/conf/*/disable_ipv6; do echo 1 > $f; done 2>/dev/null
timeout 6 nc 198.18.0.100 6000 </dev/zero 2>/dev/null
udpblast 198.18.0.100 9 2 1400 1500 >/dev/null
udpblast 198.18.0.100 9 2 40 3000 >/dev/null
timeout 4 nc 198.18.0.1 6000 </dev/zero 2>/dev/null
(s=/sys/class/net/eth0/statistics; last=x; quiet=0; n=0
 while [ $quiet -lt 4 ] && [ $n -lt 40 ]; do
   sleep 1; n=$((n + 1)); now=$(cat $s/tx_packets)
   if [ "$now" = "$last" ] && ! awk 'NR>1 && $3 ~ /:1770$/ && $4 != "06" {f=1} END {exit !f}' /proc/net/tcp; then quiet=$((quiet + 1)); else quiet=0; fi
   last=$now
 done
 xenstore-write data/vifq-tx "$(cat $s/tx_packets) $(cat $s/tx_bytes)") </dev/null >/dev/null 2>&1 &
echo started`;
  const script = lab.guests.map((g) => `xenstore-rm /local/domain/${g.domid}/data/vifq-tx 2>/dev/null
/lab/gexec ${g.ip} ${shq(traffic)} > /tmp/cnt-${g.n}.out 2>&1 & pids="$pids $!"`).join('\n');
  const r = await lab.dom0(`timeout 40 tcpdump -i xenbr0 -w /dev/null 2>/tmp/tcpdump.err & tp=$!
pids=""
${script}
wait $pids
for d in ${lab.guests.map((g) => g.domid).join(' ')}; do
  for i in $(seq 500); do xenstore-read /local/domain/$d/data/vifq-tx >/dev/null 2>&1 && break; sleep 0.1; done
done
sleep 1
kill $tp 2>/dev/null
for d in ${lab.guests.map((g) => g.domid).join(' ')}; do echo "tx $d $(xenstore-read /local/domain/$d/data/vifq-tx)"; done
cat /tmp/cnt-*.out`, { timeoutMs: 150_000 });
  t.equal(r.code, 0, `traffic ran: ${r.stderr.trim()}`);
  const vifs = await dumpVifs(lab);
  for (const g of lab.guests) {
    const m = new RegExp(`^tx ${g.domid} (\\d+) (\\d+)$`, 'm').exec(r.stdout);
    t.ok(m, `${g.name} stored its netfront counters in xenstore`);
    const v = vifs.find((x) => x.domid === g.domid);
    t.ok(v, `vif${g.domid}.0 in the dump`);
    if (!m || !v) continue;
    t.equal(v['pending-bytes'], 0, `${g.name}: pending bytes 0`);
    t.equal(v['pending-packets'], 0, `${g.name}: pending packets 0`);
    t.equal(v.packets, Number(m[1]), `${g.name}: packets handed (${v.packets}) = netfront tx_packets (${m[1]})`);
    t.equal(v.bytes, Number(m[2]), `${g.name}: bytes handed (${v.bytes}) = netfront tx_bytes (${m[2]})`);
    t.ok(v.packets > 3000, `${g.name}: the bulk traffic went through netback (${v.packets} packets)`);
    const histSum = v.hist.reduce((a, b) => a + b, 0);
    t.equal(histSum, v.packets, `${g.name}: every handed packet was released once (histogram sum ${histSum})`);
    t.comment(`${g.name}: packets ${v.packets} bytes ${v.bytes} released-early ${v['released-early']} mean in flight ${(v['latency-ns'] / v.packets / 1e6).toFixed(2)} ms`);
  }
  t.equal(await dmesgProblems(lab), '', 'no oops/WARN/BUG in dmesg');
});

t.test('UAPI: the kernel\'s own ynl CLI dumps the vifs', async (t) => {
  const r = await lab.dom0(`env LD_LIBRARY_PATH=/mnt/hostusr/lib/x86_64-linux-gnu PYTHONHOME=/mnt/hostusr \
    /mnt/hostusr/bin/python3.11 /vifq/build/ynl/linux-source-6.12/tools/net/ynl/cli.py --no-schema \
    --spec /vifq/kernel-patch/vifq.yaml --dump vif-get`, { timeoutMs: 120_000 });
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
