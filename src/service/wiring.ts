/**
 * Keeps `VifqMetrics` up to date from a running `Vifqd` (its one job):
 *
 *   const w = MetricsWiring.attach(daemon, metrics);   // syncs from the snapshot at once
 *   w.detach();                                       // stop listening (before daemon.close())
 *
 * - after each pass (`'pass'`, then `snapshot()`): every vif's labels (uplink) and the limits the
 *   reconciler believes the kernel holds, every uplink's decision with the line rate's source as
 *   topology found it (`qdisc-tbf`, `link-speed`, ... or `host-setting`); then `retainVifs()` /
 *   `retainUplinks()` with what the pass knew, so a vif gone (vif-del, or a resync that no longer
 *   finds it) leaves no series;
 * - each release report (`'release'`): pending gauges, transmit/throttle counters, histogram;
 * - the daemon's cumulative counters become Prometheus counters by their increase since the
 *   previous pass: untrusted nodes, reconcile passes and errors by kind, resyncs by reason.
 */
import type { LastPass, Vifqd, VifqdCounters, VifqdReleaseReport } from './daemon.js';
import type { ResyncReason } from '../vifq/index.js';
import type { LineRateSourceLabel, ResyncMetricReason, VifqMetrics } from './metrics.js';

type CounterKey = Exclude<keyof VifqdCounters, 'findings'>;

const KERNEL_RESYNC_REASONS: ReadonlySet<string> = new Set<ResyncReason>(['overrun', 'family-gone', 'family-new', 'slow-consumer']);

/** The resync reasons (metric label) behind a pass's coalesced trigger reasons. */
export function resyncReasonsOf(pass: LastPass, firstPass: boolean): ResyncMetricReason[] {
  const out = new Set<ResyncMetricReason>();
  for (const r of pass.reasons) {
    if (r === 'xenstore-reconnected') out.add('xenstore-reconnect');
    else if (r.startsWith('resync:')) {
      const k = r.slice('resync:'.length);
      if (KERNEL_RESYNC_REASONS.has(k)) out.add(k as ResyncReason);
    }
  }
  if (firstPass && pass.resynced) out.add('startup');
  return [...out];
}

export class MetricsWiring {
  private last: Readonly<VifqdCounters>;
  private firstPass = true;
  private attached = true;
  private readonly onPass = (p: LastPass): void => { this.sync(p); };
  private readonly onRelease = (r: VifqdReleaseReport): void => { this.metrics.observeRelease(r); };

  private constructor(private readonly daemon: Vifqd, private readonly metrics: VifqMetrics) {
    this.last = zeroCounters();
    daemon.on('pass', this.onPass);
    daemon.on('release', this.onRelease);
  }

  /** Listen to the daemon and take in what it knows now (its first pass ran in `Vifqd.open()`). */
  static attach(daemon: Vifqd, metrics: VifqMetrics): MetricsWiring {
    const w = new MetricsWiring(daemon, metrics);
    const p = daemon.snapshot().lastPass;
    if (p) w.sync(p);
    return w;
  }

  /** Stop listening. Idempotent. */
  detach(): void {
    if (!this.attached) return;
    this.attached = false;
    this.daemon.off('pass', this.onPass);
    this.daemon.off('release', this.onRelease);
  }

  private sync(pass: LastPass): void {
    const m = this.metrics;
    const s = this.daemon.snapshot();
    for (const v of s.vifs) {
      m.setVif({ ifindex: v.ifindex, domid: v.domid, handle: v.handle, uplink: v.uplink });
      if (v.kernel) m.setVifState({ ifindex: v.ifindex, domid: v.domid, handle: v.handle, settings: v.kernel });
    }
    m.retainVifs(s.vifs.map((v) => v.ifindex));
    const sources = new Map<string, LineRateSourceLabel>(s.lineRates.map((r) => [r.ifname, r.detail]));
    for (const u of s.uplinks) m.setUplink(u, sources.get(u.id));
    m.retainUplinks(s.uplinks.map((u) => u.id));

    const c = s.counters;
    const d = (k: CounterKey): number => Math.max(0, c[k] - this.last[k]);
    for (let i = d('passes'); i > 0; i--) m.countReconcilePass();
    m.countUntrustedWrite(d('untrustedIgnored'));
    m.countReconcileError('vif-set', d('vifSetFailures'));
    m.countReconcileError('vif-vanished', d('vifsVanished'));
    m.countReconcileError('resync', d('resyncFailures'));
    m.countReconcileError('xenstore', d('xenstoreReadFailures'));
    // a failed kernel re-dump is counted as resyncFailures and also fails the pass: count it once
    m.countReconcileError('other', Math.max(0, d('passFailures') - d('resyncFailures')));
    const resyncs = d('resyncs') + (this.firstPass && pass.resynced ? 1 : 0);
    // the daemon counts a resync when it is requested; the pass that ran it names why (coalesced:
    // one count per reason)
    if (resyncs > 0) for (const r of resyncReasonsOf(pass, this.firstPass)) m.countResync(r);
    this.firstPass = false;
    this.last = { ...c };
  }
}

function zeroCounters(): VifqdCounters {
  return {
    passes: 0, passFailures: 0, vifSets: 0, vifSetFailures: 0, vifsVanished: 0, resyncs: 0, resyncFailures: 0,
    xenstoreReconnects: 0, xenstoreReadFailures: 0, reports: 0, warnings: 0, untrustedIgnored: 0, findings: {},
  };
}
