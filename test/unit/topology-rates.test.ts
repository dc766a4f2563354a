import t from 'tap';
import { computeTopology, uplinkId, type TopologyEvent } from '../../src/topology/placement.js';
import { lineRateOf } from '../../src/topology/line-rate.js';
import {
  RTM_GETQDISC, RTM_GETTCLASS, RTM_NEWQDISC, RTM_NEWTCLASS, RTNLGRP_TC, TCA_CAKE_BASE_RATE64, TCA_HTB_PARMS, TCA_HTB_RATE64, TCA_KIND,
  TCA_OPTIONS, TCA_TBF_PARMS, TCA_TBF_RATE64, TC_H_ROOT, decodeTc, type TcObject,
} from '../../src/topology/tc.js';
import { IFLA_IFNAME, IFLA_MASTER, IFLA_PERM_ADDRESS, RTM_GETLINK, RTM_NEWLINK, decodeLink, type RtLink } from '../../src/topology/rtnl.js';
import { RtnlTopology } from '../../src/topology/topology.js';
import { NLM_F_MULTI, attrString, attrU32, encodeAttr, type NlMsg } from '../../src/netlink/wire.js';
import { FakeTransport, done, notification, reply } from '../helpers/genl-fakes.js';

function link(ifindex: number, name: string, extra: Partial<RtLink> = {}): RtLink {
  return { ifindex, name, type: 1, flags: 0, kind: undefined, slaveKind: undefined, master: undefined, link: undefined, mtu: 1500, operstate: 6, address: undefined, permAddress: undefined, ...extra };
}

function u64(type: number, v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return encodeAttr(type, b);
}

/** A struct with a tc_ratespec at 0 (rate at byte 8), as tbf's and htb's parms start. */
function parms(rateBytes: number, len = 36): Buffer {
  const b = Buffer.alloc(len);
  b.writeUInt32LE(rateBytes, 8);
  return b;
}

function tcPayload(ifindex: number, handle: number, parent: number, kind: string, options: Buffer[]): Buffer {
  const h = Buffer.alloc(20);
  h.writeInt32LE(ifindex, 4);
  h.writeUInt32LE(handle, 8);
  h.writeUInt32LE(parent >>> 0, 12);
  return Buffer.concat([h, attrString(TCA_KIND, kind), encodeAttr(TCA_OPTIONS, Buffer.concat(options), true)]);
}

const msg = (type: number, payload: Buffer): NlMsg => ({ len: 16 + payload.length, type, flags: 0, seq: 0, pid: 0, payload });

t.test('tc decode: tbf rate and rate64, htb class rate, cake bandwidth; bytes/s become bits/s', async (t) => {
  t.match(decodeTc(msg(RTM_NEWQDISC, tcPayload(3, 0x80010000, TC_H_ROOT, 'tbf', [encodeAttr(TCA_TBF_PARMS, parms(500_000))]))),
    { ifindex: 3, parent: TC_H_ROOT, kind: 'tbf', rateBits: 4_000_000 });
  t.equal(decodeTc(msg(RTM_NEWQDISC, tcPayload(3, 1, TC_H_ROOT, 'tbf', [encodeAttr(TCA_TBF_PARMS, parms(0xffffffff)), u64(TCA_TBF_RATE64, 5_000_000_000)]))).rateBits,
    40_000_000_000, 'rate64 above 2^32 bytes/s wins');
  t.equal(decodeTc(msg(RTM_NEWTCLASS, tcPayload(3, 0x10001, TC_H_ROOT, 'htb', [encodeAttr(TCA_HTB_PARMS, parms(1_250_000, 44))]))).rateBits, 10_000_000);
  t.equal(decodeTc(msg(RTM_NEWTCLASS, tcPayload(3, 0x10001, TC_H_ROOT, 'htb', [encodeAttr(TCA_HTB_PARMS, parms(1, 44)), u64(TCA_HTB_RATE64, 2 ** 33)]))).rateBits, 2 ** 36);
  t.equal(decodeTc(msg(RTM_NEWQDISC, tcPayload(3, 0x10000, TC_H_ROOT, 'htb', [encodeAttr(2, Buffer.alloc(20))]))).rateBits, undefined, 'an htb qdisc has no rate itself');
  t.equal(decodeTc(msg(RTM_NEWQDISC, tcPayload(3, 1, TC_H_ROOT, 'cake', [u64(TCA_CAKE_BASE_RATE64, 2_500_000)]))).rateBits, 20_000_000);
  t.equal(decodeTc(msg(RTM_NEWQDISC, tcPayload(3, 1, TC_H_ROOT, 'cake', [u64(TCA_CAKE_BASE_RATE64, 0)]))).rateBits, undefined, 'cake unlimited');
  t.equal(decodeTc(msg(RTM_NEWQDISC, tcPayload(3, 1, TC_H_ROOT, 'fq_codel', [attrU32(1, 5)]))).rateBits, undefined);
  t.throws(() => decodeTc(msg(RTM_NEWQDISC, tcPayload(3, 1, TC_H_ROOT, 'tbf', [encodeAttr(TCA_TBF_PARMS, Buffer.alloc(6))]))), { name: 'NetlinkDecodeError' });
  t.throws(() => decodeTc(msg(RTM_NEWQDISC, Buffer.alloc(12))), { name: 'NetlinkDecodeError' });
});

t.test('line rate: a shaping root qdisc, else the link speed, else unknown', async (t) => {
  const q = (ifindex: number, kind: string, rateBits?: number, parent = TC_H_ROOT): TcObject => ({ ifindex, handle: 0x10000, parent, kind, rateBits });
  t.same(lineRateOf(2, [q(2, 'tbf', 4e6)], [], 1000), { bitsPerSecond: 4e6, source: 'qdisc-tbf' }, 'the qdisc wins over the link speed');
  t.same(lineRateOf(2, [q(2, 'cake', 2e7)], [], undefined), { bitsPerSecond: 2e7, source: 'qdisc-cake' });
  t.same(lineRateOf(2, [q(2, 'htb')], [q(2, 'htb', 1e7), q(2, 'htb', 3e6, 0x10001), q(5, 'htb', 9e9)], 1000), { bitsPerSecond: 1e7, source: 'qdisc-htb' },
    'htb: the top-level class of this device (not inner ones, not other devices)');
  t.same(lineRateOf(2, [q(2, 'htb')], [], 1000), { bitsPerSecond: 1e9, source: 'link-speed' }, 'htb without classes shapes nothing known');
  t.same(lineRateOf(2, [q(2, 'tbf', 4e6, 0x10001)], [], 100), { bitsPerSecond: 1e8, source: 'link-speed' }, 'only the root qdisc counts');
  t.same(lineRateOf(2, [q(2, 'fq_codel')], [], 10000), { bitsPerSecond: 1e10, source: 'link-speed' });
  t.same(lineRateOf(2, [], [], -1), { bitsPerSecond: undefined, source: 'unknown' }, 'sysfs says -1 for unknown');
  t.same(lineRateOf(2, [], [], undefined), { bitsPerSecond: undefined, source: 'unknown' });
});

t.test('vifs known from the kernel are placed by ifindex whatever their names; uplink ids are stable', async (t) => {
  const links = [
    link(2, 'eth0', { master: 10, permAddress: 'aa:bb:cc:00:00:01' }),
    link(10, 'xenbr0', { kind: 'bridge' }),
    link(20, 'web-eth0', { master: 10 }), // renamed with xl's vifname=
    link(21, 'vif9.0', { master: 10 }),
  ];
  const byName = computeTopology(links);
  t.same(byName.map((v) => v.name), ['vif9.0'], 'by name only, a renamed vif is not found');
  const p = computeTopology(links, { vifs: [{ ifindex: 20, domid: 4, handle: 1 }, { ifindex: 21, domid: 9, handle: 0 }] });
  t.same(p.map((v) => [v.name, v.domid, v.handle, v.identity]), [['web-eth0', 4, 1, 'kernel'], ['vif9.0', 9, 0, 'kernel']]);
  t.same(p[0]?.uplinks.map((u) => u.id), ['mac:aa:bb:cc:00:00:01'], 'the renamed vif is not taken for an uplink');
  t.equal(uplinkId(link(3, 'enp3s0', { permAddress: 'aa:bb:cc:00:00:01' })), 'mac:aa:bb:cc:00:00:01', 'a renamed NIC keeps its id');
  t.equal(uplinkId(link(4, 'veth-up')), 'name:veth-up');
  // an uplink added to another bridge, with a smaller ifindex, changes no group here
  const more = computeTopology([...links, link(11, 'xenbr1', { kind: 'bridge' }), link(1, 'eth9', { master: 11 })], { vifs: [{ ifindex: 20, domid: 4, handle: 1 }] });
  t.equal(more.find((v) => v.ifindex === 20)?.group, p[0]?.group);
  // rates are attached to the uplinks
  const rated = computeTopology(links, { rates: new Map([[2, { bitsPerSecond: 4e6, source: 'qdisc-tbf' as const }]]) });
  t.same(rated[0]?.uplinks[0]?.lineRate, { bitsPerSecond: 4e6, source: 'qdisc-tbf' });
});

t.test('RtnlTopology: rates from the qdisc dump; a tc change re-reads them and reports the vifs whose rate changed', async (t) => {
  const events = new FakeTransport(1);
  const requests = new FakeTransport(2);
  const linkMsg = (ifindex: number, name: string, master?: number): Buffer => {
    const h = Buffer.alloc(16);
    h.writeInt32LE(ifindex, 4);
    return Buffer.concat([h, attrString(IFLA_IFNAME, name), master ? attrU32(IFLA_MASTER, master) : Buffer.alloc(0),
      name === 'eth0' ? encodeAttr(IFLA_PERM_ADDRESS, Buffer.from([0, 0x16, 0x3e, 1, 2, 3])) : Buffer.alloc(0)]);
  };
  let rate = 500_000;
  const classDumps: number[] = [];
  requests.onSend = (m, tt) => {
    if (m.type === RTM_GETLINK) {
      tt.deliver(...[linkMsg(2, 'eth0', 10), linkMsg(10, 'br0'), linkMsg(20, 'vif1.0', 10), linkMsg(3, 'eth1', 11), linkMsg(11, 'br1'), linkMsg(21, 'vif2.0', 11)]
        .map((p) => reply(tt, m.seq, RTM_NEWLINK, p, NLM_F_MULTI)), done(tt, m.seq));
    } else if (m.type === RTM_GETQDISC) {
      tt.deliver(
        reply(tt, m.seq, RTM_NEWQDISC, tcPayload(2, 0x80010000, TC_H_ROOT, 'tbf', [encodeAttr(TCA_TBF_PARMS, parms(rate))]), NLM_F_MULTI),
        reply(tt, m.seq, RTM_NEWQDISC, tcPayload(3, 0x10000, TC_H_ROOT, 'htb', [encodeAttr(2, Buffer.alloc(20))]), NLM_F_MULTI),
        done(tt, m.seq));
    } else if (m.type === RTM_GETTCLASS) {
      classDumps.push(m.payload.readInt32LE(4));
      tt.deliver(reply(tt, m.seq, RTM_NEWTCLASS, tcPayload(3, 0x10001, TC_H_ROOT, 'htb', [encodeAttr(TCA_HTB_PARMS, parms(12_500_000, 44))]), NLM_F_MULTI), done(tt, m.seq));
    }
  };
  const topo = await RtnlTopology.open({ transports: { events, requests }, timeoutMs: 500, linkSpeed: () => 1000 });
  t.teardown(() => topo.close());
  t.ok(events.groups.has(RTNLGRP_TC), 'listens to qdisc changes');
  t.same(classDumps, [3], 'classes are read for the htb root only');
  t.same(topo.vifs().map((v) => [v.name, v.uplinks[0]?.id, v.uplinks[0]?.lineRate]), [
    ['vif1.0', 'mac:00:16:3e:01:02:03', { bitsPerSecond: 4_000_000, source: 'qdisc-tbf' }],
    ['vif2.0', 'name:eth1', { bitsPerSecond: 100_000_000, source: 'qdisc-htb' }],
  ]);
  rate = 1_000_000;
  const changed = new Promise<TopologyEvent>((r) => topo.once('change', r));
  events.deliver(notification(RTM_NEWQDISC, tcPayload(2, 0x80010000, TC_H_ROOT, 'tbf', [encodeAttr(TCA_TBF_PARMS, parms(rate))])));
  const ev = await changed;
  t.equal(ev.type, 'vif-changed');
  t.equal(ev.vif.name, 'vif1.0');
  t.same(ev.vif.uplinks[0]?.lineRate, { bitsPerSecond: 8_000_000, source: 'qdisc-tbf' });
  // the kernel's identities, set later, re-place the vifs
  const reidentified = new Promise<TopologyEvent>((r) => topo.once('change', r));
  topo.setKnownVifs([{ ifindex: 21, domid: 2, handle: 0 }]);
  t.match(await reidentified, { type: 'vif-changed', vif: { name: 'vif2.0', identity: 'kernel' } });
  t.match(decodeLink({ len: 0, type: RTM_NEWLINK, flags: 0, seq: 0, pid: 0, payload: linkMsg(2, 'eth0', 10) }), { permAddress: '00:16:3e:01:02:03' });
});
