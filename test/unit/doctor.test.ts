import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkDom0, checkHypervisor, checkNetback, checkVifqFamily, checkXenstored, hostPaths, type HostPaths } from '../../src/doctor/checks.js';
import { VIFQ_FAMILY } from '../../src/vifq/generated.js';
import { XENSTORED_SOCKET_PATH, XsType } from '../../src/xenstore/wire.js';
import { FaultServer } from '../helpers/xenstore-fakes.js';
import { FakeVifqKernel } from '../helpers/vifq-fakes.js';

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

t.test('xenstored: answered through the xenstore client, a dead socket fails; XENSTORED_PATH is honoured', async (t) => {
  t.equal(hostPaths({}).xenstoredSocket, XENSTORED_SOCKET_PATH, 'the xenstore layer\'s default path');
  t.equal(hostPaths({ XENSTORED_PATH: '/tmp/xs.sock' }).xenstoredSocket, '/tmp/xs.sock');
  const server = await FaultServer.start((req, conn) => (req.type === XsType.GET_DOMAIN_PATH ? conn.reply(req, '/local/domain/0\0') : conn.error(req, 'EINVAL')));
  const p = { ...tree({}), xenstoredSocket: server.socketPath };
  t.same(await checkXenstored(p), { check: 'xenstored', status: 'ok', detail: `${server.socketPath} answers (dom0 is /local/domain/0)` });
  await server.stop(); // the socket file goes; a listener-less socket file stays behind below
  // a socket file nobody listens on (xenstored died without cleaning up): connections are refused
  const dead = join(mkdtempSync(join(tmpdir(), 'vifq-dead-')), 'socket');
  execFileSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', dead]);
  const refused = await checkXenstored({ ...p, xenstoredSocket: dead }, 500);
  t.match(refused, { status: 'fail', detail: /cannot connect to xenstored|ECONNREFUSED/, hint: /systemctl status xenstored/ });
});

t.test('vifq family: present at a version this vifq speaks, missing, or too old', async (t) => {
  const k = new FakeVifqKernel();
  k.addVif(7, 3);
  const ok = await checkVifqFamily({ transports: { requests: k.transport(1), events: k.transport(2) } });
  t.same(ok, { check: 'vifq family', status: 'ok', detail: `version 1 (this vifq needs ${VIFQ_FAMILY.version} or later), id ${k.familyId}, 1 vif(s)` });
  t.ok(k.transports.every((x) => x.closed), 'the check closes its client');
  const none = new FakeVifqKernel();
  none.loaded = false;
  t.match(await checkVifqFamily({ transports: { requests: none.transport(1), events: none.transport(2) } }),
    { status: 'fail', detail: /not registered.*version 1 or later/, hint: /modprobe xen-netback/ });
  const old = new FakeVifqKernel();
  old.version = 0;
  t.match(await checkVifqFamily({ transports: { requests: old.transport(1), events: old.transport(2) } }),
    { status: 'fail', detail: /family is version 0/, hint: /dkms install/ });
});
