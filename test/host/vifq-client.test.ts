/**
 * VifqClient against this machine's real kernel, which has no vifq family (the lab has it):
 * the typed "module missing" path through real nlctrl, and the nlctrl notify group the client
 * follows for module reloads. Needs no root.
 */
import t from 'tap';
import { GenlClient } from '../../src/genl/genl.js';
import { FamilyNotFoundError } from '../../src/genl/errors.js';
import { VifqClient } from '../../src/vifq/client.js';
import { VifqUnavailableError } from '../../src/vifq/errors.js';

t.test('no vifq family in this kernel: VifqUnavailableError naming the version and `vifq doctor`', async (t) => {
  const e = await VifqClient.open({ prefer: 'native', timeoutMs: 3000 }).catch((x: unknown) => x);
  t.type(e, VifqUnavailableError);
  t.type((e as VifqUnavailableError).cause, FamilyNotFoundError, 'from the kernel\'s nlctrl answer');
  t.match((e as VifqUnavailableError).message, /version 1 or later/);
  t.match((e as VifqUnavailableError).hint, /vifq doctor/);
  t.equal((e as VifqUnavailableError).exitCode, 3);
});

t.test('the nlctrl notify group (how the client sees module reloads) can be joined', async (t) => {
  const c = GenlClient.open({ prefer: 'native', timeoutMs: 3000 });
  t.teardown(() => c.close());
  const id = await c.subscribe('nlctrl', 'notify');
  t.ok(id > 0, `nlctrl notify is group ${id}`);
});
