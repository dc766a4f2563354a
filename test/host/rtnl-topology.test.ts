/**
 * Topology from the real rtnetlink, in a netns the test creates and deletes:
 * a bridge with a veth uplink, "vifs" (veths named vif<domid>.<handle>, since
 * netback needs Xen) and an HVM-style tap, then live link notifications; and the
 * uplinks' line rates from real tbf and htb qdiscs.
 */
import t from 'tap';
import { EventEmitter } from 'node:events';
import { RtnlTopology, type LinkEvent } from '../../src/topology/topology.js';
import type { TopologyEvent } from '../../src/topology/placement.js';
import { canRunHostTests, createNetns } from '../helpers/netns.js';

/** Reported as skipped (never as passed) when not root. */
const skip = canRunHostTests();

/** Resolve with the first event matching `pred`; reject after `ms` (never hang). */
function waitFor<T>(em: EventEmitter, event: string, pred: (x: T) => boolean, ms = 3000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      em.off(event, on);
      reject(new Error(`no matching "${event}" event within ${ms} ms`));
    }, ms);
    const on = (x: T): void => {
      if (!pred(x)) return;
      clearTimeout(timer);
      em.off(event, on);
      resolve(x);
    };
    em.on(event, on);
  });
}

t.test('vifs, bridge, uplinks and live changes', { skip }, async (t) => {
  const ns = createNetns('topo', t.teardown.bind(t));
  ns.ip('link', 'add', 'xbr0', 'type', 'bridge');
  ns.ip('link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up0p');
  ns.ip('link', 'add', 'vif5.0', 'type', 'veth', 'peer', 'name', 'g5p');
  ns.ip('tuntap', 'add', 'dev', 'vif5.0-emu', 'mode', 'tap');
  ns.ip('tuntap', 'add', 'dev', 'qnic5', 'mode', 'tap');
  for (const d of ['up0', 'vif5.0', 'vif5.0-emu', 'qnic5']) ns.ip('link', 'set', d, 'master', 'xbr0');
  const idx = (name: string): number => {
    const l = ns.links().find((x) => x.ifname === name);
    if (!l) throw new Error(`${name} not found`);
    return l.ifindex;
  };

  const topo = new RtnlTopology({ prefer: 'native', netns: ns.path, timeoutMs: 3000 });
  t.teardown(() => topo.close());
  const errors: Error[] = [];
  topo.on('warning', (e) => errors.push(e));
  const first = await topo.start();
  t.same(first, [{
    ifindex: idx('vif5.0'), name: 'vif5.0', domid: 5, handle: 0, identity: 'name',
    bridge: { ifindex: idx('xbr0'), name: 'xbr0', kind: 'bridge' },
    uplinks: [{ ifindex: idx('up0'), name: 'up0', kind: 'veth', id: 'name:up0', lineRate: { bitsPerSecond: undefined, source: 'unknown' } }],
    group: 'name:up0',
  }], 'taps (vif5.0-emu, qnic5) are neither vifs nor uplinks; a veth has no speed');

  // a plain veth appears: seen as a link notification
  const seen = waitFor<LinkEvent>(topo, 'link', (e) => e.action === 'new' && e.link.name === 'vqnew0');
  ns.ip('link', 'add', 'vqnew0', 'type', 'veth', 'peer', 'name', 'vqnew1');
  const ev = await seen;
  t.equal(ev.link.kind, 'veth');
  t.equal(ev.link.ifindex, idx('vqnew0'));

  // a second vif joins the bridge: same uplink, same group
  const joined = waitFor<TopologyEvent>(topo, 'change', (e) => e.vif.name === 'vif7.1' && e.vif.bridge?.name === 'xbr0');
  ns.ip('link', 'add', 'vif7.1', 'type', 'veth', 'peer', 'name', 'g7p');
  ns.ip('link', 'set', 'vif7.1', 'master', 'xbr0');
  const j = await joined;
  t.equal(j.vif.domid, 7);
  t.equal(j.vif.handle, 1);
  t.equal(j.vif.group, 'name:up0');

  // it moves to a bridge without uplink: group 0
  ns.ip('link', 'add', 'xbr1', 'type', 'bridge');
  const moved = waitFor<TopologyEvent>(topo, 'change', (e) => e.type === 'vif-changed' && e.vif.name === 'vif7.1' && e.vif.bridge?.name === 'xbr1');
  ns.ip('link', 'set', 'vif7.1', 'master', 'xbr1');
  const m = await moved;
  t.equal(m.vif.group, '');
  t.same(m.vif.uplinks, []);

  // a second uplink on xbr1 gives it a group
  const grouped = waitFor<TopologyEvent>(topo, 'change', (e) => e.vif.name === 'vif7.1' && e.vif.group !== '');
  ns.ip('link', 'set', 'vqnew0', 'master', 'xbr1');
  t.equal((await grouped).vif.group, 'name:vqnew0');

  // the vif goes away
  const removed = waitFor<TopologyEvent>(topo, 'change', (e) => e.type === 'vif-removed' && e.vif.name === 'vif7.1');
  const linkDel = waitFor<LinkEvent>(topo, 'link', (e) => e.action === 'del' && e.link.name === 'vif7.1');
  ns.ip('link', 'del', 'vif7.1');
  await removed;
  await linkDel;

  // the uplink of vif5.0 goes away: vif5.0 loses its group
  const lost = waitFor<TopologyEvent>(topo, 'change', (e) => e.vif.name === 'vif5.0' && e.vif.group === '');
  ns.ip('link', 'del', 'up0');
  t.same((await lost).vif.uplinks, []);

  // an explicit resync agrees with the incremental state
  const before = JSON.stringify(topo.vifs());
  await topo.resync();
  t.equal(JSON.stringify(topo.vifs()), before);
  t.same(errors, []);
});

t.test('line rates from the root qdisc: tbf, htb classes, live changes; renamed vifs by the kernel\'s identity', { skip }, async (t) => {
  const ns = createNetns('rate', t.teardown.bind(t));
  ns.ip('link', 'add', 'xbr0', 'type', 'bridge');
  ns.ip('link', 'add', 'xbr1', 'type', 'bridge');
  ns.ip('link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up0p');
  ns.ip('link', 'add', 'up1', 'type', 'veth', 'peer', 'name', 'up1p');
  ns.ip('link', 'add', 'vif3.0', 'type', 'veth', 'peer', 'name', 'g3p');
  ns.ip('link', 'add', 'guestweb', 'type', 'veth', 'peer', 'name', 'g4p'); // a vif renamed with vifname=
  for (const [d, br] of [['up0', 'xbr0'], ['vif3.0', 'xbr0'], ['up1', 'xbr1'], ['guestweb', 'xbr1']]) ns.ip('link', 'set', d as string, 'master', br as string);
  ns.tc('qdisc', 'add', 'dev', 'up0', 'root', 'tbf', 'rate', '4mbit', 'burst', '32kb', 'latency', '50ms');
  ns.tc('qdisc', 'add', 'dev', 'up1', 'root', 'handle', '1:', 'htb', 'default', '10');
  ns.tc('class', 'add', 'dev', 'up1', 'parent', '1:', 'classid', '1:1', 'htb', 'rate', '10mbit');
  ns.tc('class', 'add', 'dev', 'up1', 'parent', '1:1', 'classid', '1:10', 'htb', 'rate', '2mbit', 'ceil', '10mbit');
  const idx = (name: string): number => ns.links().find((x) => x.ifname === name)?.ifindex ?? -1;

  const topo = await RtnlTopology.open({ prefer: 'native', netns: ns.path, timeoutMs: 3000, vifs: [{ ifindex: idx('guestweb'), domid: 4, handle: 0 }] });
  t.teardown(() => topo.close());
  const warnings: Error[] = [];
  topo.on('warning', (e) => warnings.push(e));
  t.same(topo.vifs().map((v) => [v.name, v.domid, v.identity, v.group, v.uplinks[0]?.lineRate]), [
    ['vif3.0', 3, 'name', 'name:up0', { bitsPerSecond: 4_000_000, source: 'qdisc-tbf' }],
    ['guestweb', 4, 'kernel', 'name:up1', { bitsPerSecond: 10_000_000, source: 'qdisc-htb' }],
  ]);

  // the operator changes the shaper: the vif behind it is reported with the new rate
  const changed = waitFor<TopologyEvent>(topo, 'change', (e) => e.vif.name === 'vif3.0' && e.vif.uplinks[0]?.lineRate.bitsPerSecond === 8_000_000);
  ns.tc('qdisc', 'replace', 'dev', 'up0', 'root', 'tbf', 'rate', '8mbit', 'burst', '32kb', 'latency', '50ms');
  t.same((await changed).vif.uplinks[0]?.lineRate, { bitsPerSecond: 8_000_000, source: 'qdisc-tbf' });
  // and removes it: a veth has no link speed, so the rate is unknown
  const removed = waitFor<TopologyEvent>(topo, 'change', (e) => e.vif.name === 'vif3.0' && e.vif.uplinks[0]?.lineRate.source === 'unknown');
  ns.tc('qdisc', 'del', 'dev', 'up0', 'root');
  await removed;
  t.same(warnings, []);
});
