/**
 * Host checks behind `vifq doctor`: each reads the real system (sysfs, procfs, xenstored
 * through the xenstore client, the vifq family through the vifq client) and says what it
 * found and what to do about it.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { release } from 'node:os';
import { VifqError } from '../errors.js';
import { VifqClient, type VifqClientOptions } from '../vifq/client.js';
import { VIFQ_FAMILY } from '../vifq/generated.js';
import { XenstoreClient } from '../xenstore/client.js';
import { defaultConnector } from '../xenstore/transport.js';
import { XENBUS_DEVICE_PATH, XENSTORED_SOCKET_PATH } from '../xenstore/wire.js';

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

/** This host's paths; the xenstored socket is `$XENSTORED_PATH` when set, as for the xenstore client. */
export function hostPaths(env: NodeJS.ProcessEnv = process.env): HostPaths {
  return {
    sys: '/sys',
    proc: '/proc',
    xenstoredSocket: env['XENSTORED_PATH'] || XENSTORED_SOCKET_PATH,
    xenbusDevice: XENBUS_DEVICE_PATH,
  };
}

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

/** xenstored answers a request (XS_GET_DOMAIN_PATH) through the project's xenstore client. */
export async function checkXenstored(paths: HostPaths, timeoutMs = 2000): Promise<CheckResult> {
  if (existsSync(paths.xenstoredSocket) && statSync(paths.xenstoredSocket).isSocket()) {
    let client: XenstoreClient | undefined;
    try {
      client = await XenstoreClient.open({
        connector: defaultConnector({ socketPath: paths.xenstoredSocket, devicePath: false }),
        connectAttempts: 1, reconnect: false, timeoutMs,
      });
      const dom0 = await client.getDomainPath(0);
      return { check: 'xenstored', status: 'ok', detail: `${paths.xenstoredSocket} answers (dom0 is ${dom0})` };
    } catch (e) {
      if (!(e instanceof VifqError)) throw e;
      return { check: 'xenstored', status: 'fail', detail: `${paths.xenstoredSocket}: ${e.summary}`, hint: 'is xenstored running? systemctl status xenstored' };
    } finally {
      await client?.close();
    }
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

/** The vifq generic netlink family is registered, at a version this vifq speaks, and answers. */
export async function checkVifqFamily(opts: VifqClientOptions = {}): Promise<CheckResult> {
  let client: VifqClient | undefined;
  try {
    client = await VifqClient.open({ timeoutMs: 2000, ...opts });
    const vifs = await client.listVifs();
    const f = client.family;
    return {
      check: 'vifq family',
      status: 'ok',
      detail: `version ${f.version} (this vifq needs ${VIFQ_FAMILY.version} or later), id ${f.id}, ${vifs.length} vif(s)`,
    };
  } catch (e) {
    if (!(e instanceof VifqError)) throw e;
    return { check: 'vifq family', status: 'fail', detail: e.summary, ...(e.hint ? { hint: e.hint } : {}) };
  } finally {
    client?.close();
  }
}

/** All checks in the order an operator would fix them. */
export async function runHostChecks(paths: HostPaths = hostPaths(), vifq: VifqClientOptions = {}): Promise<CheckResult[]> {
  return [checkNode(), checkHypervisor(paths), checkDom0(paths), await checkXenstored(paths), checkNetback(paths), await checkVifqFamily(vifq)];
}
