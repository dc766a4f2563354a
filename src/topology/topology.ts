/**
 * Which uplink each Xen vif reaches, from rtnetlink.
 *
 *   vif<domid>.<handle> --port of--> bridge (or the OVS datapath) --port--> uplink(s)
 *
 * An uplink is a port of the vif's bridge that is not a vif, a tap/tun
 * (HVM `vifX.Y-emu`, qemu taps), a loopback or an OVS internal port: a
 * physical NIC, a bond, a VLAN device, a veth... Vifs behind the same uplink
 * share a group id: the smallest ifindex among their bridge's uplinks (0 when
 * the bridge has none, or the vif is on no bridge, e.g. routed setups).
 * Ifindex-based ids are stable for as long as the uplink device exists, need
 * no state, and are what the kernel reports too.
 *
 * Open vSwitch: every OVS bridge's ports have the one kernel datapath
 * (`ovs-system`, kind `openvswitch`) as IFLA_MASTER, so rtnetlink cannot tell
 * two OVS bridges apart; vifs on OVS get the uplinks of the whole datapath.
 * Telling bridges apart needs OVSDB or the ovs_vport family (not done).
 */
import { EventEmitter } from 'node:events';
import { NetlinkConnection } from '../netlink/connection.js';
import type { VifqError } from '../errors.js';
import { NetlinkDecodeError } from '../netlink/errors.js';
import { TopologyResyncError } from './errors.js';
import { openTransport, type NetlinkTransport, type OpenTransportOptions } from '../netlink/transport.js';
import { NETLINK_ROUTE, type NlMsg } from '../netlink/wire.js';
import {
  AF_BRIDGE, ARPHRD_LOOPBACK, IFF_LOOPBACK, RTM_DELLINK, RTM_GETLINK, RTM_NEWLINK, RTNLGRP_LINK, decodeLink,
  encodeGetLinkDump, linkMsgFamily, type RtLink,
} from './rtnl.js';

const VIF_RE = /^vif(\d+)\.(\d+)$/;

export interface PortRef {
  ifindex: number;
  name: string;
  kind: string | undefined;
}

export interface VifPlacement {
  ifindex: number;
  name: string;
  domid: number;
  handle: number;
  /** the bridge / OVS datapath the vif is a port of */
  bridge: PortRef | undefined;
  /** ports of that bridge that lead off the host, sorted by ifindex */
  uplinks: PortRef[];
  /** smallest uplink ifindex, 0 if none */
  group: number;
}

export type LinkRole = 'vif' | 'tap' | 'loopback' | 'bridge' | 'ovs-internal' | 'other';

export function parseVifName(name: string): { domid: number; handle: number } | undefined {
  const m = VIF_RE.exec(name);
  return m ? { domid: Number(m[1]), handle: Number(m[2]) } : undefined;
}

export function linkRole(l: RtLink): LinkRole {
  if (parseVifName(l.name)) return 'vif';
  if (l.flags & IFF_LOOPBACK || l.type === ARPHRD_LOOPBACK) return 'loopback';
  if (l.kind === 'tun' || /^tap/.test(l.name) || /-emu$/.test(l.name)) return 'tap';
  if (l.kind === 'bridge') return 'bridge';
  if (l.kind === 'openvswitch') return 'ovs-internal';
  return 'other';
}

function ref(l: RtLink): PortRef {
  return { ifindex: l.ifindex, name: l.name, kind: l.kind };
}

/** Pure: place every vif among `links`. */
export function computeTopology(links: Iterable<RtLink>): VifPlacement[] {
  const byIndex = new Map<number, RtLink>();
  const portsOf = new Map<number, RtLink[]>();
  for (const l of links) {
    byIndex.set(l.ifindex, l);
    if (l.master !== undefined) {
      const ports = portsOf.get(l.master);
      if (ports) ports.push(l);
      else portsOf.set(l.master, [l]);
    }
  }
  const out: VifPlacement[] = [];
  for (const l of byIndex.values()) {
    const id = parseVifName(l.name);
    if (!id) continue;
    const br = l.master !== undefined ? byIndex.get(l.master) : undefined;
    const uplinks = br
      ? (portsOf.get(br.ifindex) ?? []).filter((p) => linkRole(p) === 'other').map(ref).sort((a, b) => a.ifindex - b.ifindex)
      : [];
    out.push({
      ifindex: l.ifindex, name: l.name, domid: id.domid, handle: id.handle,
      bridge: br ? ref(br) : undefined, uplinks, group: uplinks[0]?.ifindex ?? 0,
    });
  }
  return out.sort((a, b) => a.domid - b.domid || a.handle - b.handle || a.ifindex - b.ifindex);
}

export type TopologyEvent =
  | { type: 'vif-added'; vif: VifPlacement }
  | { type: 'vif-removed'; vif: VifPlacement }
  | { type: 'vif-changed'; vif: VifPlacement; previous: VifPlacement };

function samePlacement(a: VifPlacement, b: VifPlacement): boolean {
  return a.name === b.name && a.group === b.group && a.bridge?.ifindex === b.bridge?.ifindex && a.bridge?.name === b.bridge?.name
    && a.uplinks.length === b.uplinks.length && a.uplinks.every((u, i) => u.ifindex === b.uplinks[i]?.ifindex && u.name === b.uplinks[i]?.name);
}

/** Pure: what changed between two placements (keyed by vif ifindex). */
export function diffTopology(prev: readonly VifPlacement[], next: readonly VifPlacement[]): TopologyEvent[] {
  const before = new Map(prev.map((v) => [v.ifindex, v]));
  const after = new Map(next.map((v) => [v.ifindex, v]));
  const ev: TopologyEvent[] = [];
  for (const [i, v] of before) if (!after.has(i)) ev.push({ type: 'vif-removed', vif: v });
  for (const [i, v] of after) {
    const p = before.get(i);
    if (!p) ev.push({ type: 'vif-added', vif: v });
    else if (!samePlacement(p, v)) ev.push({ type: 'vif-changed', vif: v, previous: p });
  }
  return ev;
}

export interface LinkEvent {
  action: 'new' | 'del';
  link: RtLink;
}

/**
 * Events, per the I/O contract in CONVENTIONS.md. There is no 'resync-needed':
 * the topology re-reads the link table itself after an overrun and says so
 * with 'resync' (or a 'warning' when that failed; it then retries).
 */
export interface RtnlTopologyEvents {
  /** a vif appeared, disappeared or moved (bridge, uplinks, group) */
  change: [ev: TopologyEvent];
  /** every link add/change/delete, raw */
  link: [ev: LinkEvent];
  /** the link table was re-read after an overrun */
  resync: [vifs: VifPlacement[]];
  /** survived: a link message that did not decode, a re-read that failed (TopologyResyncError, retried) */
  warning: [err: VifqError];
  /** once; `cause` set when the listening socket failed (the topology is then closed) */
  close: [cause: Error | undefined];
}

export interface RtnlTopologyOptions extends OpenTransportOptions {
  /** Inject transports (tests): one that only listens, one for dumps. */
  transports?: { events: NetlinkTransport; requests: NetlinkTransport };
  /** Per-request deadline of the dumps (ms). */
  timeoutMs?: number;
  /** First delay before retrying a failed re-read (ms, doubling up to 30 s; default 100). */
  resyncRetryMs?: number;
}

const RESYNC_RETRY_MAX_MS = 30_000;

/**
 * Live topology: `start()` subscribes to RTNLGRP_LINK, dumps the links, and
 * from then on keeps the table current and emits `change` events. Two sockets:
 * one that only listens (so a reply is never confused with a notification),
 * one for dumps. After an overrun (ENOBUFS) it re-dumps.
 */
export class RtnlTopology extends EventEmitter<RtnlTopologyEvents> {
  private readonly events: NetlinkConnection;
  private readonly requests: NetlinkConnection;
  private readonly links = new Map<number, RtLink>();
  private placement: VifPlacement[] = [];
  private buffered: NlMsg[] | undefined;
  private resyncing: Promise<void> | undefined;
  private started = false;
  private synced = false;
  private closed = false;
  private readonly resyncRetryMs: number;
  private retryTimer: NodeJS.Timeout | undefined;
  private failedResyncs = 0;

  constructor(opts: RtnlTopologyOptions = {}) {
    super();
    const evT = opts.transports?.events ?? openTransport(NETLINK_ROUTE, { ...opts, recvBufferBytes: opts.recvBufferBytes ?? 1 << 20 });
    let reqT: NetlinkTransport;
    try {
      reqT = opts.transports?.requests ?? openTransport(NETLINK_ROUTE, { ...opts, strictCheck: opts.strictCheck ?? true });
    } catch (e) {
      evT.close();
      throw e;
    }
    const copts = opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs };
    this.events = new NetlinkConnection(evT, { name: 'rtnl-events', ...copts });
    this.requests = new NetlinkConnection(reqT, { name: 'rtnl', ...copts });
    this.resyncRetryMs = opts.resyncRetryMs ?? 100;
    this.events.on('notification', (m) => this.onNotification(m));
    this.events.on('resync-needed', () => this.backgroundResync());
    this.events.on('warning', (e) => this.emit('warning', e));
    this.events.on('close', (cause) => { if (cause) this.shutdown(cause); });
  }

  /** Open the sockets, subscribe, dump: a topology that is current from then on. */
  static async open(opts: RtnlTopologyOptions = {}): Promise<RtnlTopology> {
    const topo = new RtnlTopology(opts);
    try {
      await topo.start();
    } catch (e) {
      topo.close();
      throw e;
    }
    return topo;
  }

  /** Subscribe, dump, and return the first placement. */
  async start(): Promise<VifPlacement[]> {
    if (this.started) return this.vifs();
    this.started = true;
    this.events.addMembership(RTNLGRP_LINK);
    await this.resync();
    return this.vifs();
  }

  vifs(): VifPlacement[] {
    return this.placement;
  }

  /** The current link table (ifindex -> link). */
  linkTable(): ReadonlyMap<number, RtLink> {
    return this.links;
  }

  /** Close both sockets and stop retrying; pending dumps reject with NetlinkClosedError. Idempotent. */
  close(): void {
    this.shutdown(undefined);
  }

  private shutdown(cause: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.events.close();
    this.requests.close();
    this.emit('close', cause);
  }

  /**
   * A re-read nobody awaits (after an overrun, or a retry): its failure is one
   * 'warning' and a retry later, never an unhandled rejection.
   */
  private backgroundResync(): void {
    if (this.closed || this.retryTimer) return;
    this.resync().then(() => { this.failedResyncs = 0; }, (e: unknown) => {
      if (this.closed) return;
      const delay = Math.min(RESYNC_RETRY_MAX_MS, this.resyncRetryMs * 2 ** this.failedResyncs++);
      this.emit('warning', new TopologyResyncError(e, delay));
      this.retryTimer = setTimeout(() => { this.retryTimer = undefined; this.backgroundResync(); }, delay);
    });
  }

  /** Re-read every link (after an overrun, or on demand) and emit what changed. */
  resync(): Promise<void> {
    this.resyncing ??= this.doResync().finally(() => { this.resyncing = undefined; });
    return this.resyncing;
  }

  private async doResync(): Promise<void> {
    this.buffered = [];
    try {
      const links = (await this.requests.dump(RTM_GETLINK, encodeGetLinkDump(), {
        name: 'rtnl getlink dump',
        map: (m) => (linkMsgFamily(m) === AF_BRIDGE ? undefined : decodeLink(m)),
      })) as Array<RtLink | undefined>;
      this.links.clear();
      for (const l of links) if (l) this.links.set(l.ifindex, l);
      const pending = this.buffered;
      this.buffered = undefined;
      for (const m of pending) this.apply(m, false);
    } catch (e) {
      this.buffered = undefined;
      throw e;
    }
    if (!this.synced) {
      // the first placement is start()'s result, not a change
      this.placement = computeTopology(this.links.values());
      this.synced = true;
      return;
    }
    this.recompute();
    this.emit('resync', this.placement);
  }

  private onNotification(m: NlMsg): void {
    if (m.type !== RTM_NEWLINK && m.type !== RTM_DELLINK) return;
    if (this.buffered) {
      this.buffered.push(m);
      return;
    }
    this.apply(m, true);
    this.recompute();
  }

  private apply(m: NlMsg, emitLink: boolean): void {
    // AF_BRIDGE messages describe bridge port state (an RTM_DELLINK of that family only means "left the bridge").
    if (linkMsgFamily(m) === AF_BRIDGE) return;
    let link: RtLink;
    try {
      link = decodeLink(m);
    } catch (e) {
      this.emit('warning', e instanceof NetlinkDecodeError ? e : new NetlinkDecodeError('rtnl link', String(e)));
      return;
    }
    if (m.type === RTM_DELLINK) this.links.delete(link.ifindex);
    else this.links.set(link.ifindex, link);
    if (emitLink) this.emit('link', { action: m.type === RTM_DELLINK ? 'del' : 'new', link });
  }

  private recompute(): void {
    const next = computeTopology(this.links.values());
    const ev = diffTopology(this.placement, next);
    this.placement = next;
    for (const e of ev) this.emit('change', e);
  }
}
