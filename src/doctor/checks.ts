/**
 * Host checks behind `vifq doctor`: each reads the real system (sysfs, procfs,
 * the xenstored socket) and says what it found and what to do about it.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { release } from 'node:os';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  check: string;
  status: CheckStatus;
  detail: string;
  hint?: string;
}

/** Where the checks look; tests point it at a directory tree of their own. */
export interface HostPaths {
  sys: string;
  proc: string;
  xenstoredSocket: string;
  xenbusDevice: string;
}

export const REAL_HOST: HostPaths = {
  sys: '/sys',
  proc: '/proc',
  xenstoredSocket: '/run/xenstored/socket',
  xenbusDevice: '/dev/xen/xenbus',
};

function readTrimmed(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function checkHypervisor(paths: HostPaths): CheckResult {
  const type = readTrimmed(`${paths.sys}/hypervisor/type`);
  if (type !== 'xen') {
    return {
      check: 'xen hypervisor',
      status: 'fail',
      detail: type ? `running under '${type}', not Xen` : `not running under a hypervisor that Linux reports (${paths.sys}/hypervisor/type absent)`,
      hint: 'vifq runs in a Xen dom0; to try it on this machine use the QEMU lab: make demo',
    };
  }
  const version = ['major', 'minor'].map((k) => readTrimmed(`${paths.sys}/hypervisor/version/${k}`) ?? '?').join('.');
  return { check: 'xen hypervisor', status: 'ok', detail: `Xen ${version}` };
}

export function checkDom0(paths: HostPaths): CheckResult {
  const caps = readTrimmed(`${paths.proc}/xen/capabilities`);
  if (caps === undefined) {
    return {
      check: 'control domain',
      status: 'fail',
      detail: `${paths.proc}/xen/capabilities is not readable`,
      hint: 'mount xenfs (mount -t xenfs xenfs /proc/xen) in dom0; in a guest vifq has nothing to do',
    };
  }
  return caps.includes('control_d')
    ? { check: 'control domain', status: 'ok', detail: 'this is dom0 (control_d)' }
    : { check: 'control domain', status: 'fail', detail: 'this is a guest, not dom0', hint: 'run vifq in dom0' };
}

export function checkNetback(paths: HostPaths): CheckResult {
  const mod = `${paths.sys}/module/xen_netback`;
  if (!existsSync(mod)) {
    return {
      check: 'xen-netback',
      status: 'fail',
      detail: 'module xen_netback is not loaded',
      hint: 'modprobe xen-netback (the vifq build: see kernel-patch/README.md, DKMS)',
    };
  }
  const taint = readTrimmed(`${mod}/taint`) ?? '';
  const version = readTrimmed(`${mod}/srcversion`) ?? 'unknown';
  const vifs = existsSync(`${paths.sys}/class/net`)
    ? readdirSync(`${paths.sys}/class/net`).filter((n) => /^vif\d+\.\d+$/.test(n)).length
    : 0;
  const origin = taint.includes('O') ? 'out-of-tree build' : 'in-tree build';
  return { check: 'xen-netback', status: 'ok', detail: `loaded (${origin}, srcversion ${version}), ${vifs} vif(s)` };
}

export async function checkXenstored(paths: HostPaths, timeoutMs = 2000): Promise<CheckResult> {
  if (existsSync(paths.xenstoredSocket) && statSync(paths.xenstoredSocket).isSocket()) {
    const reachable = await new Promise<boolean>((resolve) => {
      const sock = connect(paths.xenstoredSocket);
      const timer = setTimeout(() => { sock.destroy(); resolve(false); }, timeoutMs);
      sock.once('connect', () => { clearTimeout(timer); sock.end(); resolve(true); });
      sock.once('error', () => { clearTimeout(timer); resolve(false); });
    });
    return reachable
      ? { check: 'xenstored', status: 'ok', detail: `socket ${paths.xenstoredSocket} accepts connections` }
      : { check: 'xenstored', status: 'fail', detail: `socket ${paths.xenstoredSocket} refuses connections`, hint: 'is xenstored running? systemctl status xenstored' };
  }
  if (existsSync(paths.xenbusDevice)) {
    return { check: 'xenstored', status: 'warn', detail: `no socket, only ${paths.xenbusDevice}`, hint: 'vifq works through the xenbus device, but dom0 usually has the socket' };
  }
  return { check: 'xenstored', status: 'fail', detail: `neither ${paths.xenstoredSocket} nor ${paths.xenbusDevice} exists`, hint: 'start xenstored (systemctl start xenstored)' };
}

export function checkNode(): CheckResult {
  const major = Number(process.versions.node.split('.')[0]);
  return major >= 20
    ? { check: 'node.js', status: 'ok', detail: `node ${process.versions.node} on Linux ${release()}` }
    : { check: 'node.js', status: 'fail', detail: `node ${process.versions.node} is too old`, hint: 'vifq needs Node.js 20 or newer' };
}

/** All checks in the order an operator would fix them. */
export async function runHostChecks(paths: HostPaths = REAL_HOST): Promise<CheckResult[]> {
  return [checkNode(), checkHypervisor(paths), checkDom0(paths), await checkXenstored(paths), checkNetback(paths)];
}
