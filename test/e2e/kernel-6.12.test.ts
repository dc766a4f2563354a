/**
 * The lab's second kernel: Debian's 6.12 (pinned in kernels.conf) boots as dom0
 * and as a PV guest, and netback carries md5-checked traffic both ways.
 */
import t from 'tap';
import { Lab } from '../lab/lab.js';
import { md5Traffic } from '../lab/traffic.js';

const lab = await Lab.boot({ name: 'kernel-6.12', guests: 1, kernel: '6.12' });
t.teardown(() => lab.close({ collect: !t.passing() }));

t.test('dom0 and the guest run the pinned 6.12 kernel', async (t) => {
  t.match(await lab.dom0Ok('uname -r'), /^6\.12\.\d+\+deb12-amd64/);
  t.match((await lab.guest(1, 'uname -r')).stdout, /^6\.12\.\d+\+deb12-amd64/);
});

t.test('md5-checked traffic both ways through the 6.12 netback', async (t) => {
  const r = await md5Traffic(lab, 1, 4);
  t.equal(r.toGuest.got, r.toGuest.want, 'dom0 → guest data intact');
  t.equal(r.fromGuest.got, r.fromGuest.want, 'guest → dom0 data intact');
});
