/**
 * Generic netlink against the real kernel of this machine: nlctrl, netdev
 * and ethtool, decoded by the kernel's own YAML specs. Everything that
 * creates devices does it in a netns the test creates and deletes.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { constants } from 'node:os';
import { GenlClient, GENL_ID_CTRL } from '../../src/genl/genl.js';
import { YnlFamily } from '../../src/genl/ynl-family.js';
import { loadYnlSpecFile } from '../../src/genl/ynl-spec.js';
import { NetlinkEncodeError, NetlinkError } from '../../src/netlink/errors.js';
import { FamilyNotFoundError } from '../../src/genl/errors.js';
import { attrU32, encodeAttr } from '../../src/netlink/wire.js';
import type { YnlObject } from '../../src/genl/ynl-codec.js';
import { canRunHostTests, createNetns } from '../helpers/netns.js';

/** Reported as skipped (never as passed) when not root. */
const skip = canRunHostTests();

const spec = (f: string): string => fileURLToPath(new URL(`../../fixtures/specs/${f}`, import.meta.url));
const netdevSpec = loadYnlSpecFile(spec('netdev.yaml'));
const ethtoolSpec = loadYnlSpecFile(spec('ethtool-excerpt.yaml'));

t.test('resolve nlctrl, netdev and ethtool by name', { skip }, async (t) => {
  const c = GenlClient.open({ prefer: 'native', timeoutMs: 3000 });
  t.teardown(() => c.close());
  t.equal(c.conn.transport.kind, 'native');
  t.ok(c.conn.transport.capabilities.extAck, 'NETLINK_EXT_ACK is on');
  const ctrl = await c.resolveFamily('nlctrl');
  t.equal(ctrl.id, GENL_ID_CTRL);
  t.ok(ctrl.mcastGroups.has('notify'));
  const netdev = await c.resolveFamily('netdev');
  t.ok(netdev.id > GENL_ID_CTRL);
  t.same([...netdev.mcastGroups.keys()].sort(), ['mgmt', 'page-pool']);
  const ethtool = await c.resolveFamily('ethtool');
  t.ok(ethtool.mcastGroups.has('monitor'));
  const all = await c.listFamilies();
  t.ok(all.some((f) => f.name === 'netdev' && f.id === netdev.id), 'ctrl dump agrees');
  const e = await c.resolveFamily('vqnotthere').catch((x: unknown) => x);
  t.type(e, FamilyNotFoundError);
  await t.rejects(c.resolveFamily('a-name-longer-than-15'), FamilyNotFoundError, 'names over GENL_NAMSIZ cannot exist');
});

t.test('netdev dev-get dump (kernel netdev.yaml) matches `ip -j link` in a netns', { skip }, async (t) => {
  const ns = createNetns('nd', t.teardown.bind(t));
  ns.ip('link', 'add', 'vqa0', 'type', 'veth', 'peer', 'name', 'vqb0');
  ns.ip('link', 'add', 'vqbr0', 'type', 'bridge');
  const c = GenlClient.open({ prefer: 'native', netns: ns.path, timeoutMs: 3000 });
  t.teardown(() => c.close());
  const netdev = await YnlFamily.open(c, netdevSpec);
  const devs = await netdev.dump('dev-get');
  const fromIp = ns.links().map((l) => l.ifindex).sort((a, b) => a - b);
  t.same(devs.map((d) => d.ifindex).sort((a, b) => Number(a) - Number(b)), fromIp);
  t.equal(fromIp.length, 4, 'lo, two veths, bridge');
  for (const d of devs) t.ok(Array.isArray(d['xdp-features']), 'flags decode to name lists');
  const veth = ns.links().find((l) => l.ifname === 'vqa0');
  const one = await netdev.do('dev-get', { ifindex: veth?.ifindex });
  t.equal(one?.ifindex, veth?.ifindex);
  t.ok((one?.['xdp-features'] as string[]).includes('basic'), 'veth supports basic XDP');
  t.equal(netdev.codec.stats.unknownAttributes, 0);
});

t.test('ethtool linkinfo and strset of a veth (kernel ethtool.yaml excerpt)', { skip }, async (t) => {
  const ns = createNetns('et', t.teardown.bind(t));
  ns.ip('link', 'add', 'vqeth0', 'type', 'veth', 'peer', 'name', 'vqeth1');
  const ifindex = ns.links().find((l) => l.ifname === 'vqeth0')?.ifindex;
  const c = GenlClient.open({ prefer: 'native', netns: ns.path, timeoutMs: 3000 });
  t.teardown(() => c.close());
  const ethtool = await YnlFamily.open(c, ethtoolSpec);
  const li = await ethtool.do('linkinfo-get', { header: { 'dev-name': 'vqeth0' } });
  t.same(li?.header, { 'dev-index': ifindex, 'dev-name': 'vqeth0' });
  t.equal(li?.port, 0, 'veth reports PORT_TP');
  t.equal(li?.transceiver, 0, 'XCVR_INTERNAL');
  const ss = await ethtool.do('strset-get', { header: { 'dev-index': ifindex } });
  const sets = ((ss?.stringsets as YnlObject).stringset as YnlObject[]);
  const stats = sets.find((s) => s.id === 1); // ETH_SS_STATS
  t.ok(stats, 'the veth has a stats string set');
  const names = ((stats?.strings as YnlObject[])[0]?.string as YnlObject[]).map((s) => s.value);
  t.equal(names.length, stats?.count);
  t.equal(names[0], 'peer_ifindex', 'veth stats start with peer_ifindex');
  // counts-only flag: count without strings
  const counts = await ethtool.do('strset-get', { header: { 'dev-name': 'vqeth0' }, 'counts-only': true,
    stringsets: { stringset: [{ id: 1 }] } });
  const only = ((counts?.stringsets as YnlObject).stringset as YnlObject[]);
  t.same(only, [{ id: 1, count: stats?.count }]);
});

t.test('kernel errors come back typed, with the extack message', { skip }, async (t) => {
  const ns = createNetns('err', t.teardown.bind(t));
  const c = GenlClient.open({ prefer: 'native', netns: ns.path, timeoutMs: 3000 });
  t.teardown(() => c.close());
  const ethtool = await YnlFamily.open(c, ethtoolSpec);
  const e1 = (await ethtool.do('linkinfo-get', { header: { 'dev-name': 'nonexistent0' } }).catch((x: unknown) => x)) as NetlinkError;
  t.type(e1, NetlinkError);
  t.equal(e1.code, 'ENODEV');
  t.equal(e1.extack.message, 'no device matches name');
  t.ok(typeof e1.extack.offset === 'number' && e1.extack.offset > 16, 'offset points into the request');

  // The policy's own answers. ifindex 0 violates `checks: min: 1` (ERANGE); our encoder
  // refuses it first, so send raw attributes to see what the kernel says.
  const netdev = await YnlFamily.open(c, netdevSpec);
  await t.rejects(netdev.do('dev-get', { ifindex: 0 }), NetlinkEncodeError, 'the codec applies the spec checks');
  const raw = (attrs: Buffer): Promise<NetlinkError> =>
    c.request(netdev.family.id, 1, 1, attrs, { name: 'netdev dev-get raw' }).then(() => { throw new Error('no error'); }, (x: NetlinkError) => x);
  const e2 = await raw(attrU32(1, 0));
  t.type(e2, NetlinkError);
  t.equal(e2.errno, constants.errno.ERANGE);
  t.equal(e2.extack.message, 'integer out of range');
  t.equal(e2.extack.offset, 20, 'offset of the attribute: after nlmsghdr (16) and genlmsghdr (4)');
  t.ok(e2.extack.policy, 'the kernel says which policy was violated');
  const e3 = await raw(encodeAttr(1, Buffer.alloc(2)));
  t.equal(e3.code, 'EINVAL');
  t.equal(e3.extack.message, 'invalid attribute length');
  t.match(e3.message, /netdev dev-get raw failed with EINVAL: invalid attribute length \(attribute at byte 20\)/);
  const e4 = await raw(Buffer.concat([attrU32(1, 1), attrU32(90, 1)]));
  t.equal(e4.code, 'EINVAL');
  t.equal(e4.extack.offset, 28, 'second attribute');

  // missing required attribute: ethtool wants a header
  const e5 = (await ethtool.do('linkinfo-get', {}).catch((x: unknown) => x)) as NetlinkError;
  t.type(e5, NetlinkError);
  t.ok(e5.extack.message || e5.extack.missingType !== undefined, `kernel explains: ${e5.message}`);
});

t.test('npm `netlink` fallback: works, but the kernel sends no extack to it', { skip }, async (t) => {
  const c = GenlClient.open({ prefer: 'npm-netlink', timeoutMs: 3000 });
  t.teardown(() => c.close());
  t.equal(c.conn.transport.kind, 'npm-netlink');
  t.notOk(c.conn.transport.capabilities.extAck);
  const ethtool = await YnlFamily.open(c, ethtoolSpec);
  const e = (await ethtool.do('linkinfo-get', { header: { 'dev-name': 'nonexistent0' } }).catch((x: unknown) => x)) as NetlinkError;
  t.equal(e.code, 'ENODEV');
  t.equal(e.extack.message, undefined, 'no NETLINK_EXT_ACK, no message');
  t.throws(() => GenlClient.open({ prefer: 'npm-netlink', netns: '/run/netns/x' }), /cannot open a socket in another network namespace/);
});
