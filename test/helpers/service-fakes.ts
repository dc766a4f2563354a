/**
 * Fakes for running a Vifqd without Xen (the same as test/unit/service-daemon.test.ts uses):
 * an in-memory xenstore with permissions and watches, a topology that puts every vif on one
 * 4 Mbit/s tbf uplink, a logger into an array, and `startVifqd()` on the fake vifq kernel.
 */
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { Test } from 'tap';
import { controlMethods } from '../../src/service/control-methods.js';
import { ControlServer } from '../../src/service/control-socket.js';
import { Vifqd, type DaemonTopology, type DaemonXenstore, type VifqdOptions } from '../../src/service/daemon.js';
import type { LogFields, ServiceLogger } from '../../src/service/log.js';
import type { RtnlTopologyEvents, VifIdentity, VifPlacement } from '../../src/topology/index.js';
import { VifqClient } from '../../src/vifq/client.js';
import { XsNoEntryError, XsTimeoutError, type XenstoreClientEvents, type XsPerms, type XsWatch, type XsWatchListener } from '../../src/xenstore/index.js';
import { FakeVifqKernel } from './vifq-fakes.js';

interface Node { value: Buffer; perms: XsPerms }

export const DOM0_ONLY = (guest: number): XsPerms => [{ domid: 0, access: 'none' }, { domid: guest, access: 'read' }];
export const GUEST_OWNED = (guest: number): XsPerms => [{ domid: guest, access: 'none' }];

/** xenstored in memory: nodes with permissions, directory, watches (fired on registration too). */
export class MemXenstore extends EventEmitter<XenstoreClientEvents> implements DaemonXenstore {
  readonly nodes = new Map<string, Node>();
  readonly watches = new Set<{ path: string; listener: XsWatchListener; token: string }>();
  failReads = 0;
  closed = false;
  /** Every path read (readBytes, getPerms, directory), in order: what a pass cost. */
  readonly reads: string[] = [];

  write(path: string, value: string, perms: XsPerms = [{ domid: 0, access: 'none' }]): void {
    const parts = path.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const p = `/${parts.slice(0, i).join('/')}`;
      if (!this.nodes.has(p)) this.nodes.set(p, { value: Buffer.alloc(0), perms: [{ domid: 0, access: 'none' }] });
    }
    this.nodes.set(path, { value: Buffer.from(value), perms });
    this.fire(path);
  }

  rm(path: string): void {
    for (const k of [...this.nodes.keys()]) if (k === path || k.startsWith(`${path}/`)) this.nodes.delete(k);
    this.fire(path);
  }

  fire(path: string, reconnect = false): void {
    for (const w of this.watches) {
      if (path === w.path || path.startsWith(`${w.path}/`) || reconnect) {
        queueMicrotask(() => w.listener({ path: reconnect ? w.path : path, watchPath: w.path, token: w.token, reconnect }));
      }
    }
  }

  private node(path: string): Node {
    this.reads.push(path);
    if (this.failReads > 0) {
      this.failReads--;
      throw new XsTimeoutError(50, { path });
    }
    const n = this.nodes.get(path);
    if (!n) throw new XsNoEntryError({ path });
    return n;
  }

  async directory(path: string): Promise<string[]> {
    this.node(path);
    const kids = new Set<string>();
    for (const k of this.nodes.keys()) if (k.startsWith(`${path}/`)) kids.add(k.slice(path.length + 1).split('/')[0] ?? '');
    return [...kids];
  }

  async readBytes(path: string): Promise<Buffer> {
    return this.node(path).value;
  }

  async getPerms(path: string): Promise<XsPerms> {
    return this.node(path).perms;
  }

  async watch(path: string, listener?: XsWatchListener): Promise<XsWatch> {
    const w = { path, listener: listener ?? (() => undefined), token: `t${this.watches.size}` };
    this.watches.add(w);
    queueMicrotask(() => w.listener({ path, watchPath: path, token: w.token, reconnect: false }));
    return { path, token: w.token, unwatch: async () => { this.watches.delete(w); } };
  }

  close(): void {
    this.closed = true;
  }
}

export const FAKE_UPLINK = { ifindex: 2, name: 'eth0', kind: undefined, id: 'name:eth0', lineRate: { bitsPerSecond: 4_000_000, source: 'qdisc-tbf' as const } };

/** Every known vif is a port of xenbr0, whose uplink is eth0 with tbf 4 Mbit/s. */
export class FakeTopology extends EventEmitter<RtnlTopologyEvents> implements DaemonTopology {
  private known: VifIdentity[] = [];
  vifs(): VifPlacement[] {
    return this.known.map((v) => ({
      ...v, name: `vif${v.domid}.${v.handle}`, identity: 'kernel' as const, bridge: { ifindex: 3, name: 'xenbr0', kind: 'bridge' },
      uplinks: [FAKE_UPLINK], group: FAKE_UPLINK.id,
    }));
  }
  setKnownVifs(vifs: Iterable<VifIdentity>): void {
    this.known = [...vifs];
  }
  close(): void {}
}

export interface LogLine { level: string; fields: LogFields; msg: string }

export function memLogger(lines: LogLine[], bindings: LogFields = {}): ServiceLogger {
  const at = (level: string) => (fields: LogFields, msg: string): void => { lines.push({ level, fields: { ...bindings, ...fields }, msg }); };
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug'), child: (b) => memLogger(lines, { ...bindings, ...b }) };
}

export async function waitFor(what: string, cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * A Vifqd on the fake kernel with guests (default 5 and 6: vif5.0 ifindex 10, vif6.0 ifindex 11)
 * and their backend nodes, and host settings under /local/domain/0/vifq (hostNodes). `close()` closes
 * the daemon and the client.
 */
export async function startVifqd(opts: { guests?: number[]; hostNodes?: Record<string, string>; daemon?: Partial<VifqdOptions> } = {}) {
  const guests = opts.guests ?? [5, 6];
  const k = new FakeVifqKernel();
  const xs = new MemXenstore();
  for (const [i, d] of guests.entries()) {
    k.addVif(10 + i, d, 0);
    xs.write(`/local/domain/0/backend/vif/${d}/0/state`, '4');
    xs.write(`/local/domain/${d}/vifq`, '', DOM0_ONLY(d));
  }
  for (const [p, v] of Object.entries(opts.hostNodes ?? {})) xs.write(`/local/domain/0/vifq/${p}`, v);
  const vifq = await VifqClient.open({ transports: { requests: k.transport(100), events: k.transport(200) }, timeoutMs: 500 });
  const topo = new FakeTopology();
  const lines: LogLine[] = [];
  const d = await Vifqd.open({ xenstore: xs, vifq, topology: topo, logger: memLogger(lines), debounceMs: 1, retry: { initialMs: 5, maxMs: 20 }, ...opts.daemon });
  const close = async (): Promise<void> => { await d.close(); vifq.close(); };
  return { k, xs, vifq, topo, d, lines, close };
}

let controlSockets = 0;

/**
 * `startVifqd()` (guests 5 and 6) with its control socket served at a fresh path under `dir`,
 * as the CLI reaches a running vifqd; both closed at the test's teardown.
 */
export async function servingVifqd(t: Test, dir: string) {
  const f = await startVifqd({ guests: [5, 6] });
  const path = join(dir, `s${controlSockets++}`, 'control.sock');
  const server = await ControlServer.open({ handlers: controlMethods(f.d), path });
  t.teardown(async () => { await server.close(); await f.close(); });
  return { ...f, path };
}
