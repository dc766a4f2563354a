import t from 'tap';
import { VifqError } from '../../src/errors.js';
import {
  XenstoreError,
  XsAccessError,
  XsAgainError,
  XsErrnoError,
  XsInvalidError,
  XsNoEntryError,
  XsQuotaError,
  XsTooBigError,
  XsTransactionConflictError,
  xsErrnoErrorFor,
} from '../../src/xenstore/errors.js';

t.test('XS_ERROR names map to typed classes with the Linux errno', async (t) => {
  const ctx = { op: 'XS_READ', path: '/a' };
  const cases: Array<[string, new (...a: never[]) => XsErrnoError, number | undefined]> = [
    ['ENOENT', XsNoEntryError, 2],
    ['EACCES', XsAccessError, 13],
    ['EAGAIN', XsAgainError, 11],
    ['E2BIG', XsTooBigError, 7],
    ['EQUOTA', XsQuotaError, 122],
    ['EINVAL', XsInvalidError, 22],
    ['EBUSY', XsErrnoError, 16],
    ['EWHATEVER', XsErrnoError, undefined],
  ];
  for (const [name, cls, errno] of cases) {
    const e = xsErrnoErrorFor(name, ctx);
    t.type(e, cls, name);
    t.type(e, XenstoreError);
    t.type(e, VifqError);
    t.equal(e.code, name);
    t.equal(e.errno, errno);
    t.equal(e.path, '/a');
    t.equal(e.op, 'XS_READ');
    t.match(e.message, new RegExp(`^XS_READ /a failed with ${name}`));
  }
});

t.test("oxenstored's 'EINVAL: detail' form keeps the detail", async (t) => {
  const e = xsErrnoErrorFor("EINVAL: Could not convert 'x' to int", { op: 'XS_RELEASE' });
  t.type(e, XsInvalidError);
  t.match(e.message, /failed with EINVAL: Could not convert 'x' to int/);
});

t.test('messages carry a next step', async (t) => {
  t.match(new XsNoEntryError({ path: '/x' }).message, /does not exist/);
  t.match(new XsAccessError({ path: '/x' }).message, /getPerms/);
  t.match(new XsTooBigError().message, /4096/);
  const c = new XsTransactionConflictError(3);
  t.type(c, XsAgainError, 'a conflict is still an EAGAIN');
  t.equal(c.attempts, 3);
  t.match(c.message, /after 3 attempts/);
  t.equal(c.name, 'XsTransactionConflictError');
  t.equal(xsErrnoErrorFor('').code, 'EUNKNOWN');
});
