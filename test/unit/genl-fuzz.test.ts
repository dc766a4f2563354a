/**
 * Property tests: random bytes into every decoder. The only acceptable
 * failure is a typed NetlinkDecodeError; never another exception, a hang
 * or a crash. Plus encode/decode round trips of random vifq objects.
 */
import t from 'tap';
import fc from 'fast-check';
import { fileURLToPath } from 'node:url';
import { YnlCodec } from '../../src/genl/ynl-codec.js';
import { loadYnlSpecFile } from '../../src/genl/ynl-spec.js';
import { NetlinkDecodeError } from '../../src/netlink/errors.js';
import { parseAttrs, parseErrorPayload, splitNlMsgs, encodeAttr } from '../../src/netlink/wire.js';
import { parseCtrlFamily } from '../../src/genl/genl.js';
import { decodeLink } from '../../src/topology/rtnl.js';
import { NetlinkConnection } from '../../src/netlink/connection.js';
import { FakeTransport } from '../helpers/genl-fakes.js';

const vifq = loadYnlSpecFile(fileURLToPath(new URL('../../kernel-patch/vifq.yaml', import.meta.url)));
const netdev = loadYnlSpecFile(fileURLToPath(new URL('../../fixtures/specs/netdev.yaml', import.meta.url)));
const ethtool = loadYnlSpecFile(fileURLToPath(new URL('../../fixtures/specs/ethtool-excerpt.yaml', import.meta.url)));

function onlyDecodeErrors(f: () => unknown): boolean {
  try {
    f();
    return true;
  } catch (e) {
    if (e instanceof NetlinkDecodeError) return true;
    throw e;
  }
}

/** Random bytes, plus random bytes that look like attributes (so decoders get past the first TLV). */
const attrish = fc.array(
  fc.record({ type: fc.integer({ min: 0, max: 20 }), nested: fc.boolean(), body: fc.uint8Array({ maxLength: 24 }) }),
  { maxLength: 8 },
).map((xs) => Buffer.concat(xs.map((x) => encodeAttr(x.type, Buffer.from(x.body), x.nested))));
const bytes = fc.oneof(fc.uint8Array({ maxLength: 256 }).map((u) => Buffer.from(u)), attrish,
  // nested attributes inside nested attributes
  attrish.map((inner) => Buffer.concat([encodeAttr(5, inner, true), encodeAttr(5, encodeAttr(9, inner, true), true)])),
  // vifq's report.entry (2) holding report-entry attributes
  attrish.map((inner) => Buffer.concat([encodeAttr(2, inner, true), encodeAttr(2, encodeAttr(10, inner, true), true)])));

const runs = { numRuns: 400, seed: 20261125 };

t.test('codec decoders over random bytes', async (t) => {
  for (const s of [vifq, netdev, ethtool]) {
    const c = new YnlCodec(s);
    for (const set of s.attributeSets.keys()) {
      fc.assert(fc.property(bytes, (b) => onlyDecodeErrors(() => c.decode(set, b))), { ...runs, numRuns: 60 });
    }
  }
  t.pass('no untyped exception');
});

t.test('framing decoders over random bytes', async (t) => {
  fc.assert(fc.property(bytes, (b) => onlyDecodeErrors(() => splitNlMsgs(b))), runs);
  fc.assert(fc.property(bytes, (b) => onlyDecodeErrors(() => parseAttrs(b))), runs);
  fc.assert(fc.property(bytes, fc.integer({ min: 0, max: 0xffff }), (b, flags) => onlyDecodeErrors(() => parseErrorPayload(b, flags))), runs);
  fc.assert(fc.property(bytes, (b) => onlyDecodeErrors(() => parseCtrlFamily(b))), runs);
  fc.assert(fc.property(bytes, (b) => onlyDecodeErrors(() => decodeLink({ len: 16 + b.length, type: 16, flags: 0, seq: 0, pid: 0, payload: b }))), runs);
  t.pass('no untyped exception');
});

t.test('a connection fed random datagrams never throws and stays usable', async (t) => {
  const tr = new FakeTransport();
  const c = new NetlinkConnection(tr, { timeoutMs: 1000 });
  c.on('warning', () => {});
  c.on('notification', () => {});
  c.on('resync-needed', () => {});
  fc.assert(fc.property(bytes, (b) => {
    tr.deliver(b);
    return !c.isClosed;
  }), runs);
  t.notOk(c.isClosed);
  c.close();
});

t.test('random vifq release reports round-trip', async (t) => {
  const c = new YnlCodec(vifq);
  const u32 = fc.integer({ min: 0, max: 0xffffffff });
  const u64 = fc.oneof(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.bigInt({ min: 2n ** 53n, max: 2n ** 64n - 1n }));
  const entry = fc.record({
    ifindex: u32, domid: u32, handle: u32, 'pending-bytes': u64, 'pending-packets': u32, bytes: u64, packets: u64,
    'latency-sum-ns': u64, 'latency-max-ns': u64, hist: fc.array(u64, { minLength: 1, maxLength: 24 }),
    'throttle-events': u64, 'throttled-ns': u64,
  }, { requiredKeys: ['ifindex'] });
  const report = fc.record({ 'interval-ms': u32, entry: fc.array(entry, { minLength: 1, maxLength: 20 }) });
  fc.assert(fc.property(report, (r) => {
    t.same(c.decode('report', c.encode('report', r)), r);
    return true;
  }), { numRuns: 100, seed: 7 });
  // and a truncation of a valid report at any point is a typed error or a shorter valid decode
  const b = c.encode('report', { 'interval-ms': 1000, entry: [{ ifindex: 1, bytes: 5, hist: [1, 2] }] });
  for (let n = 0; n < b.length; n++) t.ok(onlyDecodeErrors(() => c.decode('report', b.subarray(0, n))));
});
