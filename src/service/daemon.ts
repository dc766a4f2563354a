/**
 * Vifqd, the dom0 service: wires the xenstore client, the vifq kernel client and the rtnetlink
 * topology to the SLA parsers, the policy and the reconciler.
 *
 *   const d = await Vifqd.open();   // connect, read everything, first pass: limits programmed
 *   d.snapshot();                   // what it decided and why (for metrics, the control socket)
 *   await d.nudge('vif-post.d');    // schedule a pass and wait for it
 *   await d.close();                // keep or reset the limits per host setting `on-stop`
 *
 * Loop. Every input marks what is stale and schedules a pass; passes are serialised and
 * coalesced (an idle loop runs on the next event-loop turn, or after `debounceMs` if set; what
 * comes while a pass runs makes one next pass):
 *   - xenstore watches: the host settings (/local/domain/0/vifq), dom0's backend vif
 *     directory (a guest added or gone: its SLA watch is added or removed), each guest's
 *     /local/domain/<domid>/vifq (its SLA) -> re-read that part;
 *   - vif-new / vif-del -> the kernel view and topology's known vifs change;
 *   - release reports -> the policy learns from them on the next pass (two reports the
 *     pass could not keep up with are merged, none is lost);
 *   - topology change (a vif moved, an uplink's qdisc rate changed) -> recompute;
 *   - ENOBUFS / slow consumer / module reload (resync-needed), xenstored reconnected ->
 *     full resync: the kernel is re-dumped and everything in xenstore re-read.
 * A pass: re-read what is stale, dump the kernel if a resync is due, set the report interval,
 * compute the desired settings (desired.ts), `Reconciler.pass` (one vif-set per changed vif).
 * Every failure is logged with its hint and counted, and what failed stays stale and is retried
 * with backoff; nothing here rejects unhandled or emits 'error'.
 *
 * Stop (`close()`, SIGTERM/SIGINT in main.ts): with `on-stop` = `keep` (the default) the kernel
 * keeps the last limits, so guests stay isolated while the service is restarted or upgraded;
 * with `reset` every vif is set back to stock (no limits, high priority, group 0, timeout
 * 100 ms) before exiting. `VifqdOptions.onStop` overrides the host setting (`--once` keeps).
 */
import { EventEmitter } from 'node:events';
import { VifqError } from '../errors.js';
import { EMPTY_POLICY_STATE, DEFAULT_POLICY_CONFIG, type LimitReason, type PolicyConfig, type PolicyState, type ReportInput, type UplinkDecision, type VifSettings } from '../policy/index.js';
import { defaultHostSettings, SLA_DEFAULTS, type EffectiveSla, type GuestSla, type HostSettings, type OnStop, type SlaFinding, type SlaFindingCode, type SlaNode } from '../sla/index.js';
import { RtnlTopology, type RtnlTopologyEvents, type VifIdentity, type VifPlacement } from '../topology/index.js';
import { VifqClient, type VifqClientEvents, type VifqConfig, type VifqEvent, type VifqEventStream, type VifqVif } from '../vifq/index.js';
import { XenstoreClient, type XenstoreClientEvents, type XsWatch } from '../xenstore/index.js';
import type { VifqSetClient } from './apply.js';
import { computeDesired, mergeReports, reportInputOf, type DesiredResult, type UplinkLineRate } from './desired.js';
import { createLogger, errorFields, type ServiceLogger } from './log.js';
import type { KernelVif } from './reconcile.js';
import { Reconciler, type PassSummary } from './reconciler.js';
import { BACKEND_VIF_DIR, guestOfPath, listBackendVifs, readHostSettings, rereadGuestSla, type ServiceXenstore } from './sources.js';
import { HOST_BASE, GUEST_BASE } from '../sla/index.js';

/** The `on` / `off` of a typed EventEmitter over the event map `E`. */
export interface On<E extends { [K in keyof E]: unknown[] }> {
  on<K extends keyof E>(event: K, listener: (...args: E[K]) => void): unknown;
  off<K extends keyof E>(event: K, listener: (...args: E[K]) => void): unknown;
}

/** What the daemon needs of a xenstore client (`XenstoreClient`). */
export type DaemonXenstore = ServiceXenstore & On<XenstoreClientEvents> & { close(): void | Promise<void> };
/** What the daemon needs of the kernel client (`VifqClient`). */
export type DaemonVifq = VifqSetClient & On<VifqClientEvents> & {
  getConfig(): Promise<VifqConfig>;
  setConfig(c: VifqConfig): Promise<void>;
  events(opts?: { reports?: boolean; vifs?: boolean }): VifqEventStream;
  close(): void;
};
/** What the daemon needs of the topology (`RtnlTopology`). */
export type DaemonTopology = On<RtnlTopologyEvents> & {
  vifs(): VifPlacement[];
  setKnownVifs(vifs: Iterable<VifIdentity>): void;
  close(): void;
};

export interface VifqdOptions {
  logger?: ServiceLogger;
  /** Injected clients (tests, or a caller that shares them); the daemon never closes these. */
  xenstore?: DaemonXenstore;
  vifq?: DaemonVifq;
  topology?: DaemonTopology;
  /**
   * Changes within this many ms make one pass. Default 0: an idle loop starts a pass on the next
   * turn of the event loop (the events of one socket read, e.g. one xenstore transaction's, still
   * make one pass), and whatever comes while a pass runs makes the next one. A timer here costs
   * every SLA write its delay and more in a slow dom0 (2 ms was ~9 ms queued in the TCG lab).
   */
  debounceMs?: number;
  /** Retry of a failed step: first delay and cap in ms (default 200, doubling to 30000). */
  retry?: { initialMs: number; maxMs: number };
  /** Monotonic clock in ns for the policy (default process.hrtime). */
  nowNs?: () => number;
  policyConfig?: PolicyConfig;
  /** Overrides the host setting `on-stop` (main.ts's --once keeps). */
  onStop?: OnStop;
}

export interface VifqdCounters {
  passes: number;
  passFailures: number;
  vifSets: number;
  vifSetFailures: number;
  vifsVanished: number;
  resyncs: number;
  resyncFailures: number;
  xenstoreReconnects: number;
  xenstoreReadFailures: number;
  reports: number;
  warnings: number;
  /** SLA or host nodes ignored because a guest (or another domain) could write them. */
  untrustedIgnored: number;
  /** Every finding, by code, counted once each time it appears. */
  findings: Partial<Record<SlaFindingCode, number>>;
}

export interface LastPass {
  readonly at: string;
  readonly durationMs: number;
  /** What triggered it (coalesced). */
  readonly reasons: readonly string[];
  readonly resynced: boolean;
  readonly applied: number;
  readonly unchanged: number;
  readonly failed: number;
  readonly vanished: number;
  readonly absent: number;
  readonly error: string | undefined;
}

export interface VifSnapshot {
  readonly ifindex: number;
  readonly domid: number;
  readonly handle: number;
  readonly uplink: string | null;
  readonly desired: VifSettings;
  /** What the reconciler believes the kernel holds. */
  readonly kernel: Partial<VifSettings> | undefined;
  readonly why: readonly LimitReason[];
  readonly sla: EffectiveSla;
}

export interface FindingSnapshot {
  readonly code: SlaFindingCode;
  readonly path: string;
  readonly message: string;
  readonly hint: string | undefined;
}

export interface VifqdSnapshot {
  readonly startedAt: string;
  readonly vifs: readonly VifSnapshot[];
  readonly uplinks: readonly UplinkDecision[];
  readonly lineRates: readonly UplinkLineRate[];
  readonly host: HostSettings;
  readonly findings: readonly FindingSnapshot[];
  readonly counters: Readonly<VifqdCounters>;
  readonly lastPass: LastPass | undefined;
}

/** A release report as `VifqClient.events()` yields it (per-vif deltas over the interval). */
export type VifqdReleaseReport = Extract<VifqEvent, { type: 'release' }>;

export interface VifqdEvents {
  /** After every pass (metrics). */
  pass: [summary: LastPass];
  /** Each release report from the kernel, as received, before the policy sees it (metrics, the control socket's `events`). */
  release: [report: VifqdReleaseReport];
  warning: [err: VifqError];
  close: [cause: Error | undefined];
}

/** The daemon could not start: which connection or read failed, and what to do. */
export class VifqdStartError extends VifqError {
  constructor(step: string, cause: unknown) {
    const c = cause instanceof VifqError ? cause : undefined;
    super(`vifqd could not start: ${step} failed: ${c?.summary ?? (cause instanceof Error ? cause.message : String(cause))}`, {
      cause,
      hint: c?.hint ?? 'run `vifq doctor` to check xenstored, the vifq module and the permissions (vifqd runs as root in dom0)',
      exitCode: c?.exitCode ?? 1,
    });
  }
}

/** A background step of the daemon failed; it is retried. */
export class VifqdStepError extends VifqError {
  constructor(step: string, cause: unknown) {
    const c = cause instanceof VifqError ? cause : undefined;
    super(`${step} failed: ${c?.summary ?? (cause instanceof Error ? cause.message : String(cause))}; retried with backoff`, {
      cause, hint: c?.hint ?? 'nothing to do if it recovers; if it keeps failing run `vifq doctor`',
    });
  }
}

/** A listener of the daemon's events threw; the daemon goes on. */
export class VifqdListenerError extends VifqError {
  constructor(event: string, cause: unknown) {
    super(`a listener of vifqd's '${event}' event threw: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause, hint: 'a bug in vifqd (metrics or control socket wiring): please report it with this log line',
    });
  }
}

/** listVifs through this wrapper hands the reconciler the dump the daemon already made. */
class PrimedLister implements VifqSetClient {
  primed: VifqVif[] | undefined;
  constructor(private readonly inner: DaemonVifq) {}
  async listVifs(): Promise<VifqVif[]> {
    const p = this.primed;
    this.primed = undefined;
    return p ?? this.inner.listVifs();
  }
  setVif: VifqSetClient['setVif'] = (sel, s) => this.inner.setVif(sel, s);
}

const STOCK = { 'limit-bytes': 0, 'limit-packets': 0, priority: 'high', group: 0, 'timeout-ms': SLA_DEFAULTS.timeoutMs } as const;

const defaultNow = (): number => Number(process.hrtime.bigint());

export class Vifqd extends EventEmitter<VifqdEvents> {
  private readonly log: ServiceLogger;
  private readonly reconciler: Reconciler;
  private readonly lister: PrimedLister;
  private readonly debounceMs: number;
  private readonly retry: { initialMs: number; maxMs: number };
  private readonly now: () => number;
  private readonly cfg: PolicyConfig;
  private readonly startedAt = new Date().toISOString();

  private host: HostSettings = defaultHostSettings();
  private readonly guests = new Map<number, GuestSla>();
  private readonly guestWatches = new Map<number, XsWatch>();
  private readonly ownWatches: XsWatch[] = [];
  private readonly kernelVifs = new Map<number, VifIdentity>();
  /** Active findings by source (`host`, `guest:<domid>`), by key. */
  private readonly findings = new Map<string, Map<string, SlaFinding>>();
  private policyState: PolicyState = EMPTY_POLICY_STATE;
  private pendingReport: ReportInput | null = null;
  private kernelReportIntervalMs: number | undefined;
  private last: DesiredResult | undefined;
  private lastPass: LastPass | undefined;
  readonly counters: VifqdCounters = {
    passes: 0, passFailures: 0, vifSets: 0, vifSetFailures: 0, vifsVanished: 0, resyncs: 0, resyncFailures: 0,
    xenstoreReconnects: 0, xenstoreReadFailures: 0, reports: 0, warnings: 0, untrustedIgnored: 0, findings: {},
  };

  private hostStale = true;
  private backendStale = true;
  /** Guests whose SLA must be read again: the paths their watch named, or all of it. */
  private readonly staleGuests = new Map<number, Set<string> | 'all'>();
  /** Each guest's SLA nodes as last read (a watch event re-reads only the path it names). */
  private readonly guestNodes = new Map<number, readonly SlaNode[]>();
  private readonly reasons = new Set<string>();
  /** When the oldest reason of the next pass came (performance.now()), for the pass's `queuedMs`. */
  private firstReasonAt: number | undefined;
  private waiters: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay: number;
  private running: Promise<void> | undefined;
  private stream: VifqEventStream | undefined;
  private eventLoop: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private closed = false;

  private constructor(
    private readonly xs: DaemonXenstore,
    private readonly vifq: DaemonVifq,
    private readonly topo: DaemonTopology,
    private readonly owned: { xs: boolean; vifq: boolean; topo: boolean },
    private readonly opts: VifqdOptions,
  ) {
    super();
    this.log = opts.logger ?? createLogger();
    this.lister = new PrimedLister(vifq);
    this.reconciler = new Reconciler(this.lister);
    this.debounceMs = opts.debounceMs ?? 0;
    this.retry = opts.retry ?? { initialMs: 200, maxMs: 30_000 };
    this.retryDelay = this.retry.initialMs;
    this.now = opts.nowNs ?? defaultNow;
    this.cfg = opts.policyConfig ?? DEFAULT_POLICY_CONFIG;
  }

  /**
   * Connect (or take the injected clients), subscribe to everything, run the first pass.
   * Resolves once the running guests' limits are programmed (or the pass's failures logged);
   * rejects with VifqdStartError when a connection cannot be made.
   */
  static async open(opts: VifqdOptions = {}): Promise<Vifqd> {
    const log = opts.logger ?? createLogger();
    const opened: Array<{ close(): unknown }> = [];
    const step = async <T extends { close(): unknown }>(name: string, given: T | undefined, make: () => Promise<T>): Promise<T> => {
      if (given) return given;
      try {
        const x = await make();
        opened.push(x);
        return x;
      } catch (e) {
        for (const o of opened) await o.close();
        throw new VifqdStartError(name, e);
      }
    };
    const xs = await step<DaemonXenstore>('connecting to xenstored', opts.xenstore, () => XenstoreClient.open());
    const vifq = await step<DaemonVifq>('opening the vifq generic netlink family', opts.vifq, () => VifqClient.open());
    const topo = await step<DaemonTopology>('reading the links and qdiscs (rtnetlink)', opts.topology, () => RtnlTopology.open());
    const d = new Vifqd(xs, vifq, topo, { xs: !opts.xenstore, vifq: !opts.vifq, topo: !opts.topology }, { ...opts, logger: log });
    try {
      await d.start();
    } catch (e) {
      await d.close();
      throw e instanceof VifqdStartError ? e : new VifqdStartError('subscribing', e);
    }
    return d;
  }

  private async start(): Promise<void> {
    this.xs.on('reconnected', (r) => {
      this.counters.xenstoreReconnects++;
      this.log.warn({ event: 'xenstore-reconnected', downtimeMs: r.downtimeMs }, 'xenstored is back: re-reading every SLA and the kernel');
      this.resyncAll('xenstore-reconnected');
    });
    this.xs.on('disconnected', (e) => this.log.warn({ event: 'xenstore-disconnected', reason: e.reason }, 'lost the connection to xenstored; reconnecting'));
    this.xs.on('warning', (w) => this.warn('xenstore', w));
    this.xs.on('reconnect-failed', (e) => this.warn('xenstore', e));
    this.vifq.on('warning', (w) => this.warn('vifq', w));
    this.topo.on('change', () => this.schedule('topology-change'));
    this.topo.on('resync', () => this.schedule('topology-resync'));
    this.topo.on('warning', (w) => this.warn('topology', w));

    // events first, so that nothing between the dump and the subscription is missed
    const stream = this.vifq.events();
    this.stream = stream;
    try {
      await stream.ready();
    } catch (e) {
      throw new VifqdStartError('joining the vifq multicast groups (needs CAP_NET_ADMIN)', e);
    }
    this.eventLoop = this.consume(stream);
    try {
      this.ownWatches.push(await this.xs.watch(HOST_BASE, (ev) => { this.hostStale = true; this.schedule(`xenstore:${ev.path}`); }));
      this.ownWatches.push(await this.xs.watch(BACKEND_VIF_DIR, (ev) => { this.backendStale = true; this.schedule(`xenstore:${ev.path}`); }));
    } catch (e) {
      throw new VifqdStartError('watching xenstore', e);
    }
    this.log.info({ event: 'started' }, 'vifqd started');
    await this.nudge('start');
  }

  /** Schedule a pass (coalesced with others) and resolve when it has run. */
  nudge(reason: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.schedule(reason, 0);
    });
  }

  /** A read-only view of what the daemon knows and decided. */
  snapshot(): VifqdSnapshot {
    const view = this.reconciler.view;
    const vifs: VifSnapshot[] = (this.last?.vifs ?? []).map((v) => ({
      ifindex: v.ifindex, domid: v.domid, handle: v.handle, uplink: v.uplink, desired: v.settings,
      kernel: view.get(v.ifindex)?.settings, why: v.decision.why.map((r) => ({ code: r.code, detail: r.detail })), sla: v.sla,
    }));
    const findings: FindingSnapshot[] = [];
    for (const m of this.findings.values()) for (const f of m.values()) findings.push({ code: f.code, path: f.path, message: f.summary, hint: f.hint });
    return {
      startedAt: this.startedAt, vifs, uplinks: this.last?.uplinks ?? [], lineRates: this.last?.lineRates ?? [], host: this.host,
      findings, counters: { ...this.counters, findings: { ...this.counters.findings } }, lastPass: this.lastPass,
    };
  }

  /** The kernel view of the reconciler (by ifindex). */
  get kernelView(): ReadonlyMap<number, KernelVif> {
    return this.reconciler.view;
  }

  /** Stop: no more passes; keep or reset the kernel's limits (host setting `on-stop`); close what it opened. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  // ---- internals

  private async shutdown(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    clearImmediate(this.immediate);
    clearTimeout(this.retryTimer);
    this.timer = undefined;
    this.immediate = undefined;
    this.retryTimer = undefined;
    await this.running;
    for (const w of this.waiters.splice(0)) w();
    const onStop = this.opts.onStop ?? this.host.onStop.value;
    if (onStop === 'reset' && this.stream) {
      let reset = 0;
      for (const v of this.kernelVifs.values()) {
        try {
          await this.vifq.setVif({ ifindex: v.ifindex }, STOCK);
          reset++;
        } catch (e) {
          this.log.warn({ event: 'reset-failed', ifindex: v.ifindex, domid: v.domid, handle: v.handle, ...errorFields(e) }, 'could not reset a vif to stock on stop');
        }
      }
      this.log.info({ event: 'stopped', onStop, reset }, `vifqd stopped: ${reset} vifs reset to stock limits (on-stop reset)`);
    } else {
      this.log.info({ event: 'stopped', onStop }, 'vifqd stopped: the kernel keeps the last limits (on-stop keep)');
    }
    await this.stream?.return?.();
    await this.eventLoop;
    if (!this.owned.xs) {
      for (const w of [...this.ownWatches, ...this.guestWatches.values()]) await w.unwatch().catch(() => undefined);
    }
    this.guestWatches.clear();
    if (this.owned.topo) this.topo.close();
    if (this.owned.vifq) this.vifq.close();
    if (this.owned.xs) await this.xs.close();
    this.emit('close', undefined);
  }

  private warn(component: string, err: VifqError): void {
    this.counters.warnings++;
    this.log.warn({ event: 'warning', component, ...errorFields(err) }, err.summary);
    this.emit('warning', err);
  }

  private resyncAll(reason: string): void {
    this.hostStale = true;
    this.backendStale = true;
    for (const d of this.guestWatches.keys()) this.staleGuests.set(d, 'all');
    this.reconciler.requestResync();
    this.counters.resyncs++;
    this.schedule(reason);
  }

  private schedule(reason: string, delayMs = this.debounceMs): void {
    if (this.closed) return;
    if (this.reasons.size === 0) this.firstReasonAt = performance.now();
    this.reasons.add(reason);
    this.kick(delayMs);
  }

  /**
   * Start the pass loop unless it runs or is about to. Idle, with no debounce: on the next
   * turn of the event loop (setImmediate), so the events of one socket read (a transaction's
   * watch events) still make one pass, but a lone SLA write waits for no timer. Busy: what
   * comes meanwhile waits for the running pass and makes the next one (coalesced).
   */
  private kick(delayMs: number): void {
    if (this.closed || this.running || this.timer || this.immediate) return; // the running loop picks it up
    if (delayMs <= 0) {
      this.immediate = setImmediate(() => {
        this.immediate = undefined;
        this.runLoop();
      });
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.runLoop();
    }, delayMs);
  }

  private runLoop(): void {
    if (this.running || this.closed) return;
    this.running = (async () => {
      while (this.reasons.size > 0 && !this.closed) await this.pass();
    })().finally(() => {
      this.running = undefined;
      // a reason that came after the loop's last check but before this ran would wait for the next event
      if (this.reasons.size > 0) this.kick(0);
    });
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer) return;
    const delay = this.retryDelay;
    this.retryDelay = Math.min(this.retry.maxMs, this.retryDelay * 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.schedule('retry', 0);
    }, delay);
  }

  private async consume(stream: VifqEventStream): Promise<void> {
    try {
      for await (const ev of stream) this.onKernelEvent(ev);
    } catch (e) {
      if (this.closed) return;
      this.warn('vifq', new VifqdStepError('reading the vifq events', e));
    }
    if (this.closed) return;
    // the stream ended without close(): the client closed itself (socket failure)
    this.log.error({ event: 'vifq-events-ended' }, 'the vifq event stream ended; vif add/remove and reports are no longer seen (restart vifqd)');
  }

  private onKernelEvent(ev: VifqEvent): void {
    switch (ev.type) {
      case 'release': {
        this.counters.reports++;
        const r = reportInputOf(ev['interval-ms'], ev.vifs);
        this.pendingReport = this.pendingReport ? mergeReports(this.pendingReport, r) : r;
        this.schedule('release-report');
        this.emitSafe('release', ev);
        return;
      }
      case 'vif-new': {
        const v = ev.vif;
        if (v.ifindex === undefined || v.domid === undefined || v.handle === undefined) return;
        this.kernelVifs.set(v.ifindex, { ifindex: v.ifindex, domid: v.domid, handle: v.handle });
        this.reconciler.vifSeen(v);
        this.topo.setKnownVifs(this.kernelVifs.values());
        this.backendStale = true;
        this.log.info({ event: 'vif-new', ifindex: v.ifindex, domid: v.domid, handle: v.handle }, `vif${v.domid}.${v.handle} appeared`);
        this.schedule('vif-new');
        return;
      }
      case 'vif-del': {
        const i = ev.vif.ifindex;
        if (i === undefined) return;
        this.kernelVifs.delete(i);
        this.reconciler.vifGone(i);
        this.topo.setKnownVifs(this.kernelVifs.values());
        this.log.info({ event: 'vif-del', ifindex: i, domid: ev.vif.domid, handle: ev.vif.handle }, `vif${ev.vif.domid ?? '?'}.${ev.vif.handle ?? '?'} went away`);
        this.schedule('vif-del');
        return;
      }
      case 'resync-needed':
        this.log.warn({ event: 'resync-needed', reason: ev.reason, ...errorFields(ev.error) }, `kernel events may have been lost (${ev.reason}): re-reading the kernel`);
        this.reconciler.requestResync();
        this.counters.resyncs++;
        this.kernelReportIntervalMs = undefined;
        this.schedule(`resync:${ev.reason}`);
    }
  }

  /** A guest's watch named `path`: re-read it (and what is under it) on the next pass. */
  private markGuestStale(domid: number, path: string): void {
    const now = this.staleGuests.get(domid);
    if (now === 'all') return;
    // many events before a pass (a guest writing in a loop): one full read is cheaper
    if (now !== undefined && now.size >= 16) this.staleGuests.set(domid, 'all');
    else if (now !== undefined) now.add(path);
    else this.staleGuests.set(domid, new Set([path]));
  }

  /** Log and count the findings of one source that were not there at its last read. */
  private noteFindings(source: string, found: readonly SlaFinding[]): void {
    const before = this.findings.get(source) ?? new Map<string, SlaFinding>();
    const now = new Map<string, SlaFinding>();
    for (const f of found) {
      now.set(f.key, f);
      if (before.has(f.key)) continue;
      this.counters.findings[f.code] = (this.counters.findings[f.code] ?? 0) + 1;
      if (f.code === 'untrusted-node') this.counters.untrustedIgnored++;
      this.log.warn({ event: 'sla-finding', code: f.code, path: f.path, severity: f.severity, hint: f.hint }, f.summary);
    }
    if (now.size > 0) this.findings.set(source, now);
    else this.findings.delete(source);
  }

  private async readXenstore(): Promise<boolean> {
    let ok = true;
    const attempt = async (what: string, fn: () => Promise<void>): Promise<void> => {
      try {
        await fn();
      } catch (e) {
        ok = false;
        this.counters.xenstoreReadFailures++;
        this.warn('xenstore', new VifqdStepError(what, e));
      }
    };
    if (this.hostStale) {
      await attempt(`reading the host settings under ${HOST_BASE}`, async () => {
        this.hostStale = false;
        const r = await readHostSettings(this.xs).catch((e: unknown) => { this.hostStale = true; throw e; });
        this.host = r.settings;
        this.noteFindings('host', r.findings);
      });
    }
    if (this.backendStale) {
      await attempt(`listing the vifs under ${BACKEND_VIF_DIR}`, async () => {
        this.backendStale = false;
        const backend = await listBackendVifs(this.xs).catch((e: unknown) => { this.backendStale = true; throw e; });
        for (const domid of backend.keys()) {
          if (this.guestWatches.has(domid)) continue;
          const path = GUEST_BASE(domid);
          const w = await this.xs.watch(path, (ev) => {
            this.markGuestStale(guestOfPath(ev.path) ?? domid, ev.path);
            this.schedule(`xenstore:${ev.path}`);
          });
          this.guestWatches.set(domid, w);
          this.staleGuests.set(domid, 'all');
        }
        for (const [domid, w] of this.guestWatches) {
          if (backend.has(domid)) continue;
          this.guestWatches.delete(domid);
          this.guests.delete(domid);
          this.guestNodes.delete(domid);
          this.staleGuests.delete(domid);
          this.noteFindings(`guest:${domid}`, []);
          await w.unwatch().catch((e: unknown) => this.warn('xenstore', new VifqdStepError(`removing the watch on ${w.path}`, e)));
        }
      });
    }
    for (const [domid, changed] of [...this.staleGuests]) {
      this.staleGuests.delete(domid);
      await attempt(`reading the SLA of domain ${domid}`, async () => {
        try {
          const r = await rereadGuestSla(this.xs, domid, this.guestNodes.get(domid), changed);
          this.guests.set(domid, r.sla);
          this.guestNodes.set(domid, r.nodes);
          this.noteFindings(`guest:${domid}`, r.findings);
        } catch (e) {
          this.staleGuests.set(domid, 'all');
          throw e;
        }
      });
    }
    return ok;
  }

  private async pass(): Promise<void> {
    const reasons = [...this.reasons];
    this.reasons.clear();
    const waiters = this.waiters.splice(0);
    const t0 = performance.now();
    const queuedMs = t0 - (this.firstReasonAt ?? t0);
    this.firstReasonAt = undefined;
    // where a pass spends its time (the debug log line): xenstore reads, kernel dump, report
    // interval, policy, vif-sets
    const phases: Record<'read' | 'dump' | 'config' | 'policy' | 'apply', number> = { read: 0, dump: 0, config: 0, policy: 0, apply: 0 };
    let mark = t0;
    const lap = (phase: keyof typeof phases): void => {
      const now = performance.now();
      phases[phase] = Math.round((now - mark) * 10) / 10;
      mark = now;
    };
    // this process's CPU time (user + system) in the pass and in its read phase: a wall time far
    // above it was spent waiting (for xenstored, the kernel, or the CPU), not computing
    const cpu0 = process.cpuUsage();
    let readCpu: NodeJS.CpuUsage | undefined;
    // the decision lines (vif-set, one per vif set: pino writes each synchronously)
    let logMs = 0;
    let ok = true;
    let summary: PassSummary | undefined;
    let error: string | undefined;
    try {
      ok = (await this.readXenstore()) && ok;
      lap('read');
      readCpu = process.cpuUsage(cpu0);
      if (this.reconciler.resyncPending) {
        try {
          const vifs = await this.vifq.listVifs();
          this.kernelVifs.clear();
          for (const v of vifs) {
            if (v.ifindex !== undefined && v.domid !== undefined && v.handle !== undefined) {
              this.kernelVifs.set(v.ifindex, { ifindex: v.ifindex, domid: v.domid, handle: v.handle });
            }
          }
          this.lister.primed = vifs;
          this.topo.setKnownVifs(this.kernelVifs.values());
        } catch (e) {
          this.counters.resyncFailures++;
          throw new VifqdStepError('re-reading the kernel\'s vifs (vif-get dump)', e);
        }
      }
      lap('dump');
      ok = (await this.syncReportInterval()) && ok;
      lap('config');
      const desired = computeDesired({
        nowNs: this.now(), host: this.host, guests: this.guests, vifs: [...this.kernelVifs.values()], placements: this.topo.vifs(),
        report: this.pendingReport, state: this.policyState, config: this.cfg,
      });
      this.pendingReport = null;
      this.policyState = desired.state;
      this.last = desired;
      lap('policy');
      summary = await this.reconciler.pass(desired.vifs);
      lap('apply');
      const logStart = performance.now();
      this.noteSummary(summary, desired);
      logMs = performance.now() - logStart;
      if (summary.resyncError || summary.failed.length > 0) ok = false;
    } catch (e) {
      ok = false;
      const err = e instanceof VifqError ? e : new VifqdStepError('a pass', e);
      error = err.summary;
      this.counters.passFailures++;
      this.log.error({ event: 'pass-failed', ...errorFields(err) }, err.summary);
    }
    this.counters.passes++;
    this.lastPass = {
      at: new Date().toISOString(), durationMs: Math.round((performance.now() - t0) * 1000) / 1000, reasons, resynced: summary?.resynced ?? false,
      applied: summary?.applied.length ?? 0, unchanged: summary?.unchanged.length ?? 0, failed: summary?.failed.length ?? 0,
      vanished: summary?.vanished.length ?? 0, absent: summary?.absent.length ?? 0, error,
    };
    const ms = (u: NodeJS.CpuUsage | undefined): number | undefined => (u === undefined ? undefined : Math.round((u.user + u.system) / 100) / 10);
    this.log.debug({ event: 'pass', ...this.lastPass, queuedMs: Math.round(queuedMs * 10) / 10, phases, logMs: Math.round(logMs * 10) / 10, cpuMs: ms(process.cpuUsage(cpu0)), readCpuMs: ms(readCpu) }, 'pass');
    if (ok) this.retryDelay = this.retry.initialMs;
    else this.scheduleRetry();
    for (const w of waiters) w();
    this.emitSafe('pass', this.lastPass);
  }

  /** A listener that throws becomes a `warning` (it must not end the pass loop or the event loop). */
  private emitSafe<K extends 'pass' | 'release'>(event: K, ...args: VifqdEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: VifqdEvents[K]) => boolean)(event, ...args);
    } catch (e) {
      this.warn('listener', new VifqdListenerError(event, e));
    }
  }

  private async syncReportInterval(): Promise<boolean> {
    const want = this.host.reportIntervalMs.value;
    try {
      if (this.kernelReportIntervalMs === undefined) this.kernelReportIntervalMs = (await this.vifq.getConfig())['report-interval-ms'];
      if (this.kernelReportIntervalMs !== want) {
        await this.vifq.setConfig({ 'report-interval-ms': want });
        this.log.info({ event: 'config-set', reportIntervalMs: want, source: this.host.reportIntervalMs.source }, `report interval set to ${want} ms`);
        this.kernelReportIntervalMs = want;
      }
      return true;
    } catch (e) {
      this.kernelReportIntervalMs = undefined;
      this.warn('vifq', new VifqdStepError(`setting the report interval to ${want} ms`, e));
      return false;
    }
  }

  private noteSummary(s: PassSummary, desired: DesiredResult): void {
    const byIfindex = new Map(desired.vifs.map((v) => [v.ifindex, v]));
    if (s.resynced) this.log.info({ event: 'resynced', vifs: this.kernelVifs.size }, `read ${this.kernelVifs.size} vifs from the kernel`);
    if (s.resyncError) {
      this.counters.resyncFailures++;
      this.log.error({ event: 'resync-failed', ...errorFields(s.resyncError) }, s.resyncError.summary);
    }
    for (const c of s.applied) {
      this.counters.vifSets++;
      const d = byIfindex.get(c.ifindex);
      this.log.info({
        event: 'vif-set', ifindex: c.ifindex, domid: c.domid, handle: c.handle, uplink: d?.uplink ?? null, ...c.settings, because: c.because,
        why: d?.decision.why.map((r) => `${r.code}: ${r.detail}`) ?? [],
      }, `vif${c.domid}.${c.handle}: limit ${c.settings.limitBytes} B, ${c.settings.limitPackets} packets, ${c.settings.priority} priority, group ${c.settings.group}`);
    }
    for (const c of s.vanished) {
      this.counters.vifsVanished++;
      this.kernelVifs.delete(c.ifindex);
      this.log.info({ event: 'vif-vanished', ifindex: c.ifindex, domid: c.domid, handle: c.handle }, `vif${c.domid}.${c.handle} went away before it could be set`);
    }
    for (const f of s.failed) {
      this.counters.vifSetFailures++;
      this.log.warn({ event: 'vif-set-failed', ifindex: f.change.ifindex, domid: f.change.domid, handle: f.change.handle, ...errorFields(f.error) }, f.error.summary);
    }
  }
}
