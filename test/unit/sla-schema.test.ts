import t from 'tap';
import fc from 'fast-check';
import {
  SLA_DEFAULTS, SlaDomidError, SlaGuestWritableDirectoryFinding, SlaUnknownNodeFinding, SlaUntrustedNodeFinding, SlaValueFinding,
  defaultHostSettings, effectiveSla, formatHostDefaultNodes, formatHostNodes, formatSlaNodes, formatUplinkNodes, guestNodeDistrust,
  hostNodeDistrust, parseGuestSla, parseHostSettings, slaValues, type HostValues, type SlaNode, type SlaPerms, type SlaValues,
  type UplinkValues,
} from '../../src/sla/index.js';
import { parsePerms, type XsPerms } from '../../src/xenstore/perms.js';
import { VifqError } from '../../src/errors.js';

const P = (...s: string[]): SlaPerms => parsePerms(s);
const DOM0 = P('n0', 'r7'); // what `vifq domain set` writes: dom0 owns, the guest may read
const node = (path: string, value: string | Buffer, perms: SlaPerms = DOM0): SlaNode => ({ path, value: typeof value === 'string' ? Buffer.from(value) : value, perms });

t.test('the structural permission type accepts the xenstore client\'s XsPerms', async (t) => {
  const xs: XsPerms = parsePerms(['n0', 'r7']);
  const sla: SlaPerms = xs;
  t.equal(guestNodeDistrust(sla, 7), null);
});

t.test('trust: dom0 owns it and the guest cannot write it', async (t) => {
  t.equal(guestNodeDistrust(P('n0'), 7), null);
  t.equal(guestNodeDistrust(P('r0'), 7), null, 'everyone may read');
  t.equal(guestNodeDistrust(P('n0', 'r7'), 7), null);
  t.equal(guestNodeDistrust(P('n0', 'w8'), 7), null, 'another domain\'s write is not the guest\'s');
  t.match(guestNodeDistrust(P('n7'), 7), /owned by the guest/);
  t.match(guestNodeDistrust(P('n3'), 7), /owned by domain 3/);
  t.match(guestNodeDistrust(P('w0'), 7), /may write/, 'default access write covers the guest');
  t.match(guestNodeDistrust(P('b0'), 7), /may write/);
  t.match(guestNodeDistrust(P('n0', 'b7'), 7), /may write/);
  t.match(guestNodeDistrust(P('n0', 'w7'), 7), /may write/);
  t.equal(guestNodeDistrust(P('w0', 'r7'), 7), null, 'an explicit read entry overrides the default write');
  t.equal(guestNodeDistrust(P('n0', 'r7', 'w7'), 7), null, 'the first entry for a domain wins');
  t.match(guestNodeDistrust(P('n0', 'w7', 'r7'), 7), /may write/);
  t.equal(hostNodeDistrust(P('n0')), null);
  t.equal(hostNodeDistrust(P('r0')), null);
  t.match(hostNodeDistrust(P('w0')), /every domain/);
  t.match(hostNodeDistrust(P('n0', 'b4')), /domain 4/);
  t.equal(hostNodeDistrust(P('n0', 'r4', 'w4')), null, 'the first entry for a domain wins');
  t.match(hostNodeDistrust(P('n5')), /owned by domain 5/);
});

t.test('a guest\'s nodes: values, sources and per-vif overrides', async (t) => {
  const r = parseGuestSla(7, [
    node('/local/domain/7/vifq', ''),
    node('/local/domain/7/vifq/priority', 'low'),
    node('/local/domain/7/vifq/weight', '300'),
    node('/local/domain/7/vifq/pending-bytes', '64k'),
    node('/local/domain/7/vifq/pending-packets', 'none'),
    node('/local/domain/7/vifq/timeout-ms', '2s'),
    node('/local/domain/7/vifq/vif', ''),
    node('/local/domain/7/vifq/vif/1', ''),
    node('/local/domain/7/vifq/vif/1/weight', '50'),
  ]);
  t.same(r.findings, []);
  t.same(r.sla.guest.weight, { value: 300, source: 'guest', path: '/local/domain/7/vifq/weight' });
  t.equal(r.sla.guest.pendingBytes?.value, 65536);
  t.equal(r.sla.guest.pendingPackets?.value, null);
  t.equal(r.sla.guest.timeoutMs?.value, 2000);
  t.same(r.sla.vifs.get(1)?.weight, { value: 50, source: 'vif', path: '/local/domain/7/vifq/vif/1/weight' });
  const host = defaultHostSettings();
  const vif0 = effectiveSla(host, r.sla, 7, 0);
  const vif1 = effectiveSla(host, r.sla, 7, 1);
  t.equal(vif0.fields.weight.value, 300);
  t.equal(vif1.fields.weight.value, 50);
  t.equal(vif1.fields.weight.source, 'vif');
  t.equal(vif1.fields.priority.source, 'guest');
  t.same(slaValues(vif1), { priority: 'low', weight: 50, pendingBytes: 65536, pendingPackets: null, timeoutMs: 2000 });
  t.throws(() => parseGuestSla(0, []), SlaDomidError);
  t.throws(() => parseGuestSla(40000, []), SlaDomidError);
  t.throws(() => parseGuestSla(1.5, []), SlaDomidError);
});

t.test('precedence: vif > guest > host default > built-in', async (t) => {
  const host = parseHostSettings([node('/local/domain/0/vifq/default/weight', '20', P('n0')), node('/local/domain/0/vifq/default/timeout-ms', '50', P('n0'))]);
  t.same(host.findings, []);
  const guest = parseGuestSla(7, [node('/local/domain/7/vifq/timeout-ms', '60')]).sla;
  const e = effectiveSla(host.settings, guest, 7, 0);
  t.same([e.fields.weight.value, e.fields.weight.source], [20, 'host']);
  t.same([e.fields.timeoutMs.value, e.fields.timeoutMs.source], [60, 'guest']);
  t.same([e.fields.priority.value, e.fields.priority.source, e.fields.priority.path], ['high', 'default', null]);
  t.same(slaValues(effectiveSla(defaultHostSettings(), null, 3, 0)), SLA_DEFAULTS);
});

t.test('untrusted, bad and unknown nodes: ignored with one typed finding each, defaults apply', async (t) => {
  const r = parseGuestSla(7, [
    node('/local/domain/7/vifq/priority', 'high', P('b7')), // the guest made it
    node('/local/domain/7/vifq/weight', '1000', P('n0', 'w7')), // dom0's, but the guest may write
    node('/local/domain/7/vifq/pending-bytes', '3g'),
    node('/local/domain/7/vifq/pending-packets', Buffer.from([0xc3, 0x28])),
    node('/local/domain/7/vifq/timeout-ms', ''),
    node('/local/domain/7/vifq/wieght', '5'),
    node('/local/domain/7/vifq/vif/x/weight', '5'),
    node('/local/domain/7/vifq/vif/0', '', P('n7')),
    node('/local/domain/7/vifq/junk', 'x', P('n7')), // a guest's own unknown node: nobody's business
  ]);
  const by = (cls: new (...a: never[]) => unknown): unknown[] => r.findings.filter((f) => f instanceof cls);
  t.equal(by(SlaUntrustedNodeFinding).length, 2);
  t.equal(by(SlaValueFinding).length, 3);
  t.equal(by(SlaUnknownNodeFinding).length, 2);
  t.equal(by(SlaGuestWritableDirectoryFinding).length, 1);
  t.equal(r.findings.length, 8);
  t.same(r.findings.map((f) => f.code).sort(), ['empty-value', 'guest-writable-directory', 'not-utf8', 'out-of-range', 'unknown-node', 'unknown-node', 'untrusted-node', 'untrusted-node']);
  for (const f of r.findings) {
    t.type(f, VifqError);
    t.ok(f.message.includes(f.path) && (f.hint ?? '').length > 10, `${f.code}: message names the node, hint says what to do`);
  }
  t.match(r.findings.find((f) => f.code === 'untrusted-node')?.hint, /xenstore-chmod .* n0/);
  t.same(slaValues(effectiveSla(defaultHostSettings(), r.sla, 7, 0)), SLA_DEFAULTS);
  // the key is stable across re-reads, so the caller logs once
  const again = parseGuestSla(7, [node('/local/domain/7/vifq/priority', 'high', P('b7'))]);
  t.equal(again.findings[0]?.key, r.findings.find((f) => f.path.endsWith('/priority'))?.key);
});

t.test('host settings: interval, adaptation, on-stop, uplinks', async (t) => {
  const H = (rel: string, v: string, perms = P('n0')): SlaNode => node(`/local/domain/0/vifq/${rel}`, v, perms);
  const r = parseHostSettings([
    H('report-interval-ms', '500ms'), H('adaptation', 'off'), H('on-stop', 'reset'),
    H('uplink', ''), H('uplink/eth0', ''), H('uplink/eth0/rate', '4mbit'), H('uplink/eth0/budget', '5ms'),
    H('uplink/bond0/budget', '48k'), H('uplink/eth1/budget', 'auto'),
  ]);
  t.same(r.findings, []);
  t.same(r.settings.reportIntervalMs, { value: 500, source: 'host', path: '/local/domain/0/vifq/report-interval-ms' });
  t.equal(r.settings.adaptation.value, false);
  t.equal(r.settings.onStop.value, 'reset');
  t.same(r.settings.uplinks.get('eth0')?.rateBitsPerSec.value, 4e6);
  t.same(r.settings.uplinks.get('eth0')?.budget.value, { kind: 'time', us: 5000 });
  t.same(r.settings.uplinks.get('bond0')?.budget.value, { kind: 'bytes', bytes: 49152 });
  t.same(r.settings.uplinks.get('bond0')?.rateBitsPerSec, { value: null, source: 'default', path: null });
  t.same(r.settings.uplinks.get('eth1')?.budget.value, { kind: 'auto' });
  const d = defaultHostSettings();
  t.same([d.reportIntervalMs.value, d.adaptation.value, d.onStop.value], [1000, true, 'keep']);

  const bad = parseHostSettings([
    H('report-interval-ms', '5'), H('adaptation', 'yes'), H('uplink/eth0/rate', '100'), H('uplink/eth0/budget', '5 ms'),
    H('uplink/this-name-is-too-long/rate', '1gbit'), H('on-stop', 'keep', P('n0', 'w3')), H('frobnicate', '1'),
    node('/local/domain/1/vifq/weight', '3', P('n0')),
  ]);
  t.same(bad.findings.map((f) => f.code), ['out-of-range', 'bad-syntax', 'bad-unit', 'bad-syntax', 'bad-syntax', 'untrusted-node', 'unknown-node', 'unknown-node']);
  t.same([bad.settings.reportIntervalMs.value, bad.settings.adaptation.value, bad.settings.onStop.source], [1000, true, 'default']);
});

// ---- properties ----------------------------------------------------------------------------

const slaValuesArb: fc.Arbitrary<SlaValues> = fc.record({
  priority: fc.constantFrom('high' as const, 'low' as const),
  weight: fc.integer({ min: 1, max: 1000 }),
  pendingBytes: fc.option(fc.integer({ min: 1, max: 2 ** 31 - 1 })),
  pendingPackets: fc.option(fc.integer({ min: 1, max: 2 ** 31 - 1 })),
  timeoutMs: fc.integer({ min: 1, max: 30000 }),
});
const partialSla = slaValuesArb.chain((v) => fc.subarray(Object.keys(v) as (keyof SlaValues)[]).map((keys) => Object.fromEntries(keys.map((k) => [k, v[k]])) as Partial<SlaValues>));
const domid = fc.integer({ min: 1, max: 32751 });
const handle = fc.integer({ min: 0, max: 2 ** 31 - 1 });

t.test('property: format then parse gives back the SLA', async (t) => {
  fc.assert(fc.property(domid, handle, slaValuesArb, partialSla, (d, h, guestValues, vifValues) => {
    const nodes = [...formatSlaNodes(d, null, guestValues), ...formatSlaNodes(d, h, vifValues)].map((w) => node(w.path, w.value, P('n0', `r${d}`)));
    const r = parseGuestSla(d, nodes);
    if (r.findings.length > 0) return false;
    const e = slaValues(effectiveSla(defaultHostSettings(), r.sla, d, h));
    t.same(e, { ...guestValues, ...vifValues });
    return true;
  }), { numRuns: 200 });
  const host: fc.Arbitrary<[Partial<HostValues>, Partial<UplinkValues>]> = fc.tuple(
    fc.record({ reportIntervalMs: fc.integer({ min: 10, max: 30000 }), adaptation: fc.boolean(), onStop: fc.constantFrom('keep' as const, 'reset' as const) }, { requiredKeys: [] }),
    fc.record({
      rateBitsPerSec: fc.option(fc.integer({ min: 1000, max: 1e13 })),
      budget: fc.oneof(fc.constant({ kind: 'auto' as const }), fc.integer({ min: 1, max: 2 ** 31 - 1 }).map((bytes) => ({ kind: 'bytes' as const, bytes })), fc.integer({ min: 10, max: 1e7 }).map((us) => ({ kind: 'time' as const, us }))),
    }, { requiredKeys: [] }),
  );
  fc.assert(fc.property(host, slaValuesArb, ([hv, uv], defaults) => {
    const nodes = [...formatHostNodes(hv), ...formatUplinkNodes('eth0', uv), ...formatHostDefaultNodes(defaults)].map((w) => node(w.path, w.value, P('n0')));
    const r = parseHostSettings(nodes);
    if (r.findings.length > 0) return false;
    for (const [k, v] of Object.entries(hv)) t.same(r.settings[k as keyof HostValues].value, v);
    const up = r.settings.uplinks.get('eth0');
    for (const [k, v] of Object.entries(uv)) t.same(up?.[k as keyof UplinkValues].value, v);
    t.same(slaValues(effectiveSla(r.settings, null, 5, 0)), defaults);
    return true;
  }), { numRuns: 100 });
});

t.test('property: a guest never changes its SLA with a node it may write', async (t) => {
  const guestPerms = (d: number): fc.Arbitrary<SlaPerms> => fc.constantFrom(P(`n${d}`), P(`b${d}`), P('w0'), P('b0'), P('n0', `w${d}`), P('n0', `b${d}`), P(`r${d}`, 'r0'));
  const names = fc.constantFrom('priority', 'weight', 'pending-bytes', 'pending-packets', 'timeout-ms');
  const guestWrite = (d: number) => fc.record({
    path: fc.oneof(names.map((n) => `/local/domain/${d}/vifq/${n}`), fc.tuple(fc.integer({ min: 0, max: 3 }), names).map(([h, n]) => `/local/domain/${d}/vifq/vif/${h}/${n}`)),
    value: fc.oneof(fc.constantFrom('high', 'low', '1000', '1', 'none', '2g', '30s', '64k'), fc.string()),
    perms: guestPerms(d),
  });
  fc.assert(fc.property(domid.chain((d) => fc.tuple(fc.constant(d), partialSla, fc.array(guestWrite(d), { maxLength: 8 }))), ([d, trusted, writes]) => {
    const trustedNodes = formatSlaNodes(d, null, trusted).map((w) => node(w.path, w.value, P('n0', `r${d}`)));
    // a path holds one node: a guest-writable node replaces dom0's node at the same path
    const written = new Set(writes.map((w) => w.path));
    const base = parseGuestSla(d, trustedNodes.filter((n) => !written.has(n.path)));
    const attacked = parseGuestSla(d, [...trustedNodes.filter((n) => !written.has(n.path)), ...writes.map((w) => node(w.path, w.value, w.perms))]);
    for (const h of [0, 1, 2, 3]) {
      t.same(slaValues(effectiveSla(defaultHostSettings(), attacked.sla, d, h)), slaValues(effectiveSla(defaultHostSettings(), base.sla, d, h)));
    }
    return attacked.findings.filter((f) => f.code === 'untrusted-node').length === writes.length;
  }), { numRuns: 200 });
});
