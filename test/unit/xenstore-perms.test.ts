import t from 'tap';
import fc from 'fast-check';
import {
  canRead,
  canWrite,
  effectiveAccess,
  formatPerms,
  ownedByDom0AndNotGuestWritable,
  parsePerm,
  parsePerms,
  type XsAccess,
  type XsPerm,
  type XsPerms,
} from '../../src/xenstore/perms.js';
import { XsInvalidError, XsProtocolError } from '../../src/xenstore/errors.js';

const P = (...s: string[]): XsPerms => parsePerms(s);

t.test('parses the four letters and domids', async (t) => {
  t.same(parsePerm('n0'), { domid: 0, access: 'none' });
  t.same(parsePerm('r5'), { domid: 5, access: 'read' });
  t.same(parsePerm('w12'), { domid: 12, access: 'write' });
  t.same(parsePerm('b65535'), { domid: 65535, access: 'both' });
  t.same(P('n0', 'r5'), [
    { domid: 0, access: 'none' },
    { domid: 5, access: 'read' },
  ]);
});

t.test('rejects malformed permission strings as XsProtocolError(malformed)', async (t) => {
  for (const bad of ['', 'x0', 'n', 'r-1', 'r65536', 'b01', 'n0 ', 'N0', 'r1.5', 'rr1']) {
    const err = t.throws(() => parsePerm(bad), bad) as XsProtocolError;
    t.type(err, XsProtocolError);
    t.equal(err.fault, 'malformed');
  }
  t.throws(() => parsePerms([]), XsProtocolError, 'an empty list has no owner');
});

t.test('formats typed permissions to the wire form', async (t) => {
  t.same(formatPerms([{ domid: 0, access: 'none' }, { domid: 3, access: 'read' }, { domid: 4, access: 'both' }, { domid: 5, access: 'write' }]), [
    'n0',
    'r3',
    'b4',
    'w5',
  ]);
  t.throws(() => formatPerms([]), XsInvalidError);
  t.throws(() => formatPerms([{ domid: -1, access: 'none' }]), XsInvalidError);
  t.throws(() => formatPerms([{ domid: 70000, access: 'none' }]), XsInvalidError);
  t.throws(() => formatPerms([{ domid: 1, access: 'all' as XsAccess }]), XsInvalidError);
});

t.test('effective access follows xenstored: owner full, explicit entry, else the default', async (t) => {
  const perms = P('r0', 'w5', 'n6');
  t.equal(effectiveAccess(perms, 0), 'both', 'owner');
  t.equal(effectiveAccess(perms, 5), 'write');
  t.equal(effectiveAccess(perms, 6), 'none');
  t.equal(effectiveAccess(perms, 7), 'read', 'default = owner entry letter');
  t.equal(effectiveAccess(P('n3'), 3), 'both', 'owner has full access whatever its letter');
  t.equal(effectiveAccess(P('n0', 'r5', 'b5'), 5), 'read', 'first explicit entry wins');
  t.ok(canWrite('both') && canWrite('write') && !canWrite('read') && !canWrite('none'));
  t.ok(canRead('both') && canRead('read') && !canRead('write') && !canRead('none'));
});

t.test('ownedByDom0AndNotGuestWritable', async (t) => {
  const cases: Array<[string[], number, boolean, string]> = [
    [['n0'], 5, true, 'dom0 owns, no access for others'],
    [['r0'], 5, true, 'guest may read'],
    [['n0', 'r5'], 5, true, 'explicit read'],
    [['b0'], 5, false, 'default both lets the guest write'],
    [['w0'], 5, false, 'default write'],
    [['n0', 'w5'], 5, false, 'explicit write'],
    [['n0', 'b5'], 5, false, 'explicit both'],
    [['b0', 'r5'], 5, true, 'explicit read overrides a writable default'],
    [['n0', 'w6'], 5, true, 'another guest may write, not this one'],
    [['n5'], 5, false, 'guest owns it'],
    [['n5', 'r0'], 5, false, 'guest owns it, dom0 listed'],
    [['n7'], 5, false, 'another guest owns it'],
    [['n0'], 0, false, 'the "guest" is dom0 itself'],
  ];
  for (const [strs, guest, want, why] of cases) {
    t.equal(ownedByDom0AndNotGuestWritable(P(...strs), guest), want, `${strs.join(',')} guest ${guest}: ${why}`);
  }
});

const permArb: fc.Arbitrary<XsPerm> = fc.record({
  domid: fc.integer({ min: 0, max: 65535 }),
  access: fc.constantFrom<XsAccess>('none', 'read', 'write', 'both'),
});

t.test('property: parse(format(perms)) is the identity', async (t) => {
  fc.assert(
    fc.property(fc.array(permArb, { minLength: 1, maxLength: 8 }), (perms) => {
      return JSON.stringify(parsePerms(formatPerms(perms))) === JSON.stringify(perms);
    }),
    { numRuns: 300 },
  );
  t.pass();
});

t.test('property: trust holds iff dom0 owns and the guest effectively cannot write', async (t) => {
  fc.assert(
    fc.property(fc.array(permArb, { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 8 }), (list, guest) => {
      const perms = parsePerms(formatPerms(list));
      const trusted = ownedByDom0AndNotGuestWritable(perms, guest);
      if (perms[0].domid !== 0) return !trusted;
      return trusted === !canWrite(effectiveAccess(perms, guest));
    }),
    { numRuns: 300 },
  );
  t.pass();
});
