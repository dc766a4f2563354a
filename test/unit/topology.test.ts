import t, { type Test } from 'tap';
import { RtnlTopology, type LinkEvent } from '../../src/topology/topology.js';
import { computeTopology, diffTopology, linkRole, parseVifName, uplinkId, type TopologyEvent } from '../../src/topology/placement.js';
import { RTM_GETQDISC } from '../../src/topology/tc.js';
import {
  AF_BRIDGE, IFF_LOOPBACK, IFLA_IFNAME, IFLA_INFO_KIND, IFLA_LINKINFO, IFLA_MASTER, RTM_DELLINK, RTM_GETLINK, RTM_NEWLINK,
  RTNLGRP_LINK, decodeLink, type RtLink,
} from '../../src/topology/rtnl.js';
import { NLM_F_MULTI, attrString, attrU32, encodeAttr } from '../../src/netlink/wire.js';
import { constants } from 'node:os';
import type { VifqError } from '../../src/errors.js';
import { NetlinkDecodeError, NetlinkError, NetlinkTransportError } from '../../src/netlink/errors.js';
import { TopologyResyncError } from '../../src/topology/errors.js';
import { FakeTransport, done, notification, reply, tick } from '../helpers/genl-fakes.js';

function link(ifindex: number, name: string, extra: Partial<RtLink> = {}): RtLink {
  return { ifindex, name, type: 1, flags: 0, kind: undefined, slaveKind: undefined, master: undefined, link: undefined, mtu: 1500, operstate: 6, address: undefined, permAddress: undefined, ...extra };
}

function linkMsg(l: { ifindex: number; name: string; master?: number; kind?: string; flags?: number; family?: number }): Buffer {
  const hdr = Buffer.alloc(16);
  hdr.writeUInt8(l.family ?? 0, 0);
  hdr.writeUInt16LE(1, 2);
  hdr.writeInt32LE(l.ifindex, 4);
  hdr.writeUInt32LE(l.flags ?? 0, 8);
  return Buffer.concat([
    hdr,
    attrString(IFLA_IFNAME, l.name),
    l.master !== undefined ? attrU32(IFLA_MASTER, l.master) : Buffer.alloc(0),
    l.kind ? encodeAttr(IFLA_LINKINFO, attrString(IFLA_INFO_KIND, l.kind), true) : Buffer.alloc(0),
  ]);
}

t.test('vif names and link roles', async (t) => {
  t.same(parseVifName('vif12.3'), { domid: 12, handle: 3 });
  t.equal(parseVifName('vif12.3-emu'), undefined);
  t.equal(parseVifName('xvif1.0'), undefined);
  t.equal(linkRole(link(1, 'lo', { flags: IFF_LOOPBACK })), 'loopback');
  t.equal(linkRole(link(2, 'vif1.0-emu', { kind: 'tun' })), 'tap');
  t.equal(linkRole(link(3, 'tap0')), 'tap');
  t.equal(linkRole(link(8, 'qemu-nic0', { kind: 'tun' })), 'tap', 'a tun/tap by kind, whatever its name');
  t.equal(linkRole(link(4, 'xenbr0', { kind: 'bridge' })), 'bridge');
  t.equal(linkRole(link(5, 'ovsbr0', { kind: 'openvswitch' })), 'ovs-internal');
  t.equal(linkRole(link(6, 'eth0')), 'other');
  t.equal(linkRole(link(7, 'bond0', { kind: 'bond' })), 'other');
});

t.test('placement: bridge, uplinks, groups', async (t) => {
  const links = [
    link(1, 'lo', { flags: IFF_LOOPBACK }),
    link(2, 'eth0', { master: 10, permAddress: '00:16:3e:00:00:02' }),
    link(3, 'eth1'),
    link(4, 'bond0', { kind: 'bond', master: 11 }),
    link(5, 'eth2', { master: 4, slaveKind: 'bond' }),
    link(10, 'xenbr0', { kind: 'bridge' }),
    link(11, 'xenbr1', { kind: 'bridge' }),
    link(12, 'xenbr2', { kind: 'bridge' }),
    link(20, 'vif1.0', { master: 10 }),
    link(21, 'vif2.0', { master: 10 }),
    link(22, 'vif2.1', { master: 11 }),
    link(23, 'vif3.0', { master: 12 }),
    link(24, 'vif4.0'),
    link(25, 'vif1.0-emu', { kind: 'tun', master: 10 }),
    link(26, 'veth-up', { kind: 'veth', master: 12 }),
    link(27, 'eth3', { master: 12 }),
    link(30, 'ovs-system', { kind: 'openvswitch' }),
    link(31, 'ovsbr0', { kind: 'openvswitch', master: 30 }),
    link(32, 'eth4', { master: 30, slaveKind: 'openvswitch' }),
    link(33, 'vif5.0', { master: 30, slaveKind: 'openvswitch' }),
  ];
  const p = computeTopology(links);
  const byName = new Map(p.map((v) => [v.name, v]));
  t.same(p.map((v) => v.name), ['vif1.0', 'vif2.0', 'vif2.1', 'vif3.0', 'vif4.0', 'vif5.0']);
  t.same(byName.get('vif1.0'), {
    ifindex: 20, name: 'vif1.0', domid: 1, handle: 0, identity: 'name',
    bridge: { ifindex: 10, name: 'xenbr0', kind: 'bridge' },
    uplinks: [{ ifindex: 2, name: 'eth0', kind: undefined, id: 'mac:00:16:3e:00:00:02', lineRate: { bitsPerSecond: undefined, source: 'unknown' } }],
    group: 'mac:00:16:3e:00:00:02',
  });
  t.equal(byName.get('vif2.0')?.group, 'mac:00:16:3e:00:00:02', 'same uplink, same group');
  t.same(byName.get('vif2.1')?.uplinks.map((u) => u.name), ['bond0'], 'a bond is the uplink, not its slaves');
  t.same(byName.get('vif3.0')?.uplinks.map((u) => u.name), ['eth3', 'veth-up'], 'two uplinks, sorted by id');
  t.equal(byName.get('vif3.0')?.group, 'name:eth3+name:veth-up', 'the group names both uplinks');
  t.equal(byName.get('vif4.0')?.bridge, undefined);
  t.equal(byName.get('vif4.0')?.group, '', 'routed vif: no group');
  t.same(byName.get('vif5.0')?.uplinks.map((u) => u.name), ['eth4'], 'OVS internal port is not an uplink');
});

t.test('diff: added, removed, changed', async (t) => {
  const a = computeTopology([link(2, 'eth0', { master: 10 }), link(10, 'br', { kind: 'bridge' }), link(20, 'vif1.0', { master: 10 }), link(21, 'vif2.0')]);
  const b = computeTopology([link(2, 'eth0'), link(10, 'br', { kind: 'bridge' }), link(20, 'vif1.0', { master: 10 }), link(22, 'vif3.0')]);
  const ev = diffTopology(a, b);
  t.same(ev.map((e) => [e.type, e.vif.name]), [['vif-removed', 'vif2.0'], ['vif-changed', 'vif1.0'], ['vif-added', 'vif3.0']]);
  const ch = ev[1] as Extract<TopologyEvent, { type: 'vif-changed' }>;
  t.equal(ch.previous.group, 'name:eth0');
  t.equal(ch.vif.group, '');
  t.same(diffTopology(b, b), []);
});

t.test('decodeLink reads ifinfomsg and attributes', async (t) => {
  const l = decodeLink({ len: 0, type: RTM_NEWLINK, flags: 0, seq: 0, pid: 0, payload: linkMsg({ ifindex: 7, name: 'br0', kind: 'bridge', master: 3 }) });
  t.equal(l.ifindex, 7);
  t.equal(l.name, 'br0');
  t.equal(l.kind, 'bridge');
  t.equal(l.master, 3);
  t.throws(() => decodeLink({ len: 0, type: RTM_NEWLINK, flags: 0, seq: 0, pid: 0, payload: Buffer.alloc(8) }), { name: 'NetlinkDecodeError' });
});

t.test('RtnlTopology over fake sockets: dump, events, AF_BRIDGE ignored, resync on overrun', async (t) => {
  const events = new FakeTransport(1);
  const requests = new FakeTransport(2);
  let table = [
    { ifindex: 2, name: 'eth0', master: 10 },
    { ifindex: 10, name: 'br0', kind: 'bridge' },
    { ifindex: 20, name: 'vif1.0', master: 10 },
  ];
  let dumps = 0;
  requests.onSend = (m, tt) => {
    if (m.type === RTM_GETQDISC) return tt.deliver(done(tt, m.seq));
    t.equal(m.type, RTM_GETLINK);
    dumps++;
    tt.deliver(...table.map((l) => reply(tt, m.seq, RTM_NEWLINK, linkMsg(l), NLM_F_MULTI)), done(tt, m.seq));
  };
  const topo = new RtnlTopology({ transports: { events, requests }, timeoutMs: 500 });
  const changes: TopologyEvent[] = [];
  const links: LinkEvent[] = [];
  topo.on('change', (e) => changes.push(e));
  topo.on('link', (e) => links.push(e));
  const first = await topo.start();
  t.ok(events.groups.has(RTNLGRP_LINK), 'subscribed to RTNLGRP_LINK');
  t.same(first.map((v) => [v.name, v.group]), [['vif1.0', 'name:eth0']]);
  t.equal(changes.length, 0, 'the first placement is not a change');

  events.deliver(notification(RTM_NEWLINK, linkMsg({ ifindex: 21, name: 'vif2.0', master: 10 })));
  t.same(changes.map((e) => [e.type, e.vif.name, e.vif.group]), [['vif-added', 'vif2.0', 'name:eth0']]);
  t.same(links.map((l) => [l.action, l.link.name]), [['new', 'vif2.0']]);

  // a bridge-family DELLINK only means "left the bridge": must not delete the link
  events.deliver(notification(RTM_DELLINK, linkMsg({ ifindex: 21, name: 'vif2.0', family: AF_BRIDGE })));
  t.equal(topo.vifs().length, 2);
  events.deliver(notification(RTM_NEWLINK, linkMsg({ ifindex: 21, name: 'vif2.0' })));
  t.same(changes.at(-1)?.type, 'vif-changed');
  t.equal(changes.at(-1)?.vif.group, '');
  events.deliver(notification(RTM_DELLINK, linkMsg({ ifindex: 21, name: 'vif2.0' })));
  t.same(changes.at(-1)?.type, 'vif-removed');

  // overrun: lost notifications; the table is re-read and the difference reported
  table = [...table, { ifindex: 22, name: 'vif3.0', master: 10 }];
  const resynced = new Promise((r) => topo.once('resync', r));
  events.fault(constants.errno.ENOBUFS);
  await resynced;
  t.equal(dumps, 2);
  t.same(changes.at(-1)?.vif.name, 'vif3.0');
  await tick();
  topo.close();
  t.ok(events.closed && requests.closed);
});

/** Fails the test if a promise rejection goes unhandled while `fn` runs (Node 20 would end a daemon). */
async function noUnhandledRejection(t: Test, fn: () => Promise<void>): Promise<void> {
  const seen: unknown[] = [];
  const onRej = (r: unknown): void => { seen.push(r); };
  process.on('unhandledRejection', onRej);
  try {
    await fn();
    await new Promise((r) => setTimeout(r, 20));
  } finally {
    process.off('unhandledRejection', onRej);
  }
  t.same(seen, [], 'no unhandled rejection');
}

t.test('a re-read that fails after an overrun: the process stays up, one warning, then a retry', async (t) => {
  await noUnhandledRejection(t, async () => {
    const events = new FakeTransport(1);
    const requests = new FakeTransport(2);
    let dumps = 0;
    const table = [
      { ifindex: 2, name: 'eth0', master: 10 },
      { ifindex: 10, name: 'br0', kind: 'bridge' },
      { ifindex: 20, name: 'vif1.0', master: 10 },
    ];
    requests.onSend = (m, tt) => {
      if (m.type === RTM_GETQDISC) return tt.deliver(done(tt, m.seq));
      dumps++;
      if (dumps === 2) tt.deliver(done(tt, m.seq, constants.errno.EBUSY)); // the re-dump fails
      else tt.deliver(...table.map((l) => reply(tt, m.seq, RTM_NEWLINK, linkMsg(l), NLM_F_MULTI)), done(tt, m.seq));
    };
    const topo = new RtnlTopology({ transports: { events, requests }, timeoutMs: 500, resyncRetryMs: 5 });
    const warnings: VifqError[] = [];
    topo.on('warning', (w) => warnings.push(w));
    await topo.start();
    const resynced = new Promise((r) => topo.once('resync', r));
    events.fault(constants.errno.ENOBUFS);
    await resynced;
    t.equal(dumps, 3, 'the failed re-dump was retried');
    t.equal(warnings.length, 1, 'the failure is one event');
    t.type(warnings[0], TopologyResyncError);
    t.type(warnings[0]?.cause, NetlinkError);
    t.match(warnings[0]?.message, /failed with EBUSY.*retrying in 5 ms/);
    topo.close();
  });
});

t.test('the listening socket failing closes the topology with the cause (no error event to crash on)', async (t) => {
  const events = new FakeTransport(1);
  const requests = new FakeTransport(2);
  requests.onSend = (m, tt) => tt.deliver(done(tt, m.seq));
  const topo = new RtnlTopology({ transports: { events, requests }, timeoutMs: 500 });
  await topo.start();
  const closed = new Promise<Error | undefined>((r) => topo.once('close', r));
  events.fault(constants.errno.EBADF, 'poll'); // no 'warning' listener, none needed
  const cause = await closed;
  t.type(cause, NetlinkTransportError);
  t.ok(requests.closed, 'the request socket is closed too');
  topo.close(); // idempotent
});

t.test('a rtnl link notification that does not decode is a warning; the table keeps working', async (t) => {
  const events = new FakeTransport(1);
  const requests = new FakeTransport(2);
  requests.onSend = (m, tt) => tt.deliver(done(tt, m.seq));
  const topo = await RtnlTopology.open({ transports: { events, requests }, timeoutMs: 500 });
  const warnings: VifqError[] = [];
  topo.on('warning', (w) => warnings.push(w));
  events.deliver(notification(RTM_NEWLINK, Buffer.alloc(8)));
  events.deliver(notification(RTM_NEWLINK, linkMsg({ ifindex: 30, name: 'vif7.0' })));
  t.equal(warnings.length, 1);
  t.type(warnings[0], NetlinkDecodeError);
  t.same(topo.vifs().map((v) => v.name), ['vif7.0']);
  topo.close();
});
