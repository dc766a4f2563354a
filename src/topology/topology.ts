/**
 * Live topology from rtnetlink: which uplinks each Xen vif reaches (placement.ts), and each
 * uplink's line rate (line-rate.ts, from the root qdiscs and the link speed). Follows the I/O
 * contract of CONVENTIONS.md.
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import type { VifqError } from '../errors.js';
import { NetlinkConnection } from '../netlink/connection.js';
import { NetlinkDecodeError } from '../netlink/errors.js';
import { openTransport, type NetlinkTransport, type OpenTransportOptions } from '../netlink/transport.js';
import { NETLINK_ROUTE, type NlMsg } from '../netlink/wire.js';
import { TopologyRatesError, TopologyResyncError } from './errors.js';
import { lineRateOf, type LineRate } from './line-rate.js';
import { computeTopology, diffTopology, linkRole, type TopologyEvent, type VifIdentity, type VifPlacement } from './placement.js';
import {
  AF_BRIDGE, RTM_DELLINK, RTM_GETLINK, RTM_NEWLINK, RTNLGRP_LINK, decodeLink, encodeGetLinkDump, linkMsgFamily, type RtLink,
} from './rtnl.js';
import {
  RTM_DELQDISC, RTM_DELTCLASS, RTM_GETQDISC, RTM_GETTCLASS, RTM_NEWQDISC, RTM_NEWTCLASS, RTNLGRP_TC, TC_H_ROOT, decodeTc,
  encodeTcDump, type TcObject,
} from './tc.js';

/** Link speed in Mb/s from sysfs (`/sys/class/net/<dev>/speed`), undefined when unknown. */
export function sysfsLinkSpeed(ifname: string): number | undefined {
  try {
    const n = Number(readFileSync(`/sys/class/net/${ifname}/speed`, 'utf8').trim());
    return Number.isFinite(n) && n > 0 ? n : undefined;
  } catch {
    return undefined; // EINVAL for a down link or a virtual device
  }
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
  /** The vifs as the kernel's vifq family reports them; later ones through setKnownVifs(). */
  vifs?: Iterable<VifIdentity>;
  /**
   * A device's link speed in Mb/s (ethtool's figure). Default: sysfs, except with `netns`
   * (this process's sysfs shows its own namespace), where it is unknown unless given.
   */
  linkSpeed?: (ifname: string) => number | undefined;
}

const RESYNC_RETRY_MAX_MS = 30_000;

/**
 * Live topology: `start()` subscribes to RTNLGRP_LINK and RTNLGRP_TC, dumps the links and
 * the qdiscs, and from then on keeps the table current and emits `change` events (a vif
 * added, removed, moved, or its uplinks' line rate changed). Two sockets: one that only
 * listens (so a reply is never confused with a notification), one for dumps. After an
 * overrun (ENOBUFS) it re-dumps.
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
  private known = new Map<number, VifIdentity>();
  private rates = new Map<number, LineRate>();
  private readonly linkSpeed: (ifname: string) => number | undefined;
  private ratesDirty = false;
  private ratesTimer: NodeJS.Timeout | undefined;

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
    for (const v of opts.vifs ?? []) this.known.set(v.ifindex, v);
    this.linkSpeed = opts.linkSpeed ?? (opts.netns ? () => undefined : sysfsLinkSpeed);
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
    this.events.addMembership(RTNLGRP_TC);
    await this.resync();
    return this.vifs();
  }

  vifs(): VifPlacement[] {
    return this.placement;
  }

  /**
   * The vifs the kernel's vifq family reports (vif-get, vif-new): they are placed by ifindex
   * with the kernel's domid/handle, whatever their names. Emits the changes this makes.
   */
  setKnownVifs(vifs: Iterable<VifIdentity>): void {
    this.known = new Map([...vifs].map((v) => [v.ifindex, v]));
    if (this.synced) this.recompute();
  }

  /** Line rate of every device that could be an uplink, by ifindex. */
  lineRates(): ReadonlyMap<number, LineRate> {
    return this.rates;
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
    clearTimeout(this.ratesTimer);
    this.ratesTimer = undefined;
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
      this.rates = await this.readRates();
    } catch (e) {
      this.buffered = undefined;
      throw e;
    }
    if (!this.synced) {
      // the first placement is start()'s result, not a change
      this.placement = computeTopology(this.links.values(), { vifs: this.known.values(), rates: this.rates });
      this.synced = true;
      return;
    }
    this.recompute();
    this.emit('resync', this.placement);
  }

  /** Root qdiscs (and the classes of htb roots) -> the line rate of every possible uplink. */
  private async readRates(): Promise<Map<number, LineRate>> {
    const dump = async (type: number, ifindex: number, name: string): Promise<TcObject[]> => (await this.requests.dump(type, encodeTcDump(ifindex), {
      name, map: (m) => decodeTc(m),
    })) as TcObject[];
    const qdiscs = (await dump(RTM_GETQDISC, 0, 'rtnl getqdisc dump')).filter((q) => q.parent === TC_H_ROOT);
    const classes: TcObject[] = [];
    for (const q of qdiscs) {
      if (q.kind === 'htb') classes.push(...(await dump(RTM_GETTCLASS, q.ifindex, `rtnl gettclass dump (ifindex ${q.ifindex})`)));
    }
    const rates = new Map<number, LineRate>();
    for (const l of this.links.values()) {
      if (linkRole(l, this.known) !== 'other') continue;
      rates.set(l.ifindex, lineRateOf(l.ifindex, qdiscs, classes, this.linkSpeed(l.name)));
    }
    return rates;
  }

  /** Re-read the rates soon (qdiscs changed, a device appeared): batched, failures are warnings. */
  private scheduleRates(): void {
    this.ratesDirty = true;
    if (this.ratesTimer || this.closed) return;
    this.ratesTimer = setTimeout(() => {
      this.ratesTimer = undefined;
      if (this.closed || !this.ratesDirty) return;
      this.ratesDirty = false;
      this.readRates().then((r) => {
        if (this.closed) return;
        this.rates = r;
        this.recompute();
      }, (e: unknown) => {
        if (!this.closed) this.emit('warning', new TopologyRatesError(e));
      });
    }, 20);
  }

  private onNotification(m: NlMsg): void {
    if (m.type === RTM_NEWQDISC || m.type === RTM_DELQDISC || m.type === RTM_NEWTCLASS || m.type === RTM_DELTCLASS) {
      if (this.synced) this.scheduleRates();
      return;
    }
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
    else {
      const before = this.links.get(link.ifindex);
      this.links.set(link.ifindex, link);
      // a new device, or a renamed one (its sysfs speed path), needs its rate
      if (this.synced && (!before || before.name !== link.name || before.operstate !== link.operstate)) this.scheduleRates();
    }
    if (emitLink) this.emit('link', { action: m.type === RTM_DELLINK ? 'del' : 'new', link });
  }

  private recompute(): void {
    const next = computeTopology(this.links.values(), { vifs: this.known.values(), rates: this.rates });
    const ev = diffTopology(this.placement, next);
    this.placement = next;
    for (const e of ev) this.emit('change', e);
  }
}
