/**
 * Lab cases that check the same kernel promise on every series: each runs one
 * scenario of scenarios.ts and asserts on it, so that the 6.1 file
 * (netback-vifq) and the 6.12 file (kernel-6.12) ask exactly the same.
 * `label` prefixes the comments ("6.12: ") so a log says which kernel spoke.
 */
import type { Test } from 'tap';
import type { Guest, Lab } from './lab.js';
import { dumpWhileDetaching, floodPausedPeer } from './scenarios.js';
import { dmesgProblems, ifindexOf, nlBatch } from './vifq.js';

/** Pings to the sink that must get through while the peer is paused (of 25). */
const PAUSED_PEER_MIN_ANSWERED = 20;

/**
 * `from`, limited to 20000 pending bytes, floods `to` while `to` is paused and
 * pings the sink: its pings must go on (before the series' fix 0 of 25 were
 * answered: the paused peer held the 20000 B until its 10 s rx_drain_timeout).
 */
export async function pausedPeerCannotStall(t: Test, lab: Lab, from: Guest, to: Guest, label = ''): Promise<void> {
  const ifx = await ifindexOf(lab, from.domid);
  t.same(await nlBatch(lab, [['set', { ifindex: ifx, 'limit-bytes': 20000 }]]), [{ ok: true }], `${from.name}: limit-bytes 20000`);
  const r = await floodPausedPeer(lab, from, to);
  t.comment(`${label}${from.name} floods paused ${to.name}: ${r.answered} of ${r.pings} pings to the sink answered; written off ${r.after.tx_written_off_packets ?? '?'} packets / ${r.after.tx_written_off_bytes ?? '?'} B; throttle events ${r.after.tx_throttle_events ?? '?'}, pending ${r.after.tx_inflight_bytes ?? '?'} B`);
  t.equal(r.pings, 25, `the pings ran (${r.stderr.trim().slice(-200)})`);
  t.ok(r.answered >= PAUSED_PEER_MIN_ANSWERED, `at least ${PAUSED_PEER_MIN_ANSWERED} of 25 pings answered while the peer was paused (${r.answered})`);
  t.same(await nlBatch(lab, [['set', { ifindex: ifx, 'limit-bytes': 0 }]]), [{ ok: true }], 'limit back to none');
  t.equal(await dmesgProblems(lab), '', 'no oops/WARN/BUG in dmesg');
}

/**
 * A vif-get dump split in parts while guest `n`'s extra vifs (`extra` of them)
 * come and go: the ifindex cursor neither hides nor repeats a vif, and a part
 * built after the change carries NLM_F_DUMP_INTR.
 */
export async function dumpResumesByIfindex(t: Test, lab: Lab, n: number, extra: number, label = ''): Promise<void> {
  const r = await dumpWhileDetaching(lab, n, extra);
  const got = r.parts.flat();
  t.comment(`${label}dump parts ${JSON.stringify(r.parts)}, NLM_F_DUMP_INTR ${JSON.stringify(r.intr)}; vifs before ${r.before.join(' ')}, detached ${r.removed}`);
  t.equal(r.code, 0, `the dump ran: ${r.stderr.trim().slice(-300)}`);
  t.ok(r.parts.length >= 2, `the dump came in ${r.parts.length} parts, so the detach fell between two`);
  t.equal(new Set(got).size, got.length, 'no vif dumped twice');
  // before the fix the cursor was a list position: the detach shifted the list and one vif was skipped
  t.same(r.before.filter((i) => i !== r.removed && !got.includes(i)), [], 'every vif that stayed is in the dump');
  t.ok(got.every((i) => r.before.includes(i)), 'and nothing else');
  t.notOk(r.intr[0], 'the first part, built before the detach, is not flagged');
  t.ok(r.intr.slice(1).some(Boolean), 'a part built after the detach carries NLM_F_DUMP_INTR');
}
