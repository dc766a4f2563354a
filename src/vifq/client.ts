/**
 * VifqClient: the vifq kernel family, typed.
 *
 *   const vifq = await VifqClient.open();                 // VifqUnavailableError if no module
 *   const vifs = await vifq.listVifs();
 *   await vifq.setVif({ ifindex: 7 }, { 'limit-bytes': 16384, priority: 'low', group: 2 });
 *   for await (const ev of vifq.events()) { ... }         // release deltas, vif-new/del, resync-needed
 *   vifq.close();
 *
 * It owns two generic netlink sockets: one for requests, one that listens (a notification
 * caused by our own request would otherwise carry our seq and could pass for a reply). The
 * listening socket also follows nlctrl's notifications: when the module is unloaded or
 * loaded again (a DKMS upgrade) the family gets a new id and new group ids; the client
 * re-resolves, re-joins its groups and tells its consumers to resync. A request that meets
 * an unknown family id (a reload it missed, e.g. in an overrun) re-resolves and is retried
 * once. Follows the I/O contract of CONVENTIONS.md.
 */
import { EventEmitter } from 'node:events';
import { constants as osConstants } from 'node:os';
import type { VifqError } from '../errors.js';
import { FamilyNotFoundError } from '../genl/errors.js';
import { CTRL_CMD_DELFAMILY, CTRL_CMD_NEWFAMILY, GENL_ID_CTRL, GenlClient, parseCtrlFamily, type GenlFamily, type GenlMessage } from '../genl/genl.js';
import { YnlFamily, type YnlNotification } from '../genl/ynl-family.js';
import type { YnlValue } from '../genl/ynl-codec.js';
import { parseYnlSpec, type YnlSpec } from '../genl/ynl-spec.js';
import { NetlinkClosedError, NetlinkEncodeError, NetlinkError } from '../netlink/errors.js';
import type { NetlinkTransport, OpenTransportOptions } from '../netlink/transport.js';
import {
  VifNotFoundError, VifqFamilyChangedError, VifqUnavailableError, VifqVersionError,
} from './errors.js';
import { EventQueue, type ResyncReason, type VifqEvent, type VifqEventKind, type VifqEventStream } from './events.js';
import { VIFQ_FAMILY, VIFQ_SPEC_YAML, type VifqMcastGroup } from './generated.js';
import { KERNEL_REPORT_COUNTERS, toReleaseDeltas, type ReleaseBaseline, type ReportCounterMode } from './release.js';
import type { VifSelector, VifSettings, VifqConfig, VifqReportEntry, VifqVif } from './types.js';

export interface VifqClientOptions extends Pick<OpenTransportOptions, 'prefer' | 'netns'> {
  /** Per-request deadline in ms (default 5000). */
  timeoutMs?: number;
  /** Inject the two sockets (tests): requests, and the one that listens. */
  transports?: { requests: NetlinkTransport; events: NetlinkTransport };
  /** SO_RCVBUF of the listening socket (default 4 MiB: a report of 1000 vifs is ~400 KB). */
  recvBufferBytes?: number;
  /** Events an iterator may fall behind before its oldest are dropped (default 1000). */
  maxQueuedEvents?: number;
  /** How the kernel's report counters count (default: KERNEL_REPORT_COUNTERS). */
  reportCounters?: ReportCounterMode;
}

/** Events, per the I/O contract in CONVENTIONS.md (the iterators carry the same resyncs). */
export interface VifqClientEvents {
  'resync-needed': [reason: ResyncReason, err: VifqError];
  warning: [err: VifqError];
  close: [cause: Error | undefined];
}

let parsedSpec: YnlSpec | undefined;
/** The vifq spec the types were generated from (embedded: no file needed at run time). */
export function vifqSpec(): YnlSpec {
  parsedSpec ??= parseYnlSpec(VIFQ_SPEC_YAML, 'kernel-patch/vifq.yaml (embedded in src/vifq/generated.ts)');
  return parsedSpec;
}

const GROUP_OF: Record<VifqEventKind, VifqMcastGroup> = { reports: 'reports', vifs: 'config' };

/** bigint counters (only above 2^53) to numbers, recursively: the client's types are numeric. */
function numeric(v: YnlValue): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(numeric);
  if (typeof v === 'object' && v !== null && !Buffer.isBuffer(v)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, numeric(x as YnlValue)]));
  }
  return v;
}

function describe(sel: VifSelector): string {
  return 'ifindex' in sel ? `ifindex ${sel.ifindex}` : `domid ${sel.domid} handle ${sel.handle}`;
}

function checkVersion(fam: GenlFamily): GenlFamily {
  if (fam.version < VIFQ_FAMILY.version) throw new VifqVersionError(fam.version);
  return fam;
}

async function resolveVifq(client: GenlClient): Promise<GenlFamily> {
  try {
    return checkVersion(await client.resolveFamily(VIFQ_FAMILY.name, { refresh: true }));
  } catch (e) {
    if (e instanceof FamilyNotFoundError) throw new VifqUnavailableError(e);
    throw e;
  }
}

export class VifqClient extends EventEmitter<VifqClientEvents> {
  private readonly queues = new Set<EventQueue>();
  private readonly joined = new Map<VifqMcastGroup, number>();
  private readonly joining = new Map<VifqMcastGroup, Promise<void>>();
  private readonly baseline: ReleaseBaseline = new Map();
  private readonly maxQueued: number;
  private readonly counterMode: ReportCounterMode;
  /** The family was unregistered (module unloaded) and not seen again yet. */
  private gone = false;
  private refreshing: Promise<boolean> | undefined;
  private closed = false;

  private constructor(
    private readonly requests: GenlClient,
    private readonly listener: GenlClient,
    private readonly req: YnlFamily,
    private readonly ev: YnlFamily,
    opts: VifqClientOptions,
  ) {
    super();
    this.maxQueued = opts.maxQueuedEvents ?? 1000;
    this.counterMode = opts.reportCounters ?? KERNEL_REPORT_COUNTERS;
    ev.on('notification', (n) => this.onNotification(n));
    ev.on('warning', (w) => this.emit('warning', w));
    listener.on('notification', (g) => this.onCtrl(g));
    listener.on('resync-needed', (e) => {
      this.resync('overrun', e);
      // the overrun may have eaten an nlctrl notification: check the family is still ours
      this.refreshFamily().catch((x: unknown) => this.emit('warning', x as VifqError));
    });
    listener.on('warning', (w) => this.emit('warning', w));
    requests.on('close', (c) => { if (c) this.shutdown(c); });
    listener.on('close', (c) => { if (c) this.shutdown(c); });
  }

  /**
   * Open both sockets, resolve the family (VifqUnavailableError, VifqVersionError) and follow
   * nlctrl's notifications. No vifq group is joined until an iterator asks for its events.
   */
  static async open(opts: VifqClientOptions = {}): Promise<VifqClient> {
    const common = { timeoutMs: opts.timeoutMs ?? 5000, ...(opts.prefer ? { prefer: opts.prefer } : {}), ...(opts.netns ? { netns: opts.netns } : {}) };
    const requests = GenlClient.open({ ...common, name: 'vifq', ...(opts.transports ? { transport: opts.transports.requests } : {}) });
    let listener: GenlClient | undefined;
    try {
      listener = GenlClient.open({
        ...common, name: 'vifq-events', recvBufferBytes: opts.recvBufferBytes ?? 4 << 20,
        ...(opts.transports ? { transport: opts.transports.events } : {}),
      });
      const spec = vifqSpec();
      await resolveVifq(requests);
      await resolveVifq(listener);
      const req = await YnlFamily.open(requests, spec);
      const ev = await YnlFamily.open(listener, spec);
      await listener.subscribe('nlctrl', 'notify');
      return new VifqClient(requests, listener, req, ev, opts);
    } catch (e) {
      requests.close();
      listener?.close();
      throw e;
    }
  }

  /** The family registration in use (id, version, groups). */
  get family(): GenlFamily {
    return this.req.family;
  }

  /** Every vif of the vifq netback (a vif-get dump). */
  async listVifs(): Promise<VifqVif[]> {
    const all = await this.call(() => this.req.dump('vif-get'));
    return all.map((v) => numeric(v) as VifqVif);
  }

  /** One vif, by ifindex or by domid and handle (VifNotFoundError if there is none). */
  async getVif(sel: VifSelector): Promise<VifqVif> {
    const v = await this.call(() => this.req.do('vif-get', { ...sel }), sel);
    return numeric(v ?? {}) as VifqVif;
  }

  /** Set a vif's limits, priority, group and timeout in one request; left out = unchanged. */
  async setVif(sel: VifSelector, settings: VifSettings): Promise<void> {
    await this.call(() => this.req.do('vif-set', { ...settings, ...sel }), sel);
  }

  async getConfig(): Promise<VifqConfig> {
    return numeric((await this.call(() => this.req.do('config-get'))) ?? {}) as VifqConfig;
  }

  async setConfig(config: VifqConfig): Promise<void> {
    await this.call(() => this.req.do('config-set', { ...config }));
  }

  /**
   * A request the codec does not build: `cmd` (operation name or number) with raw attribute
   * bytes, for tests of the kernel's own validation. Resolves to the number of replies.
   */
  async raw(op: string | number, attrs: Buffer): Promise<number> {
    const cmd = typeof op === 'number' ? op : this.req.op(op).requestValue;
    if (cmd === undefined) throw new NetlinkEncodeError(`vifq ${String(op)}`, 'the operation cannot be requested (it is a notification)');
    const replies = await this.call(() => this.requests.request(this.req.family.id, cmd, this.req.family.version, attrs, { name: `vifq raw cmd ${cmd}` }));
    return replies.length;
  }

  /**
   * Release reports (as per-vif deltas) and vif-new/vif-del notifications, plus
   * `resync-needed` whenever events were lost or the family changed. `ready()` (or the first
   * `next()`) joins the groups it needs (CAP_NET_ADMIN: they are admin-perm). Ends when the
   * client closes; `break` or `return()` ends it early.
   */
  events(opts: { reports?: boolean; vifs?: boolean } = {}): VifqEventStream {
    const kinds: VifqEventKind[] = [];
    if (opts.reports ?? true) kinds.push('reports');
    if (opts.vifs ?? true) kinds.push('vifs');
    const q = new EventQueue(kinds, this.maxQueued, () => this.join(kinds.map((k) => GROUP_OF[k])), (x) => this.onQueueEnd(x));
    if (this.closed) q.end();
    else this.queues.add(q);
    return q;
  }

  /** Close both sockets; iterators end, pending requests reject with NetlinkClosedError. Idempotent. */
  close(): void {
    this.shutdown(undefined);
  }

  // ---- internals

  private shutdown(cause: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    for (const q of [...this.queues]) q.end();
    this.requests.close();
    this.listener.close();
    this.emit('close', cause);
  }

  /** Runs a request; meets a missed module reload by re-resolving once. */
  private async call<T>(fn: () => Promise<T>, sel?: VifSelector): Promise<T> {
    if (this.closed) throw new NetlinkClosedError('vifq client');
    if (this.gone) await this.refreshFamily();
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof NetlinkError) || e.errno !== osConstants.errno.ENOENT) throw e;
      // genetlink answers ENOENT, without a message, to a family id it does not know
      if (e.extack.message === undefined && (await this.refreshFamily())) return fn();
      if (sel) throw new VifNotFoundError(describe(sel), e);
      throw e;
    }
  }

  /** Resolve the family again; true if it has a new registration (then rebound and re-joined). */
  private refreshFamily(): Promise<boolean> {
    this.refreshing ??= this.doRefresh().finally(() => { this.refreshing = undefined; });
    return this.refreshing;
  }

  private async doRefresh(): Promise<boolean> {
    let fam: GenlFamily;
    try {
      fam = await resolveVifq(this.requests);
    } catch (e) {
      if (e instanceof VifqUnavailableError) this.gone = true;
      throw e;
    }
    this.gone = false;
    if (fam.id === this.req.family.id && fam.version === this.req.family.version) return false;
    await this.rebind(fam);
    return true;
  }

  /** A new registration of the family: use its id, join its groups, tell consumers. */
  private async rebind(fam: GenlFamily): Promise<void> {
    const evFam = await resolveVifq(this.listener);
    this.req.rebind(fam);
    this.ev.rebind(evFam);
    const groups = [...this.joined.keys()];
    for (const id of this.joined.values()) {
      try {
        this.listener.unsubscribe(id);
      } catch {
        // the kernel dropped the old group with the family; nothing to leave
      }
    }
    this.joined.clear();
    this.resync('family-new', new VifqFamilyChangedError('new', fam.id, fam.version));
    await this.join(groups);
  }

  private join(groups: VifqMcastGroup[]): Promise<void> {
    return Promise.all(groups.map((g) => {
      if (this.joined.has(g)) return Promise.resolve();
      let p = this.joining.get(g);
      if (!p) {
        p = this.ev.subscribe(g)
          .then(() => { this.joined.set(g, this.ev.family.mcastGroups.get(g) ?? -1); })
          .finally(() => { this.joining.delete(g); });
        this.joining.set(g, p);
      }
      return p;
    })).then(() => undefined);
  }

  private onQueueEnd(q: EventQueue): void {
    this.queues.delete(q);
    if (this.closed) return;
    // leave a group nobody listens to any more: the kernel builds no reports for an empty group
    for (const [kind, group] of Object.entries(GROUP_OF) as Array<[VifqEventKind, VifqMcastGroup]>) {
      const id = this.joined.get(group);
      if (id === undefined || [...this.queues].some((x) => x.kinds.has(kind))) continue;
      this.joined.delete(group);
      try {
        this.listener.unsubscribe(id);
      } catch (e) {
        this.emit('warning', e as VifqError);
      }
    }
  }

  private push(e: VifqEvent): void {
    for (const q of this.queues) q.push(e);
  }

  private resync(reason: ResyncReason, error: VifqError): void {
    this.baseline.clear();
    this.emit('resync-needed', reason, error);
    this.push({ type: 'resync-needed', reason, error });
  }

  private onNotification(n: YnlNotification): void {
    switch (n.op) {
      case 'release-report': {
        const r = numeric(n.attrs) as { 'interval-ms'?: number; entry?: VifqReportEntry[] };
        const intervalMs = r['interval-ms'] ?? 0;
        this.push({ type: 'release', 'interval-ms': intervalMs, vifs: toReleaseDeltas(intervalMs, r.entry ?? [], this.baseline, this.counterMode) });
        break;
      }
      case 'vif-new':
      case 'vif-del': {
        const vif = numeric(n.attrs) as VifqVif;
        if (n.op === 'vif-del' && vif.ifindex !== undefined) this.baseline.delete(vif.ifindex);
        this.push({ type: n.op, vif });
        break;
      }
      default:
        break;
    }
  }

  private onCtrl(g: GenlMessage): void {
    if (g.familyId !== GENL_ID_CTRL || (g.cmd !== CTRL_CMD_NEWFAMILY && g.cmd !== CTRL_CMD_DELFAMILY)) return;
    let fam: GenlFamily;
    try {
      fam = parseCtrlFamily(g.attrs);
    } catch (e) {
      this.emit('warning', e as VifqError);
      return;
    }
    if (fam.name !== VIFQ_FAMILY.name) return;
    if (g.cmd === CTRL_CMD_DELFAMILY) {
      this.gone = true;
      this.resync('family-gone', new VifqFamilyChangedError('gone', fam.id, fam.version));
      return;
    }
    this.refreshFamily().catch((e: unknown) => this.emit('warning', e as VifqError));
  }
}
