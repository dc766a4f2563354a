/**
 * Topology from the real rtnetlink, in a netns the test creates and deletes:
 * a bridge with a veth uplink, "vifs" (veths named vif<domid>.<handle>, since
 * netback needs Xen) and an HVM-style tap, then live link notifications.
 */
import t from 'tap';
import { EventEmitter } from 'node:events';
import { RtnlTopology, type LinkEvent, type TopologyEvent } from '../../src/topology/topology.js';
import { canRunHostTests, createNetns } from '../helpers/netns.js';

const skip = canRunHostTests();
if (skip) t.plan(0, skip);

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

t.test('vifs, bridge, uplinks and live changes', async (t) => {
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
    ifindex: idx('vif5.0'), name: 'vif5.0', domid: 5, handle: 0,
    bridge: { ifindex: idx('xbr0'), name: 'xbr0', kind: 'bridge' },
    uplinks: [{ ifindex: idx('up0'), name: 'up0', kind: 'veth' }],
    group: idx('up0'),
  }], 'taps (vif5.0-emu, qnic5) are neither vifs nor uplinks');

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
  t.equal(j.vif.group, idx('up0'));

  // it moves to a bridge without uplink: group 0
  ns.ip('link', 'add', 'xbr1', 'type', 'bridge');
  const moved = waitFor<TopologyEvent>(topo, 'change', (e) => e.type === 'vif-changed' && e.vif.name === 'vif7.1' && e.vif.bridge?.name === 'xbr1');
  ns.ip('link', 'set', 'vif7.1', 'master', 'xbr1');
  const m = await moved;
  t.equal(m.vif.group, 0);
  t.same(m.vif.uplinks, []);

  // a second uplink on xbr1 gives it a group
  const grouped = waitFor<TopologyEvent>(topo, 'change', (e) => e.vif.name === 'vif7.1' && e.vif.group !== 0);
  ns.ip('link', 'set', 'vqnew0', 'master', 'xbr1');
  t.equal((await grouped).vif.group, idx('vqnew0'));

  // the vif goes away
  const removed = waitFor<TopologyEvent>(topo, 'change', (e) => e.type === 'vif-removed' && e.vif.name === 'vif7.1');
  const linkDel = waitFor<LinkEvent>(topo, 'link', (e) => e.action === 'del' && e.link.name === 'vif7.1');
  ns.ip('link', 'del', 'vif7.1');
  await removed;
  await linkDel;

  // the uplink of vif5.0 goes away: vif5.0 loses its group
  const lost = waitFor<TopologyEvent>(topo, 'change', (e) => e.vif.name === 'vif5.0' && e.vif.group === 0);
  ns.ip('link', 'del', 'up0');
  t.same((await lost).vif.uplinks, []);

  // an explicit resync agrees with the incremental state
  const before = JSON.stringify(topo.vifs());
  await topo.resync();
  t.equal(JSON.stringify(topo.vifs()), before);
  t.same(errors, []);
});
