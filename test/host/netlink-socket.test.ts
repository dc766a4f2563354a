/**
 * The native socket addon against the real kernel: a closed socket's libuv handle must not
 * outlive it. (It used to be closed only when the JS object was garbage-collected, and then
 * libuv removed the fd *number* from epoll: a newer socket that had reused the number went
 * deaf. A second RtnlTopology in a process stopped seeing notifications.)
 */
import t from 'tap';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { RtnlTopology, type LinkEvent } from '../../src/topology/topology.js';
import { canRunHostTests, createNetns } from '../helpers/netns.js';

/** Reported as skipped (never as passed) when not root. */
const skip = canRunHostTests();

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

t.test('sockets that reuse closed sockets\' fd numbers keep receiving after the old ones are collected', { skip }, async (t) => {
  const ns = createNetns('fdreuse', t.teardown.bind(t));
  for (let round = 0; round < 3; round++) {
    const old = await RtnlTopology.open({ prefer: 'native', netns: ns.path });
    old.close();
    const topo = await RtnlTopology.open({ prefer: 'native', netns: ns.path });
    t.teardown(() => topo.close());
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 20));
    }
    const seen = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 2000);
      topo.on('link', (e: LinkEvent) => { if (e.link.name === `fd${round}a`) { clearTimeout(timer); resolve(true); } });
    });
    ns.ip('link', 'add', `fd${round}a`, 'type', 'veth', 'peer', 'name', `fd${round}b`);
    t.ok(await seen, `round ${round}: the new topology sees the link notification`);
    topo.close();
  }
});
