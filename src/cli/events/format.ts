/**
 * `vifq events`: vifqd's `events` stream (pass summaries, release reports, vifs added and
 * removed) as lines or NDJSON, optionally for one domain. Pure.
 */
import { Shape, type Json } from '../json-shape.js';
import { bytesShort, durationShort, percent, rateShort } from '../render/units.js';
import { histQuantileNs } from '../status/view.js';

/** One output record: what --json prints, one per line. */
export interface EventRecord {
  event: string;
  /** when the CLI received it (ISO 8601) */
  at: string;
  data: Json;
}

/**
 * The record to print for an event line, or null when `domid` filters it out: a release keeps
 * only that domain's vifs (none: dropped), a vif-add/-del only that domain's, a pass is kept
 * (it concerns every vif).
 */
export function eventRecord(event: string, data: Json, at: Date, domid: number | null): EventRecord | null {
  if ((event === 'vif-add' || event === 'vif-del') && domid !== null && new Shape('events', data).get('domid').number() !== domid) return null;
  if (event === 'release' && domid !== null) {
    const s = new Shape('events', data);
    const vifs = s.get('vifs').array().filter((v) => v.get('domid').number() === domid).map((v) => v.value ?? null);
    if (vifs.length === 0) return null;
    return { event, at: at.toISOString(), data: { ...s.object(), vifs } };
  }
  return { event, at: at.toISOString(), data };
}

function clock(iso: string): string {
  return /T(\d\d:\d\d:\d\d\.\d)/.exec(iso)?.[1] ?? iso;
}

/** Human lines of one record: one per vif of a release, one per pass. */
export function eventLines(r: EventRecord): string[] {
  const s = new Shape('events', r.data);
  const t = clock(r.at);
  if (r.event === 'release') {
    const ms = s.get('intervalMs').number();
    return s.get('vifs').array().map((v) => {
      const bytes = v.get('bytes').number();
      const hist = v.get('hist').array().map((h) => h.number());
      return `${t} release vif${v.get('domid').number()}.${v.get('handle').number()} sent ${rateShort((bytes * 8000) / ms)}bit/s`
        + ` pending ${bytesShort(v.get('pending-bytes').number())} throttled ${percent(v.get('throttled-ns').number() / (ms * 1e6))}`
        + ` p99 ${durationShort(histQuantileNs(hist, 0.99))}`;
    });
  }
  if (r.event === 'pass') {
    const n = (k: string): number => s.get(k).number();
    const err = s.get('error').stringOrNull();
    const reasons = s.get('reasons').array().map((x) => x.string()).join(',');
    return [`${t} pass ${n('durationMs').toFixed(0)}ms applied ${n('applied')} unchanged ${n('unchanged')} failed ${n('failed')} (${reasons})${err === null ? '' : ` error: ${err}`}`];
  }
  if (r.event === 'vif-add' || r.event === 'vif-del') {
    const uplink = s.get('uplink').stringOrNull();
    return [`${t} ${r.event === 'vif-add' ? 'vif added' : 'vif removed'} ${s.get('vif').string()} (ifindex ${s.get('ifindex').number()}${uplink === null ? '' : `, uplink ${uplink}`})`];
  }
  return [`${t} ${r.event} ${JSON.stringify(r.data)}`];
}
