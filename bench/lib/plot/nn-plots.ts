/**
 * The noisy-neighbour plots, as vega-lite specs built from one boot's results:
 *   victim-rtt-cdf    the victim's RTT distribution per arm (steady window), and alone
 *   victim-rtt-time   the victim's RTT over time per arm, neighbours' start and stop marked
 *   shares            each guest's uplink output per arm (stacked: the total is the uplink's)
 */
import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import type { BootRun } from '../nn/run-arms.js';
import { writePlot } from './render.js';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const FONT = { config: { font: 'DejaVu Sans', view: { stroke: '#ccc' } } };

interface Window { warmSecs: number; secs: number }

function okArms(run: BootRun): { arm: string; result: NonNullable<BootRun['arms'][number]['result']> }[] {
  return run.arms.flatMap((a) => (a.status === 'ok' && a.result ? [{ arm: a.arm, result: a.result }] : []));
}

export function rttCdfSpec(run: BootRun, w: Window): TopLevelSpec {
  const values = [
    ...run.aloneTimeline.map((s) => ({ arm: 'alone', rtt: s.rtt })),
    ...okArms(run).flatMap(({ arm, result: r }) => {
      const from = r.phase.neighboursStart + w.warmSecs;
      return r.phase.timeline.filter((s) => s.t >= from && s.t < from + w.secs).map((s) => ({ arm, rtt: s.rtt }));
    }),
  ];
  const order = ['alone', ...okArms(run).map((a) => a.arm)];
  return {
    $schema: SCHEMA, ...FONT, width: 640, height: 360,
    title: { text: 'Victim RTT while the neighbours send (CDF per arm)', subtitle: `ping to the sink, ${w.secs} s steady window; one boot` },
    data: { values },
    transform: [
      { window: [{ op: 'cume_dist', as: 'cdf' }], sort: [{ field: 'rtt' }], groupby: ['arm'] },
    ],
    mark: { type: 'line', interpolate: 'step-after', strokeWidth: 2 },
    encoding: {
      x: { field: 'rtt', type: 'quantitative', scale: { type: 'log' }, title: 'victim RTT (ms, log scale)' },
      y: { field: 'cdf', type: 'quantitative', title: 'fraction of pings', scale: { domain: [0, 1] } },
      color: { field: 'arm', type: 'nominal', sort: order, title: 'arm' },
    },
  };
}

export function rttTimeSpec(run: BootRun): TopLevelSpec {
  const arms = okArms(run);
  const values = arms.flatMap(({ arm, result: r }) => [
    ...r.phase.timeline.map((s) => ({ arm, t: s.t, rtt: s.rtt })),
    { arm, event: 'neighbours start', t: r.phase.neighboursStart },
    { arm, event: 'neighbours stop', t: r.phase.neighboursStop },
  ]);
  return {
    $schema: SCHEMA, ...FONT,
    title: {
      text: 'Victim RTT over time, per arm',
      subtitle: `dashed: the neighbours start and stop (${arms.every((a) => a.result.phase.clock === 'guest') ? "the guests' clocks" : "host clock for some arms: seconds late on a loaded machine"})`,
    },
    data: { values },
    facet: { row: { field: 'arm', type: 'nominal', sort: arms.map((a) => a.arm), title: null } },
    spec: {
      width: 640, height: 90,
      layer: [
        {
          transform: [{ filter: 'isValid(datum.rtt)' }],
          mark: { type: 'line', strokeWidth: 1.2 },
          encoding: {
            x: { field: 't', type: 'quantitative', title: 'seconds since the probe started' },
            y: { field: 'rtt', type: 'quantitative', scale: { type: 'log' }, title: 'RTT (ms)', axis: { tickCount: 4 } },
          },
        },
        {
          transform: [{ filter: 'isValid(datum.event)' }],
          mark: { type: 'rule', strokeDash: [4, 3], color: '#888' },
          encoding: { x: { field: 't', type: 'quantitative' } },
        },
      ],
    },
    resolve: { scale: { y: 'shared' } },
  };
}

export function sharesSpec(run: BootRun): TopLevelSpec {
  const arms = okArms(run);
  // each segment's middle, for its label (the same stacking order as the bars: by guest)
  const values = arms.flatMap(({ arm, result: r }) => {
    let base = 0;
    return [...r.phase.flows].sort((a, b) => a.guest.localeCompare(b.guest)).map((f) => {
      const mbit = Math.round((f.deliveredBytesPerSec * 8) / 1e4) / 100;
      const row = { arm, guest: `${f.guest} (${f.role})`, mbit, mid: base + mbit / 2, share: f.share };
      base += mbit;
      return row;
    });
  });
  return {
    $schema: SCHEMA, ...FONT, width: 520, height: 320,
    title: { text: 'Uplink output per guest, per arm', subtitle: 'stacked: the bar is the uplink total; label: share of it' },
    data: { values },
    layer: [
      {
        mark: 'bar',
        encoding: {
          x: { field: 'arm', type: 'nominal', sort: arms.map((a) => a.arm), title: null, axis: { labelAngle: 0 } },
          y: { field: 'mbit', type: 'quantitative', stack: 'zero', title: 'delivered (Mbit/s)' },
          color: { field: 'guest', type: 'nominal', title: 'guest', legend: { labelLimit: 400 } },
          order: { field: 'guest' },
        },
      },
      {
        mark: { type: 'text', color: 'white', baseline: 'middle', fontWeight: 'bold' },
        transform: [{ filter: 'datum.share >= 0.08' }],
        encoding: {
          x: { field: 'arm', type: 'nominal', sort: arms.map((a) => a.arm) },
          y: { field: 'mid', type: 'quantitative' },
          text: { field: 'share', type: 'quantitative', format: '.0%' },
        },
      },
    ],
  };
}

/** Writes the three plots (SVG and PNG) into `dir`; returns the PNG paths. */
export async function writeNnPlots(dir: string, prefix: string, run: BootRun, w: Window): Promise<string[]> {
  const out: string[] = [];
  for (const [name, spec] of [['victim-rtt-cdf', rttCdfSpec(run, w)], ['victim-rtt-time', rttTimeSpec(run)], ['shares', sharesSpec(run)]] as const) {
    out.push((await writePlot(name, join(dir, `${prefix}-${name}`), spec)).png);
  }
  return out;
}
