/**
 * The patched netback's limits and low-priority class under load, in the lab
 * (uplink queue: tbf 4mbit, 200 ms). domu1 is the victim (pings the sink at
 * 10/s), domu2 and domu3 flood the sink with 1400-byte UDP datagrams.
 *
 * Why a UDP flood and not TCP: a guest's TCP sender is bounded by TCP small
 * queues (a socket keeps ~2 GSO frames not yet completed by netfront, and
 * netfront completes them only when netback's zerocopy callback runs, i.e. when
 * the host releases them), so one TCP flow keeps only ~30 KB pending and cannot
 * fill the uplink queue; the flood keeps it full.
 */
import t from 'tap';
import { Lab } from '../lab/lab.js';
import { buildVifqModule, dmesgProblems, ethtoolVq, ifindexOf, nlBatch, percentile, pingTimes } from '../lab/vifq.js';
import { floodPhase, type FloodPhase, type PendingSamples } from '../lab/scenarios.js';

const LIMIT = 16384;
/** largest frame of the flood: 1400 B of UDP payload + UDP/IP/Ethernet headers */
const FLOOD_FRAME = 1400 + 8 + 20 + 14;

const module = buildVifqModule('limits');
const lab = await Lab.boot({ name: 'netback-limits', guests: 3, netback: module });
t.teardown(() => lab.close({ collect: !t.passing() }));

const g1 = lab.guestInfo(1);
const g2 = lab.guestInfo(2);
const g3 = lab.guestInfo(3);
await lab.dom0Ok('/lab/uplink.sh qdisc tbf 4mbit 200');
const if2 = await ifindexOf(lab, g2.domid);
const if3 = await ifindexOf(lab, g3.domid);

const noisyPhase = (): Promise<FloodPhase> => floodPhase(lab, { victim: g1, floods: [g2, g3], sample: [if2, if3] });

const fmt = (rtt: number[]): string => `p50 ${percentile(rtt, 50).toFixed(1)} ms, p99 ${percentile(rtt, 99).toFixed(1)} ms (${rtt.length} replies)`;

t.test('limit-bytes bounds pending bytes and cuts the victim\'s RTT', async (t) => {
  const idle = pingTimes((await lab.guest(1, 'ping -i 0.1 -c 30 -W 3 198.18.0.100', { timeoutMs: 60_000 })).stdout);
  t.comment(`idle RTT domu1 → sink: ${fmt(idle)}`);

  const open = await noisyPhase();
  const o2 = open.samples[String(if2)] as PendingSamples;
  const o3 = open.samples[String(if3)] as PendingSamples;
  t.comment(`unlimited: RTT ${fmt(open.rtt)}; vif${g2.domid}.0 pending max ${o2.maxPendingBytes} B (median ${o2.medianNonZeroBytes}, ${o2.nonZero}/${o2.samples} samples > 0), vif${g3.domid}.0 max ${o3.maxPendingBytes} B`);
  t.ok(open.rtt.length >= 40, `unlimited: the victim got ${open.rtt.length} ping replies`);
  t.ok(o2.maxPendingBytes > LIMIT, `unlimited: the flood keeps more than ${LIMIT} B pending (${o2.maxPendingBytes})`);

  const set = await nlBatch(lab, [['set', { ifindex: if2, 'limit-bytes': LIMIT }], ['set', { ifindex: if3, 'limit-bytes': LIMIT }], ['get', { ifindex: if2 }]]);
  t.same(set.slice(0, 2), [{ ok: true }, { ok: true }], `limit-bytes ${LIMIT} set on vif${g2.domid}.0 and vif${g3.domid}.0`);
  t.equal((set[2] as { 'limit-bytes': number })['limit-bytes'], LIMIT, 'vif-get shows the limit');

  const lim = await noisyPhase();
  const l2 = lim.samples[String(if2)] as PendingSamples;
  const l3 = lim.samples[String(if3)] as PendingSamples;
  t.comment(`limit ${LIMIT}: RTT ${fmt(lim.rtt)}; vif${g2.domid}.0 pending max ${l2.maxPendingBytes} B (median ${l2.medianNonZeroBytes}, ${l2.nonZero}/${l2.samples} samples > 0), vif${g3.domid}.0 max ${l3.maxPendingBytes} B (${l3.nonZero}/${l3.samples} > 0)`);
  const throttles = (lim.after.tx_throttle_events ?? 0) - (lim.before.tx_throttle_events ?? 0);
  t.comment(`limit ${LIMIT}: vif${g2.domid}.0 throttle events +${throttles}, throttled ${(((lim.after.tx_throttled_ns ?? 0) - (lim.before.tx_throttled_ns ?? 0)) / 1e9).toFixed(1)} s, handed +${(lim.after.tx_handed_packets ?? 0) - (lim.before.tx_handed_packets ?? 0)} packets (unlimited: +${(open.after.tx_handed_packets ?? 0) - (open.before.tx_handed_packets ?? 0)})`);
  for (const [name, s] of [[`vif${g2.domid}.0`, l2], [`vif${g3.domid}.0`, l3]] as const) {
    t.ok(s.samples >= 20, `${name}: ${s.samples} samples (at least 20: a loaded machine samples less often)`);
    t.ok(s.nonZero >= s.samples / 4, `${name}: pending > 0 in ${s.nonZero}/${s.samples} samples (the flood keeps the vif at its limit)`);
    t.ok(s.maxPendingBytes <= LIMIT + FLOOD_FRAME, `${name}: pending max ${s.maxPendingBytes} <= limit ${LIMIT} + one ${FLOOD_FRAME}-byte frame`);
    t.ok(s.maxPendingBytes > LIMIT / 2, `${name}: pending reaches the limit's range (${s.maxPendingBytes})`);
  }
  t.ok(throttles > 0, `vif${g2.domid}.0 stopped at its limit (${throttles} throttle events)`);
  t.ok(lim.rtt.length >= 40, `limited: the victim got ${lim.rtt.length} ping replies`);
  const p50o = percentile(open.rtt, 50);
  const p50l = percentile(lim.rtt, 50);
  t.ok(p50l < 0.6 * p50o, `victim RTT p50 drops: ${p50l.toFixed(1)} ms limited vs ${p50o.toFixed(1)} ms unlimited`);

  const clear = await nlBatch(lab, [['set', { ifindex: if2, 'limit-bytes': 0 }], ['set', { ifindex: if3, 'limit-bytes': 0 }]]);
  t.same(clear, [{ ok: true }, { ok: true }], 'limits cleared');
});

t.test('a low-priority vif is held back by a busy high-priority peer, sends on timeout, and gets full speed alone', async (t) => {
  const set = await nlBatch(lab, [
    ['set', { ifindex: if3, priority: 'low', group: 1, 'limit-packets': 8, 'timeout-ms': 200 }],
    ['set', { ifindex: if2, group: 1 }],
    ['get', { ifindex: if3 }],
  ]);
  const v3 = set[2] as { priority: string; group: number; 'limit-packets': number; 'timeout-ms': number };
  t.same([v3.priority, v3.group, v3['limit-packets'], v3['timeout-ms']], ['low', 1, 8, 200], `vif${g3.domid}.0: low priority, group 1, cap 8, timeout 200 ms`);
  // domu3 floods for the whole run, domu2 (high, same group) only in the middle; each flood is
  // stopped by hand after its last snapshot, so that slow snapshots on a loaded machine cannot
  // outlast a flood. Each snapshot has dom0's uptime, and the phases compare rates.
  const snap = (tag: string): string => `echo "${tag} $(cut -d" " -f1 /proc/uptime) $(${ethtoolVq(g3.domid)} | awk '/tx_handed_packets:|tx_lowprio_timeout_sends:/{printf "%s ", $2}')$(${ethtoolVq(g2.domid)} | awk '/tx_handed_packets:/{print $2}')"`;
  // started: once a flood's vif has handed 200 more packets (at most 30 s)
  const started = (domid: number): string => `a=$(${ethtoolVq(domid)} | awk '/tx_handed_packets:/{print $2}'); for i in $(seq 150); do sleep 0.2; b=$(${ethtoolVq(domid)} | awk '/tx_handed_packets:/{print $2}'); [ $((b - a)) -gt 200 ] && break; done`;
  const r = await lab.dom0(`/lab/gexec ${g3.ip} 'udpblast 198.18.0.100 9 90 1400' > /tmp/lp3.out 2>&1 & p3=$!
${started(g3.domid)}; sleep 1; ${snap('a0')}; sleep 4; ${snap('a1')}
/lab/gexec ${g2.ip} 'udpblast 198.18.0.100 9 90 1400' > /tmp/lp2.out 2>&1 & p2=$!
${started(g2.domid)}; sleep 1; ${snap('b0')}; sleep 4; ${snap('b1')}
/lab/gexec ${g2.ip} 'killall udpblast'; wait $p2; sleep 1; ${snap('c0')}; sleep 4; ${snap('c1')}
/lab/gexec ${g3.ip} 'killall udpblast'; wait $p3; cat /tmp/lp2.out /tmp/lp3.out`, { timeoutMs: 150_000 });
  t.equal(r.code, 0, `phases ran: ${r.stderr.trim()}`);
  const s = (tag: string): number[] => (new RegExp(`^${tag} ([\\d.]+) (\\d+)\\s+(\\d+)\\s+(\\d+)\\s*$`, 'm').exec(r.stdout) ?? []).slice(1).map(Number);
  const phase = (a: string, b: string): { low: number; timeouts: number; high: number; secs: number; lowRate: number } => {
    const [s0 = 0, l0 = 0, t0 = 0, h0 = 0] = s(a); const [s1 = 0, l1 = 0, t1 = 0, h1 = 0] = s(b);
    const secs = Math.max(s1 - s0, 0.001);
    return { low: l1 - l0, timeouts: t1 - t0, high: h1 - h0, secs, lowRate: (l1 - l0) / secs };
  };
  t.ok(s('a0').length === 4 && s('c1').length === 4, `all snapshots taken: ${r.stdout.split('\n').filter((l) => /^[abc][01] /.test(l)).join(' | ')}`);
  const alone = phase('a0', 'a1');
  const busy = phase('b0', 'b1');
  const idle = phase('c0', 'c1');
  const per = (p: { low: number; secs: number }): string => `${p.low} in ${p.secs.toFixed(1)} s`;
  t.comment(`low-priority vif${g3.domid}.0: alone ${per(alone)} (${alone.timeouts} timeout sends), peer busy ${per(busy)} (${busy.timeouts} timeout sends; peer sent ${busy.high}), peer idle again ${per(idle)} (${idle.timeouts})`);
  t.ok(busy.high > 500, `the high-priority peer sends at full speed (${busy.high} packets)`);
  t.ok(busy.lowRate < alone.lowRate / 5, `held back while the peer is busy: ${busy.lowRate.toFixed(0)}/s vs ${alone.lowRate.toFixed(0)}/s alone`);
  t.ok(busy.timeouts > 0, `still sends after its timeout: lowprio-timeout-sends +${busy.timeouts}`);
  t.ok(busy.low > 0, `gets packets out while held back (${busy.low})`);
  t.ok(idle.lowRate > alone.lowRate / 2, `full speed again when the peer is idle: ${idle.lowRate.toFixed(0)}/s vs ${alone.lowRate.toFixed(0)}/s`);
  t.ok(alone.low > 200, `alone it floods (${alone.low} packets in 4 s)`);
  const v = await nlBatch(lab, [['get', { ifindex: if3 }], ['set', { ifindex: if3, priority: 'high', group: 0, 'limit-packets': 0 }], ['set', { ifindex: if2, group: 0 }]]);
  t.ok((v[0] as { 'lowprio-timeout-sends': number })['lowprio-timeout-sends'] >= busy.timeouts, 'vif-get reports the timeout sends');
  t.same(v.slice(1), [{ ok: true }, { ok: true }], 'priorities reset');
  t.equal(await dmesgProblems(lab), '', 'no oops/WARN/BUG in dmesg');
});

