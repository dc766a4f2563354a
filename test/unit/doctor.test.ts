import t from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkDom0, checkHypervisor, checkNetback, checkXenstored, type HostPaths } from '../../src/doctor/checks.js';

function tree(files: Record<string, string>): HostPaths {
  const root = t.testdir();
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return { sys: join(root, 'sys'), proc: join(root, 'proc'), xenstoredSocket: join(root, 'sock'), xenbusDevice: join(root, 'xenbus') };
}

t.test('a Xen dom0 with netback loaded passes', async (t) => {
  const p = tree({
    'sys/hypervisor/type': 'xen\n', 'sys/hypervisor/version/major': '4', 'sys/hypervisor/version/minor': '17',
    'proc/xen/capabilities': 'control_d\n', 'sys/module/xen_netback/taint': 'O', 'sys/module/xen_netback/srcversion': 'ABC',
    'sys/class/net/vif3.0/x': '', 'sys/class/net/eth0/x': '',
  });
  t.same(checkHypervisor(p), { check: 'xen hypervisor', status: 'ok', detail: 'Xen 4.17' });
  t.equal(checkDom0(p).status, 'ok');
  t.match(checkNetback(p).detail, /out-of-tree build, srcversion ABC\), 1 vif/);
});

t.test('a guest, a KVM host and a missing module are reported with a hint', async (t) => {
  const guest = tree({ 'sys/hypervisor/type': 'xen', 'proc/xen/capabilities': '' });
  t.match(checkDom0(guest), { status: 'fail', detail: /guest/ });
  t.match(checkNetback(guest), { status: 'fail', hint: /modprobe xen-netback/ });
  const kvm = tree({ 'sys/hypervisor/type': 'kvm' });
  t.match(checkHypervisor(kvm), { status: 'fail', detail: /'kvm', not Xen/ });
  t.match(await checkXenstored(kvm), { status: 'fail', hint: /start xenstored/ });
  const xenbusOnly = tree({ xenbus: '' });
  t.match(await checkXenstored(xenbusOnly), { status: 'warn' });
});
