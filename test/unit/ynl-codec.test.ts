import t from 'tap';
import { fileURLToPath } from 'node:url';
import { YnlCodec, type YnlObject } from '../../src/genl/ynl-codec.js';
import { loadYnlSpecFile, parseYnlSpec } from '../../src/genl/ynl-spec.js';
import { NetlinkDecodeError, NetlinkEncodeError } from '../../src/netlink/errors.js';
import { YnlSpecError } from '../../src/genl/errors.js';
import { encodeAttr, attrU32, NLA_F_NESTED } from '../../src/netlink/wire.js';

const spec = (f: string): string => fileURLToPath(new URL(`../../fixtures/specs/${f}`, import.meta.url));
/** The kernel's spec, the one source of truth for the vifq wire format. */
const vifq = loadYnlSpecFile(fileURLToPath(new URL('../../kernel-patch/vifq.yaml', import.meta.url)));
/** Codec features the vifq spec does not use (binary with sub-type, max-len strings). */
const features = parseYnlSpec(`
name: features
attribute-sets:
  - name: s
    attributes:
      - {name: label, type: string, checks: {max-len: 15}}
      - {name: words, type: binary, sub-type: u32}
`, 'features');

function u64(type: number, v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return encodeAttr(type, b);
}

t.test('vifq spec: ops, numbering, groups', async (t) => {
  t.same(vifq.operations.map((o) => [o.name, o.requestValue, o.replyValue]), [
    ['vif-get', 1, 1], ['vif-set', 2, 2], ['vif-new', undefined, 3], ['vif-del', undefined, 4],
    ['config-get', 5, 5], ['config-set', 6, 6], ['release-report', undefined, 7],
  ]);
  t.equal(vifq.opsByName.get('vif-new')?.attributeSet, 'vif', 'notify inherits the attribute set');
  t.same(vifq.mcastGroups, ['config', 'reports']);
  t.same(vifq.opsByName.get('vif-set')?.flags, ['admin-perm']);
  const vif = vifq.attributeSets.get('vif');
  t.same(vif?.attrs.slice(0, 5).map((a) => [a.name, a.value]), [['ifindex', 1], ['domid', 2], ['handle', 3], ['ifname', 4], ['limit-bytes', 5]]);
  t.same(vif?.attrs.find((a) => a.name === 'throttled-ns')?.type, 'u64');
  t.same(vif?.attrs.find((a) => a.name === 'pending-bytes')?.type, 'u64');
});

t.test('ethtool excerpt: directional numbering and unused attrs', async (t) => {
  const s = loadYnlSpecFile(spec('ethtool-excerpt.yaml'));
  t.same(s.operations.map((o) => [o.name, o.requestValue, o.replyValue]), [['strset-get', 1, 1], ['linkinfo-get', 2, 2]]);
  t.equal(s.attributeSets.get('strings')?.attrs.find((a) => a.name === 'string')?.value, 1);
  t.equal(s.attributeSets.get('header')?.attrs.find((a) => a.name === 'dev-name')?.value, 2);
  // directional rules: a notification takes the reply id space
  const d = parseYnlSpec(`
name: x
attribute-sets: [{name: s, attributes: [{name: a, type: u32}]}]
operations:
  enum-model: directional
  list:
    - {name: get, attribute-set: s, do: {request: {attributes: [a]}, reply: {attributes: [a]}}}
    - {name: set, attribute-set: s, do: {request: {attributes: [a]}}}
    - {name: ntf, notify: get}
    - {name: act, attribute-set: s, do: {request: {attributes: [a]}, reply: {attributes: [a]}}}
`);
  t.same(d.operations.map((o) => [o.name, o.requestValue, o.replyValue]), [['get', 1, 1], ['set', 2, undefined], ['ntf', undefined, 2], ['act', 3, 3]]);
});

t.test('netdev.yaml from the kernel loads; subset-of resolves', async (t) => {
  const s = loadYnlSpecFile(spec('netdev.yaml'));
  const c = new YnlCodec(s);
  t.equal(s.opsByName.get('dev-get')?.requestValue, 1);
  t.equal(s.opsByName.get('qstats-get')?.requestValue, 12);
  t.same(s.attributeSets.get('queue-id')?.attrs.map((a) => [a.name, a.value, a.type]), [['id', 1, 'u32'], ['type', 3, 'u32']]);
  t.equal(s.attributeSets.get('page-pool')?.attrs.find((a) => a.name === 'id')?.checks.max, 0xffffffff);
  const buf = Buffer.concat([attrU32(1, 7), u64(3, 0b1011n)]);
  t.same(c.decode('dev', buf), { ifindex: 7, 'xdp-features': ['basic', 'redirect', 'xsk-zerocopy'] });
  // a bit the spec does not know is kept as its mask
  t.same(c.decode('dev', u64(3, 1n << 40n)), { 'xdp-features': [2 ** 40] });
});

t.test('encode/decode round trip of vif-set attributes', async (t) => {
  const c = new YnlCodec(vifq);
  const v = { ifindex: 12, 'limit-bytes': 65536, priority: 'low', group: 4, 'timeout-ms': 20, ifname: 'vif3.0', hist: [1, 2, 3] };
  const b = c.encode('vif', v);
  t.same(c.decode('vif', b), v);
  // enums accept numbers; decode returns names, unknown values stay numbers
  t.same(c.decode('vif', c.encode('vif', { priority: 1 })), { priority: 'low' });
  t.same(c.decode('vif', attrU32(17, 9)), { priority: 9 });
  // binary with a sub-type is an array of that type
  const f = new YnlCodec(features);
  t.same(f.decode('s', f.encode('s', { label: 'vif3.0', words: [1, 2, 3] })), { label: 'vif3.0', words: [1, 2, 3] });
});

t.test('u64: number when safe, bigint beyond 2^53; encoders take both', async (t) => {
  const c = new YnlCodec(vifq);
  t.same(c.decode('vif', u64(9, 2n ** 53n - 1n)), { bytes: Number.MAX_SAFE_INTEGER });
  t.same(c.decode('vif', u64(9, 2n ** 64n - 1n)), { bytes: 2n ** 64n - 1n });
  t.same(c.decode('vif', c.encode('vif', { bytes: 2n ** 63n })), { bytes: 2n ** 63n });
});

t.test('encode rejects what the spec forbids, typed', async (t) => {
  const c = new YnlCodec(vifq);
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ nope: 1 }, /has no attribute "nope"/],
    [{ ifindex: 0 }, /below the minimum 1/],
    [{ 'timeout-ms': 30001 }, /above the maximum 30000/],
    [{ domid: 32752 }, /above the maximum 32751/],
    [{ ifindex: -1 }, /below the minimum|out of range/],
    [{ ifindex: 2 ** 32 }, /out of range for u32/],
    [{ ifindex: 1.5 }, /not an integer/],
    [{ priority: 'medium' }, /"medium" is not in enum "priority"/],
    [{ ifname: 'a\0b' }, /cannot contain NUL/],
    [{ hist: 'x' }, /multi-attr needs an array/],
    [{ pad: 1 }, /has no attribute "pad"/],
  ];
  for (const [v, re] of bad) t.throws(() => c.encode('vif', v), { name: 'NetlinkEncodeError', message: re }, JSON.stringify(v));
  t.throws(() => new YnlCodec(features).encode('s', { label: 'a-name-longer-than-15' }), { name: 'NetlinkEncodeError', message: /longer than max-len 15/ });
  t.throws(() => c.encode('vif', { 'limit-bytes': 5 }, ['ifindex']), NetlinkEncodeError, 'op request list enforced');
  t.throws(() => c.encode('nope', {}), YnlSpecError);
});

t.test('nested multi-attr release report', async (t) => {
  const c = new YnlCodec(vifq);
  const report = {
    'interval-ms': 100,
    entry: [
      { ifindex: 5, domid: 1, handle: 0, bytes: 1000, packets: 3, 'latency-sum-ns': 900, 'latency-max-ns': 400, hist: [0, 1, 2], 'throttled-ns': 0 },
      { ifindex: 6, domid: 2, handle: 1, bytes: 2 ** 40, packets: 1, 'latency-sum-ns': 1, 'latency-max-ns': 1, 'throttled-ns': 77 },
    ],
  };
  const b = c.encode('report', report);
  t.same(c.decode('report', b), report);
  // an empty multi-attr list is no attribute at all, as the kernel sends it
  t.same(c.decode('report', c.encode('report', { entry: [{ ifindex: 1, hist: [] }] })), { entry: [{ ifindex: 1 }] });
  // nests carry NLA_F_NESTED, as strict kernel policies require
  const entryOff = b.indexOf(Buffer.from([0x02, 0x80]));
  t.ok(entryOff > 0 && (b.readUInt16LE(entryOff) & NLA_F_NESTED) !== 0);
});

t.test('unknown attributes are skipped and counted', async (t) => {
  const c = new YnlCodec(vifq);
  const b = Buffer.concat([attrU32(1, 5), attrU32(200, 1), encodeAttr(201, Buffer.alloc(13)), attrU32(2, 7)]);
  t.same(c.decode('vif', b), { ifindex: 5, domid: 7 });
  t.equal(c.stats.unknownAttributes, 2);
  const nested = encodeAttr(2, Buffer.concat([attrU32(2, 3), attrU32(99, 0)]), true);
  t.same(c.decode('report', nested), { entry: [{ domid: 3 }] });
  t.equal(c.stats.unknownAttributes, 3);
});

t.test('wrong lengths are typed decode errors with a path', async (t) => {
  const c = new YnlCodec(vifq);
  const cases: Array<[string, Buffer, RegExp]> = [
    ['vif', encodeAttr(1, Buffer.alloc(2)), /vif\.ifindex: u32 needs 4 bytes, got 2/],
    ['vif', encodeAttr(9, Buffer.alloc(4)), /vif\.bytes: u64 needs 8 bytes, got 4/],
    ['report', encodeAttr(2, encodeAttr(5, Buffer.alloc(3)), true), /report\.entry\[0\]\.pending-packets: u32 needs 4/],
    ['vif', Buffer.from([8, 0, 1, 0, 1, 0]), /nla_len 8, only 6 bytes left/],
    ['vif', Buffer.from([2, 0, 1, 0]), /nla_len 2 < 4/],
    ['vif', Buffer.concat([attrU32(1, 1), Buffer.from([1, 2])]), /2 trailing bytes/],
  ];
  for (const [set, b, re] of cases) t.throws(() => c.decode(set, b), { name: 'NetlinkDecodeError', message: re }, re.source);
  t.throws(() => new YnlCodec(features).decode('s', encodeAttr(2, Buffer.alloc(6))), { name: 'NetlinkDecodeError', message: /s\.words: binary of u32 has 6 bytes/ });
});

t.test('non-UTF-8 strings are rejected, not mangled', async (t) => {
  const c = new YnlCodec(vifq);
  const e = (() => { try { c.decode('vif', encodeAttr(4, Buffer.from([0x76, 0xff, 0xfe, 0]))); } catch (x) { return x; } return undefined; })();
  t.type(e, NetlinkDecodeError);
  t.match((e as Error).message, /vif\.ifname: string is not valid UTF-8/);
  t.same(c.decode('vif', encodeAttr(4, Buffer.from('vif1.0\0', 'utf8'))), { ifname: 'vif1.0' });
  t.same(c.decode('vif', encodeAttr(4, Buffer.from('vif1.0', 'utf8'))), { ifname: 'vif1.0' }, 'unterminated string still decodes');
});

t.test('nesting deeper than maxDepth is refused', async (t) => {
  const rec = parseYnlSpec(`
name: rec
attribute-sets:
  - name: node
    attributes:
      - {name: val, type: u32}
      - {name: child, type: nest, nested-attributes: node}
`);
  const c = new YnlCodec(rec, { maxDepth: 8 });
  let b: Buffer = attrU32(1, 42);
  for (let i = 0; i < 7; i++) b = encodeAttr(2, b, true);
  let v = c.decode('node', b) as YnlObject;
  for (let i = 0; i < 7; i++) v = v.child as YnlObject;
  t.same(v, { val: 42 }, '8 levels decode');
  b = encodeAttr(2, b, true);
  t.throws(() => c.decode('node', b), { name: 'NetlinkDecodeError', message: /nesting deeper than 8 levels/ });
  // default depth keeps 1000-level garbage from blowing the stack
  let deep: Buffer = Buffer.alloc(0);
  for (let i = 0; i < 1000 && deep.length < 60000; i++) deep = encodeAttr(2, deep, true);
  t.throws(() => new YnlCodec(rec).decode('node', deep), NetlinkDecodeError);
});

t.test('spec errors are typed and say where', async (t) => {
  const bad: Array<[string, RegExp]> = [
    ['name: [', /not valid YAML/],
    ['doc: x', /name must be a non-empty string/],
    ['name: x\nprotocol: netlink-raw', /protocol "netlink-raw" is not supported/],
    ['name: x\nattribute-sets: [{name: s, attributes: [{name: a, type: u128}]}]', /s\.a: unknown type "u128"/],
    ['name: x\nattribute-sets: [{name: s, attributes: [{name: a, type: nest, nested-attributes: t}]}]', /nested-attributes "t" is not defined/],
    ['name: x\nattribute-sets: [{name: s, attributes: [{name: a, type: u32, checks: {max: lots}}]}]', /cannot understand limit/],
    ['name: x\noperations: {list: [{name: o, attribute-set: zz, do: {}}]}', /attribute-set "zz" is not defined/],
    ['name: x\nattribute-sets: [{name: s, subset-of: t, attributes: [{name: a}]}]', /subset-of unknown set "t"/],
  ];
  for (const [y, re] of bad) t.throws(() => parseYnlSpec(y, 'inline'), { name: 'YnlSpecError', message: re }, re.source);
  t.throws(() => loadYnlSpecFile('/nonexistent/vifq.yaml'), { name: 'YnlSpecError', message: /ENOENT/ });
});

t.test('scalar variety: signed, big-endian, uint/sint widths, flag, bitfield32, indexed-array', async (t) => {
  const s = parseYnlSpec(`
name: v
definitions:
  - {type: flags, name: fl, entries: [a, b, {name: c, value: 5}]}
attribute-sets:
  - name: inner
    attributes: [{name: x, type: u16}]
  - name: s
    attributes:
      - {name: s8, type: s8}
      - {name: s16, type: s16}
      - {name: s32, type: s32}
      - {name: s64, type: s64}
      - {name: port, type: u16, byte-order: big-endian}
      - {name: ui, type: uint}
      - {name: si, type: sint}
      - {name: on, type: flag}
      - {name: bf, type: bitfield32}
      - {name: arr, type: indexed-array, sub-type: nest, nested-attributes: inner}
      - {name: f, type: u32, enum: fl}
      - {name: u8, type: u8}
      - {name: raw, type: binary, checks: {exact-len: 6}}
      - {name: ids, type: indexed-array, sub-type: u32}
`);
  const c = new YnlCodec(s);
  const v = {
    s8: -5, s16: -300, s32: -70000, s64: -(2 ** 40), port: 443, ui: 2 ** 33, si: -(2 ** 35), on: true,
    bf: { value: 1, selector: 3 }, arr: [{ x: 1 }, { x: 2 }], f: ['a', 'c'], u8: 255, raw: Buffer.from('abcdef'), ids: [7, 8],
  };
  const b = c.encode('s', v);
  t.same(c.decode('s', b), v);
  t.equal(c.encode('s', { port: 443 }).readUInt16BE(4), 443, 'network byte order on the wire');
  t.equal(c.encode('s', { ui: 5 }).length, 8, 'uint uses 4 bytes when it fits');
  t.same(c.decode('s', c.encode('s', { on: false })), {}, 'false flag is omitted');
  t.throws(() => c.encode('s', { raw: Buffer.alloc(5) }), /exact-len is 6/);
  t.throws(() => c.decode('s', encodeAttr(8, Buffer.alloc(1))), /flag has 1 bytes/);
  t.same(c.decode('s', attrU32(11, 2 | 8)), { f: ['b', 8] });
});
