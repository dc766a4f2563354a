/**
 * The control socket's methods for a running `Vifqd` (the handler table `ControlServer.open()`
 * takes; the socket and its protocol are control-socket.ts's):
 *
 *   status        -> the daemon's snapshot (JSON: Maps as objects, undefined left out), plus
 *                 `traffic`: the last release report (per-vif deltas over its interval, the
 *                 pending gauges at its end) and when it came, or null before the first one
 *   domain.show   {domid} -> that domain's vifs: SLA values with their sources, the desired and
 *                 kernel settings and the reasons; its findings. Unknown domid: `not-found`.
 *   nudge         {vif?, reason?} -> runs a pass and answers {ok: true} once it ran (the
 *                 vif-post.d hotplug hook sends {vif, reason: "hotplug"})
 *   events        stream: {event: "pass", data: <pass summary>}, {event: "release", data: <report>},
 *                 {event: "vif-add" | "vif-del", data: {vif, domid, handle, ifindex, uplink}} when a
 *                 pass finds a vif the previous one did not have, or no longer finds one
 *
 * Setting an SLA is not a method: SLAs live in xenstore (`vifq domain set` writes there).
 */
import type { LastPass, Vifqd, VifqdReleaseReport } from './daemon.js';
import { ControlMethodError, type ControlHandlers, type EventSink, type JsonValue } from './control-socket.js';

/** The params of a control method are not what it takes. */
export class ControlParamsError extends ControlMethodError {
  constructor(method: string, problem: string, usage: string) {
    super('invalid-params', `${method}: ${problem}`, `usage: ${usage}`);
  }
}

/** domain.show for a domain vifqd has no vif of. */
export class UnknownDomainError extends ControlMethodError {
  constructor(readonly domid: number, known: readonly number[]) {
    super('not-found', `vifqd knows no vif of domain ${domid}`,
      known.length > 0
        ? `domains with vifs: ${known.join(', ')} (\`xl list\` maps names to domids); a guest just started shows after its vif is online`
        : 'vifqd sees no guest vif yet: check `xl list` and `vifq doctor`');
  }
}

/**
 * A value as JSON would carry it, typed: Maps become objects (their keys as strings), Sets
 * arrays, undefined and functions are left out (null in arrays), non-finite numbers null, bigints
 * numbers (strings above 2^53).
 */
export function toJson(v: unknown): JsonValue {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'bigint') return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v.toString();
  if (Array.isArray(v) || v instanceof Set || ArrayBuffer.isView(v)) {
    const items: unknown[] = ArrayBuffer.isView(v) && !(v instanceof DataView) ? Array.from(v as unknown as ArrayLike<unknown>) : [...(v as Iterable<unknown>)];
    return items.map((x) => (x === undefined || typeof x === 'function' ? null : toJson(x)));
  }
  if (v instanceof Map) {
    const o: { [k: string]: JsonValue } = {};
    for (const [k, x] of v) if (x !== undefined && typeof x !== 'function') o[String(k)] = toJson(x);
    return o;
  }
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') {
    const o: { [k: string]: JsonValue } = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined && typeof x !== 'function') o[k] = toJson(x);
    return o;
  }
  return null;
}

function paramsObject(method: string, params: JsonValue | undefined, usage: string): { [k: string]: JsonValue } {
  if (params === undefined || params === null) return {};
  if (typeof params !== 'object' || Array.isArray(params)) throw new ControlParamsError(method, 'params must be an object', usage);
  return params;
}

const MAX_TEXT = 200;

function optionalText(method: string, o: { [k: string]: JsonValue }, key: string, usage: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > MAX_TEXT || /[\u0000-\u001f]/.test(v)) {
    throw new ControlParamsError(method, `${key} must be a string of at most ${MAX_TEXT} printable characters`, usage);
  }
  return v;
}

/** One pass's summary for the `events` stream. */
export function passEvent(p: LastPass): JsonValue {
  return toJson(p);
}

/** One release report for the `events` stream. */
export function releaseEvent(r: VifqdReleaseReport): JsonValue {
  return toJson({ intervalMs: r['interval-ms'], vifs: r.vifs });
}

/** The last release report as `status` carries it: what the vifs did over its interval. */
export interface StatusTraffic {
  /** When vifqd received it (ISO 8601). */
  readonly at: string;
  readonly intervalMs: number;
  /** Only the vifs active in the interval (the kernel lists no others). */
  readonly vifs: VifqdReleaseReport['vifs'];
}

/** A vif as the `vif-add` / `vif-del` events name it. */
export interface VifEventData {
  readonly vif: string;
  readonly domid: number;
  readonly handle: number;
  readonly ifindex: number;
  readonly uplink: string | null;
}

/** The vifs of the daemon's last pass, by ifindex. */
function vifsOf(daemon: Vifqd): Map<number, VifEventData> {
  return new Map(daemon.snapshot().vifs.map((v) => [v.ifindex, { vif: `vif${v.domid}.${v.handle}`, domid: v.domid, handle: v.handle, ifindex: v.ifindex, uplink: v.uplink }]));
}

/** The handler table for `ControlServer.open({ handlers })`. */
export function controlMethods(daemon: Vifqd, now: () => Date = () => new Date()): ControlHandlers {
  let traffic: StatusTraffic | null = null;
  daemon.on('release', (r) => { traffic = { at: now().toISOString(), intervalMs: r['interval-ms'], vifs: r.vifs }; });
  return {
    status: { kind: 'request', handle: () => toJson({ ...daemon.snapshot(), traffic }) },

    'domain.show': {
      kind: 'request',
      handle: (params) => {
        const usage = '{"method": "domain.show", "params": {"domid": <integer>}}';
        const o = paramsObject('domain.show', params, usage);
        const domid = o.domid;
        if (typeof domid !== 'number' || !Number.isSafeInteger(domid) || domid < 0) {
          throw new ControlParamsError('domain.show', 'params.domid must be a non-negative integer', usage);
        }
        const s = daemon.snapshot();
        const vifs = s.vifs.filter((v) => v.domid === domid);
        if (vifs.length === 0) throw new UnknownDomainError(domid, [...new Set(s.vifs.map((v) => v.domid))].sort((a, b) => a - b));
        const base = `/local/domain/${domid}/`;
        return toJson({
          domid,
          vifs: vifs.map((v) => ({
            vif: `vif${v.domid}.${v.handle}`, ifindex: v.ifindex, handle: v.handle, uplink: v.uplink,
            sla: v.sla.fields, desired: v.desired, kernel: v.kernel ?? null, why: v.why,
          })),
          findings: s.findings.filter((f) => f.path.startsWith(base)),
        });
      },
    },

    nudge: {
      kind: 'request',
      handle: async (params) => {
        const usage = '{"method": "nudge", "params": {"vif"?: "vif5.0", "reason"?: "hotplug"}}';
        const o = paramsObject('nudge', params, usage);
        const vif = optionalText('nudge', o, 'vif', usage);
        const reason = optionalText('nudge', o, 'reason', usage) ?? 'control';
        await daemon.nudge(`control:${reason}${vif === undefined ? '' : `:${vif}`}`);
        return { ok: true };
      },
    },

    events: {
      kind: 'stream',
      subscribe: (_params, sink: EventSink) => {
        let known = vifsOf(daemon);
        const onPass = (p: LastPass): void => {
          sink.send('pass', passEvent(p));
          const now = vifsOf(daemon);
          for (const [ifindex, v] of now) if (!known.has(ifindex)) sink.send('vif-add', toJson(v));
          for (const [ifindex, v] of known) if (!now.has(ifindex)) sink.send('vif-del', toJson(v));
          known = now;
        };
        const onRelease = (r: VifqdReleaseReport): void => { sink.send('release', releaseEvent(r)); };
        daemon.on('pass', onPass);
        daemon.on('release', onRelease);
        return () => {
          daemon.off('pass', onPass);
          daemon.off('release', onRelease);
        };
      },
    },
  };
}
