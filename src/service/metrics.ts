/**
 * vifqd's Prometheus metrics: one `Registry` per `VifqMetrics` (never prom-client's global one),
 * names in node_exporter's style, and the HTTP endpoint that serves them (`MetricsServer`).
 *
 * Per-vif series live in plain records keyed by ifindex, and are turned into samples only when
 * scraped (custom collectors). Updating from a 1000-vif release report is then a Map lookup and a
 * few additions per vif, with no label hashing (prom-client's `labels(...).inc()` hashes the
 * label object on every call); and a vif's series follow its record: `vifGone()` removes all of
 * them, a renamed domain or a moved vif shows under its new labels only.
 *
 * Labels: per vif `domid`, `domain` (the guest's name, '' until known), `vif` (netdev name,
 * `vif<domid>.<handle>`), `uplink` (the policy's uplink id, '' when none); per uplink `uplink`;
 * the line rate also `source`. No label has more values than there are vifs or uplinks.
 *
 * The in-flight histogram comes from the kernel's log2 buckets (kernel-patch/vifq.yaml,
 * `hist-buckets`): bucket 0 is < 1024 ns, bucket k is [2^(k-1), 2^k) * 1024 ns, the last one
 * everything longer. It is exposed as a Prometheus histogram with `le` = 2^k * 1024 ns (in
 * seconds) for k < last and `+Inf` for the last, cumulative as Prometheus requires. The kernel's
 * upper bounds are exclusive and `le` is inclusive: a packet of exactly 2^k * 1024 ns counts in
 * the next bucket, which no quantile estimate can notice.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventEmitter } from 'node:events';
import { Counter, Registry, type Metric } from 'prom-client';
import { VifqError } from '../errors.js';
import { VIFQ_HIST_BUCKETS, type ResyncReason, type VifqEvent, type VifRelease, type VifqVif } from '../vifq/index.js';
import type { RateSource, UplinkDecision, VifDecision, VifSettings } from '../policy/index.js';
import type { LineRateSource } from '../topology/index.js';
import type { DesiredVif, KernelVif } from './reconcile.js';

/** Upper bounds of the kernel's histogram buckets, in seconds (the last one is +Inf). */
export const INFLIGHT_BUCKET_BOUNDS_SECONDS: readonly number[] = Array.from(
  { length: VIFQ_HIST_BUCKETS - 1 },
  (_, k) => (2 ** k * 1024) / 1e9,
);

/** Who a vif is, for its labels. `domain` and `uplink` may come later (xenstore, topology). */
export interface VifLabelsInput {
  readonly ifindex: number;
  readonly domid: number;
  readonly handle: number;
  /** netdev name; default `vif<domid>.<handle>` */
  readonly ifname?: string | undefined;
  /** the guest's name (xenstore `/local/domain/<domid>/name`) */
  readonly domain?: string | undefined;
  /** the policy's uplink id; null when topology found none */
  readonly uplink?: string | null | undefined;
}

/** A vif's kernel settings as the daemon knows them: the policy's decision, the desired or the kernel view. */
export type VifStateInput =
  | Pick<VifDecision, 'ifindex' | 'domid' | 'handle' | 'settings' | 'uplinkId'>
  | DesiredVif
  | KernelVif;

/** The release event of `VifqClient.events()`, or just its vifs. */
export type ReleaseInput = Extract<VifqEvent, { type: 'release' }> | readonly VifRelease[];

/** Kinds of reconcile errors (the `kind` label): what failed in a pass. */
export type ReconcileErrorKind = 'vif-set' | 'vif-vanished' | 'resync' | 'xenstore' | 'topology' | 'policy' | 'other';

/** Reasons of a full resync (the `reason` label): the client's, plus the service's own. */
export type ResyncMetricReason = ResyncReason | 'xenstore-reconnect' | 'topology' | 'startup' | 'control';

/** The line rate's source label: the topology's (qdisc-tbf, link-speed...) or the policy's. */
export type LineRateSourceLabel = LineRateSource | RateSource;

interface VifRecord {
  ifindex: number;
  domid: number;
  handle: number;
  domidLabel: string;
  vif: string;
  domain: string;
  uplink: string;
  /** labels shared by every sample of this vif, and their text (rebuilt when a label changes) */
  labels: Record<string, string>;
  labelText: string;
  pendingBytes: number;
  pendingPackets: number;
  hasPending: boolean;
  limitBytes: number | undefined;
  limitPackets: number | undefined;
  transmitBytes: number;
  transmitPackets: number;
  throttledNs: number;
  throttleEvents: number;
  latencySumNs: number;
  /** per kernel bucket, NOT cumulative (made cumulative at scrape time) */
  hist: Float64Array;
}

interface UplinkRecord {
  labels: Record<string, string>;
  labelText: string;
  budgetBytes: number;
  budgetNs: number;
  floorBytes: number;
  activeVifs: number;
  rateBitsPerSec: number;
  source: string;
}

interface Sample {
  value: number;
  labels: Record<string, string>;
  metricName?: string;
}

/**
 * Called once per sample: its name, labels (object and pre-formatted text) and value; `le` for a
 * histogram bucket (in the text already, added to the object only when asked for objects).
 */
type SampleEmitter = (metricName: string, labels: Record<string, string>, labelText: string, value: number, le?: string) => void;

type MetricTypeName = 'counter' | 'gauge' | 'histogram';

/** Prometheus text escaping of a label value (as prom-client does it). */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelText(labels: Readonly<Record<string, string>>): string {
  let out = '';
  for (const [k, v] of Object.entries(labels)) out += `${out === '' ? '' : ','}${k}="${escapeLabelValue(v)}"`;
  return out;
}

function valueText(v: number): string {
  if (Number.isNaN(v)) return 'Nan';
  if (!Number.isFinite(v)) return v < 0 ? '-Inf' : '+Inf';
  return `${v}`;
}

/**
 * A metric whose samples are computed at scrape time from the caller's records. It has the shape
 * prom-client's Registry reads (`name`, `help`, `type`, `aggregator`, `get()`, `reset()`), and
 * renders its own text from label strings cached per vif: prom-client's Registry formats every
 * label of every sample on each scrape (0.6 s for 1000 vifs, 34 k series, measured), this 1/10 of it.
 */
class ComputedMetric {
  readonly aggregator = 'sum' as const;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricTypeName,
    private readonly each: (emit: SampleEmitter) => void,
  ) {}

  async get(): Promise<{ name: string; help: string; type: MetricTypeName; aggregator: 'sum'; values: Sample[] }> {
    const values: Sample[] = [];
    this.each((metricName, labels, _text, value, le) => {
      const l = le === undefined ? labels : { ...labels, le };
      values.push(metricName === this.name ? { value, labels: l } : { value, labels: l, metricName });
    });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** The text exposition of this metric; `extra` = the formatted default labels ('' for none). */
  text(extra: string): string {
    const lines: string[] = [`# HELP ${this.name} ${this.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${this.name} ${this.type}`];
    this.each((metricName, _labels, text, value) => {
      const all = extra === '' ? text : text === '' ? extra : `${text},${extra}`;
      lines.push(all === '' ? `${metricName} ${valueText(value)}` : `${metricName}{${all}} ${valueText(value)}`);
    });
    return lines.join('\n');
  }

  reset(): void {
    // the records belong to VifqMetrics; nothing of its own to reset
  }
}

export interface VifqMetricsOptions {
  /** Extra constant labels on every series (e.g. `{ host: 'dom0-a' }`); none by default. */
  readonly defaultLabels?: Readonly<Record<string, string>>;
}

/**
 * The service's metrics. Plug-in points for the daemon:
 * - `setVif()` when a vif appears or its name/domain/uplink becomes known, `vifGone()` when it goes;
 * - `setVifState()` with each applied decision (limits), `observeKernelVif()` on a dump;
 * - `observeRelease()` with each release event (pending gauges, counters, histogram);
 * - `setUplink()` with each uplink decision, `uplinkGone()`;
 * - after a resync, `retainVifs()` / `retainUplinks()` with what exists (a lost vif-del leaves nothing);
 * - `count*()` for untrusted writes, reconcile passes/errors and resyncs.
 */
export class VifqMetrics {
  /**
   * The registry (every metric of the service is in it; `registry.metrics()` gives the same text
   * as `metrics()`, slower: it formats every label of every sample again).
   */
  readonly registry: Registry;
  private readonly defaultLabelText: string;
  private readonly vifs = new Map<number, VifRecord>();
  private readonly uplinks = new Map<string, UplinkRecord>();
  private readonly untrustedWrites: Counter;
  private readonly reconcilePasses: Counter;
  private readonly reconcileErrors: Counter<'kind'>;
  private readonly resyncs: Counter<'reason'>;

  constructor(options: VifqMetricsOptions = {}) {
    this.registry = new Registry();
    if (options.defaultLabels) this.registry.setDefaultLabels({ ...options.defaultLabels });
    this.defaultLabelText = labelText(options.defaultLabels ?? {});
    const vifGauge = (name: string, help: string, pick: (r: VifRecord) => number | undefined): void =>
      this.add(new ComputedMetric(name, help, 'gauge', (emit) => { this.vifSamples(name, pick, emit); }));
    const vifCounter = (name: string, help: string, pick: (r: VifRecord) => number): void =>
      this.add(new ComputedMetric(name, help, 'counter', (emit) => { this.vifSamples(name, pick, emit); }));

    vifGauge('vifq_vif_pending_bytes', 'Bytes taken from the guest and not yet released by the host stack, at the end of the last report interval.',
      (r) => (r.hasPending ? r.pendingBytes : undefined));
    vifGauge('vifq_vif_pending_packets', 'Packets taken from the guest and not yet released by the host stack, at the end of the last report interval.',
      (r) => (r.hasPending ? r.pendingPackets : undefined));
    vifGauge('vifq_vif_limit_bytes', 'Limit on pending bytes set in the kernel (0: none).', (r) => r.limitBytes);
    vifGauge('vifq_vif_limit_packets', 'Limit on pending packets set in the kernel (0: none; the packet cap of a low-priority vif).', (r) => r.limitPackets);
    vifCounter('vifq_vif_transmit_bytes_total', 'Bytes of the guest released by the host stack (from the release reports, since vifqd saw the vif).', (r) => r.transmitBytes);
    vifCounter('vifq_vif_transmit_packets_total', 'Packets of the guest released by the host stack (from the release reports, since vifqd saw the vif).', (r) => r.transmitPackets);
    vifCounter('vifq_vif_throttled_seconds_total', 'Time queues of the vif spent stopped at a limit, summed over its queues (can exceed wall time with several queues).',
      (r) => r.throttledNs / 1e9);
    vifCounter('vifq_vif_throttle_events_total', 'Times a queue of the vif stopped at a limit.', (r) => r.throttleEvents);
    this.add(new ComputedMetric('vifq_vif_inflight_seconds',
      'Time in flight of released packets (handed to the stack until released), from the kernel\'s log2 histogram.',
      'histogram', (emit) => { this.histogramSamples(emit); }));

    const uplinkGauge = (name: string, help: string, pick: (u: UplinkRecord) => number): void =>
      this.add(new ComputedMetric(name, help, 'gauge', (emit) => {
        for (const u of this.uplinks.values()) emit(name, u.labels, u.labelText, pick(u));
      }));
    uplinkGauge('vifq_uplink_budget_bytes', 'Pending-bytes budget of the uplink, split among its vifs.', (u) => u.budgetBytes);
    uplinkGauge('vifq_uplink_budget_seconds', 'The uplink\'s budget as time at its line rate.', (u) => u.budgetNs / 1e9);
    uplinkGauge('vifq_uplink_floor_bytes', 'Per-vif floor of the uplink (two full-size frames or 1 ms at line rate, at most 64 KiB).', (u) => u.floorBytes);
    uplinkGauge('vifq_uplink_active_vifs', 'Vifs of the uplink active in the last report.', (u) => u.activeVifs);
    this.add(new ComputedMetric('vifq_uplink_line_rate_bits_per_second',
      'Line rate of the uplink and where it came from (source: host setting, root shaping qdisc, link speed, or an unknown-rate default).',
      'gauge', (emit) => {
        for (const u of this.uplinks.values()) {
          emit('vifq_uplink_line_rate_bits_per_second', { ...u.labels, source: u.source },
            `${u.labelText},source="${escapeLabelValue(u.source)}"`, u.rateBitsPerSec);
        }
      }));

    this.untrustedWrites = new Counter({
      name: 'vifq_untrusted_writes_total',
      help: 'SLA values ignored because the guest could write them or dom0 did not own them (the default applied).',
      registers: [this.registry],
    });
    this.reconcilePasses = new Counter({ name: 'vifq_reconcile_passes_total', help: 'Reconcile passes run.', registers: [this.registry] });
    this.reconcileErrors = new Counter({
      name: 'vifq_reconcile_errors_total', help: 'Errors met by reconcile passes, by kind (each was logged with what to do).',
      labelNames: ['kind'], registers: [this.registry],
    });
    this.resyncs = new Counter({
      name: 'vifq_resyncs_total', help: 'Full re-reads of the kernel state, by reason.', labelNames: ['reason'], registers: [this.registry],
    });
  }

  /** The text exposition of every metric (what GET /metrics answers); the same as `registry.metrics()`. */
  async metrics(): Promise<string> {
    const parts: string[] = [];
    for (const m of this.registry.getMetricsAsArray()) {
      const metric: unknown = m;
      parts.push(metric instanceof ComputedMetric ? metric.text(this.defaultLabelText) : await this.registry.getSingleMetricAsString(m.name));
    }
    return `${parts.join('\n\n')}\n`;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** A vif appeared, or its name, domain or uplink became known or changed. */
  setVif(v: VifLabelsInput): void {
    const r = this.record(v.ifindex, v.domid, v.handle);
    let changed = false;
    if (v.ifname !== undefined && v.ifname !== r.vif) { r.vif = v.ifname; changed = true; }
    if (v.domain !== undefined && v.domain !== r.domain) { r.domain = v.domain; changed = true; }
    if (v.uplink !== undefined && (v.uplink ?? '') !== r.uplink) { r.uplink = v.uplink ?? ''; changed = true; }
    if (changed) setLabels(r);
  }

  /** The vif's kernel limits (and its uplink, when the input carries one). */
  setVifState(v: VifStateInput): void {
    const r = this.record(v.ifindex, v.domid, v.handle);
    const s: Partial<VifSettings> = v.settings;
    if (s.limitBytes !== undefined) r.limitBytes = s.limitBytes;
    if (s.limitPackets !== undefined) r.limitPackets = s.limitPackets;
    if ('uplinkId' in v && v.uplinkId !== undefined && (v.uplinkId ?? '') !== r.uplink) {
      r.uplink = v.uplinkId ?? '';
      setLabels(r);
    }
  }

  /** A vif as `vif-get` reported it (a dump after a resync): name, limits and pending gauges. */
  observeKernelVif(v: VifqVif): void {
    if (v.ifindex === undefined || v.domid === undefined || v.handle === undefined) return;
    const r = this.record(v.ifindex, v.domid, v.handle);
    if (v.ifname !== undefined && v.ifname !== r.vif) { r.vif = v.ifname; setLabels(r); }
    if (v['limit-bytes'] !== undefined) r.limitBytes = v['limit-bytes'];
    if (v['limit-packets'] !== undefined) r.limitPackets = v['limit-packets'];
    if (v['pending-bytes'] !== undefined || v['pending-packets'] !== undefined) {
      r.pendingBytes = v['pending-bytes'] ?? r.pendingBytes;
      r.pendingPackets = v['pending-packets'] ?? r.pendingPackets;
      r.hasPending = true;
    }
  }

  /**
   * One release report (per-vif deltas, as `VifqClient.events()` yields them): pending gauges,
   * transmit/throttle counters and the in-flight histogram. A vif not yet known gets a record
   * with its default labels (`setVif()` fills in the rest).
   */
  observeRelease(report: ReleaseInput): void {
    const vifs = 'vifs' in report ? report.vifs : report;
    for (const d of vifs) {
      const r = this.record(d.ifindex, d.domid, d.handle);
      r.pendingBytes = d['pending-bytes'];
      r.pendingPackets = d['pending-packets'];
      r.hasPending = true;
      r.transmitBytes += d.bytes;
      r.transmitPackets += d.packets;
      r.throttledNs += d['throttled-ns'];
      r.throttleEvents += d['throttle-events'];
      r.latencySumNs += d['latency-sum-ns'];
      const h = d.hist;
      const hist = r.hist;
      const last = hist.length - 1;
      for (let i = 0; i < h.length; i++) {
        const x = h[i] ?? 0;
        // most buckets of a report are empty; a longer histogram (a future kernel with more
        // buckets) folds into the last, +Inf, bucket
        if (x !== 0) {
          const j = i < last ? i : last;
          hist[j] = (hist[j] ?? 0) + x;
        }
      }
    }
  }

  /** The vif went away (vif-del, detach): every one of its series disappears. */
  vifGone(ifindex: number): boolean {
    return this.vifs.delete(ifindex);
  }

  /** ifindexes with series. */
  knownVifs(): number[] {
    return [...this.vifs.keys()];
  }

  /**
   * Keeps the series of these vifs only (after a resync: a vif-del lost to an overrun must not
   * leave its series behind). Returns the ifindexes removed.
   */
  retainVifs(ifindexes: Iterable<number>): number[] {
    const keep = new Set(ifindexes);
    const gone: number[] = [];
    for (const k of this.vifs.keys()) if (!keep.has(k)) gone.push(k);
    for (const k of gone) this.vifs.delete(k);
    return gone;
  }

  /** Keeps these uplinks only (an uplink unplugged or no longer reached by any vif). */
  retainUplinks(ids: Iterable<string>): string[] {
    const keep = new Set(ids);
    const gone = [...this.uplinks.keys()].filter((id) => !keep.has(id));
    for (const id of gone) this.uplinks.delete(id);
    return gone;
  }

  /** One uplink's decision (budget, floor, active vifs, line rate); `lineRateSource` from topology if finer. */
  setUplink(d: UplinkDecision, lineRateSource?: LineRateSourceLabel): void {
    let u = this.uplinks.get(d.id);
    if (!u) {
      u = { labels: { uplink: d.id }, labelText: `uplink="${escapeLabelValue(d.id)}"`, budgetBytes: 0, budgetNs: 0, floorBytes: 0, activeVifs: 0, rateBitsPerSec: 0, source: '' };
      this.uplinks.set(d.id, u);
    }
    u.budgetBytes = d.budgetBytes;
    u.budgetNs = d.budgetNs;
    u.floorBytes = d.floorBytes;
    u.activeVifs = d.activeVifs;
    u.rateBitsPerSec = d.rateBitsPerSec;
    u.source = lineRateSource ?? d.rateSource;
  }

  uplinkGone(id: string): boolean {
    return this.uplinks.delete(id);
  }

  /** SLA values ignored because they were not trusted (guest-writable, not owned by dom0). */
  countUntrustedWrite(n = 1): void {
    this.untrustedWrites.inc(n);
  }

  countReconcilePass(): void {
    this.reconcilePasses.inc();
  }

  countReconcileError(kind: ReconcileErrorKind, n = 1): void {
    if (n > 0) this.reconcileErrors.inc({ kind }, n);
  }

  countResync(reason: ResyncMetricReason): void {
    this.resyncs.inc({ reason });
  }

  private add(m: ComputedMetric): void {
    // ComputedMetric has the shape the Registry reads; prom-client types only its own classes.
    this.registry.registerMetric(m as unknown as Metric);
  }

  private record(ifindex: number, domid: number, handle: number): VifRecord {
    let r = this.vifs.get(ifindex);
    if (r && r.domid === domid && r.handle === handle) return r;
    // new vif, or the ifindex now belongs to another vif: start its series afresh
    r = {
      ifindex, domid, handle, domidLabel: String(domid), vif: `vif${domid}.${handle}`, domain: '', uplink: '', labels: {}, labelText: '',
      pendingBytes: 0, pendingPackets: 0, hasPending: false, limitBytes: undefined, limitPackets: undefined,
      transmitBytes: 0, transmitPackets: 0, throttledNs: 0, throttleEvents: 0, latencySumNs: 0,
      hist: new Float64Array(VIFQ_HIST_BUCKETS),
    };
    setLabels(r);
    this.vifs.set(ifindex, r);
    return r;
  }

  private vifSamples(name: string, pick: (r: VifRecord) => number | undefined, emit: SampleEmitter): void {
    for (const r of this.vifs.values()) {
      const value = pick(r);
      if (value !== undefined) emit(name, r.labels, r.labelText, value);
    }
  }

  private histogramSamples(emit: SampleEmitter): void {
    for (const r of this.vifs.values()) {
      let cum = 0;
      for (let k = 0; k < r.hist.length; k++) {
        cum += r.hist[k] ?? 0;
        const le = LE[k] ?? '+Inf';
        emit('vifq_vif_inflight_seconds_bucket', r.labels, `${r.labelText},le="${le}"`, cum, le);
      }
      emit('vifq_vif_inflight_seconds_sum', r.labels, r.labelText, r.latencySumNs / 1e9);
      emit('vifq_vif_inflight_seconds_count', r.labels, r.labelText, cum);
    }
  }
}

/** The `le` label of each kernel bucket ('+Inf' for the last). */
const LE: readonly string[] = [...INFLIGHT_BUCKET_BOUNDS_SECONDS.map((b) => String(b)), '+Inf'];

function setLabels(r: VifRecord): void {
  r.labels = { domid: r.domidLabel, domain: r.domain, vif: r.vif, uplink: r.uplink };
  r.labelText = labelText(r.labels);
}

// ---------------------------------------------------------------------------------------------
// HTTP endpoint

export const DEFAULT_METRICS_PORT = 9851;

/** The metrics endpoint could not listen. */
export class MetricsListenError extends VifqError {
  readonly code: string | undefined;
  constructor(host: string, port: number, cause: unknown) {
    const code = (cause as { code?: unknown } | null)?.code;
    const c = typeof code === 'string' ? code : undefined;
    super(`the metrics endpoint could not listen on ${host}:${port}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
      hint: c === 'EADDRINUSE'
        ? `another process holds port ${port} (is another vifqd running? \`ss -ltnp 'sport = :${port}'\`); set another metrics port in the host settings`
        : 'check the metrics address in the host settings',
    });
    this.code = c;
  }
}

/** Scraping failed (a collector threw); the scrape answers 500 and the service goes on. */
export class MetricsScrapeError extends VifqError {
  constructor(cause: unknown) {
    super(`collecting the metrics failed: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause, hint: 'a bug in vifqd: please report it with the log line',
    });
  }
}

export interface MetricsServerOptions {
  readonly metrics: VifqMetrics;
  /** default 127.0.0.1: the metrics are for the host's own Prometheus agent */
  readonly host?: string;
  /** default 9851; 0 picks a free port (tests) */
  readonly port?: number;
}

export interface MetricsServerEvents {
  warning: [err: VifqError];
  close: [cause: Error | undefined];
}

/** GET (and HEAD) /metrics on 127.0.0.1:<port>; every other path or method is 404. */
export class MetricsServer extends EventEmitter<MetricsServerEvents> {
  private readonly server: Server;
  private closed = false;
  private closing: Promise<void> | undefined;

  private constructor(private readonly metrics: VifqMetrics) {
    super();
    this.server = createServer((req, res) => { this.serve(req, res); });
    this.server.on('error', (e) => { this.warn(new MetricsScrapeError(e)); });
  }

  static async open(options: MetricsServerOptions): Promise<MetricsServer> {
    const host = options.host ?? '127.0.0.1';
    const port = options.port ?? DEFAULT_METRICS_PORT;
    const s = new MetricsServer(options.metrics);
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error): void => { reject(new MetricsListenError(host, port, e)); };
      s.server.once('error', onError);
      s.server.listen(port, host, () => {
        s.server.off('error', onError);
        resolve();
      });
    });
    return s;
  }

  /** The address actually bound (the port when 0 was asked). */
  address(): { host: string; port: number } {
    const a = this.server.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.closed = true;
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    }).then(() => { this.emitSafe('close', undefined); });
    return this.closing;
  }

  private serve(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: vifqd serves GET /metrics only\n');
      return;
    }
    this.metrics.metrics().then((body) => {
      res.writeHead(200, { 'content-type': this.metrics.contentType });
      res.end(req.method === 'HEAD' ? undefined : body);
    }, (e: unknown) => {
      const err = new MetricsScrapeError(e);
      this.warn(err);
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`${err.message}\n`);
    });
  }

  private warn(err: VifqError): void {
    if (!this.closed) this.emitSafe('warning', err);
  }

  private emitSafe<K extends keyof MetricsServerEvents>(event: K, ...args: MetricsServerEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: MetricsServerEvents[K]) => boolean)(event, ...args);
    } catch (e) {
      if (event !== 'warning') {
        try { this.emit('warning', new MetricsScrapeError(e)); } catch { /* a throwing warning listener: nothing left to tell */ }
      }
    }
  }
}
