/**
 * Negative control for the md5 traffic test: with a netback that flips one byte
 * of every large frame it sends to the guest, the same check must see the
 * corruption. If this test fails, the traffic test cannot catch a broken netback.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Lab, REPO } from '../lab/lab.js';
import { md5Traffic } from '../lab/traffic.js';

const module = join(REPO, 'build', 'netback', 'corrupt-guest-rx.ko');
execFileSync(join(REPO, 'dom0-scripts/lab/build-netback.sh'),
  ['--out', module, '--patch', join(REPO, 'fixtures/lab/corrupt-guest-rx.patch')], { stdio: 'inherit' });

const lab = await Lab.boot({ name: 'negative-control', guests: 1, netback: module });
t.teardown(() => lab.close({ collect: !t.passing() }));

t.test('the corrupting module is the one loaded', async (t) => {
  const r = await lab.dom0Ok('cat /sys/module/xen_netback/taint; md5sum < /lab/xen-netback.ko');
  t.match(r, /O/, 'xen_netback is an out-of-tree module (taint O)');
});

t.test('md5 traffic check detects the corruption', async (t) => {
  const r = await md5Traffic(lab, 1, 2);
  t.match(r.toGuest.want, /^[0-9a-f]{32}$/);
  t.not(r.toGuest.got, r.toGuest.want, 'dom0 → guest mismatch is detected');
  t.equal(r.fromGuest.got, r.fromGuest.want, 'guest → dom0 (not corrupted by this module) still intact');
});
