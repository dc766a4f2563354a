/**
 * Renders a vega-lite spec headless: vega-lite compiles it to a vega spec, vega draws it to SVG
 * (renderer 'none', no DOM or canvas), and @resvg/resvg-js rasterises the SVG to PNG with the
 * system's fonts (DejaVu on Debian: fonts-dejavu-core).
 */
import { writeFileSync } from 'node:fs';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** A plot could not be drawn or written: names the plot. */
export class PlotError extends Error {
  constructor(readonly plot: string, detail: string) {
    super(`plot ${plot}: ${detail}`);
    this.name = 'PlotError';
  }
}

export async function toSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export function svgToPng(svg: string, width = 1200): Buffer {
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'width', value: width },
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  });
  return resvg.render().asPng();
}

/** Writes <base>.svg and <base>.png; returns both paths. */
export async function writePlot(name: string, base: string, spec: TopLevelSpec): Promise<{ svg: string; png: string }> {
  try {
    const svg = await toSvg(spec);
    writeFileSync(`${base}.svg`, svg);
    writeFileSync(`${base}.png`, svgToPng(svg));
    return { svg: `${base}.svg`, png: `${base}.png` };
  } catch (error) {
    throw new PlotError(name, error instanceof Error ? error.message : String(error));
  }
}
