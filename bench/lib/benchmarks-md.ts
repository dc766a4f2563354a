/** Keeps docs/BENCHMARKS.md as sections, each rewritten by the benchmark that owns it. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const HEADER = '# vifq benchmarks\n\nEvery figure below was written by the command shown with it; raw results are in `bench/results/`.\n';

export function replaceSection(path: string, name: string, body: string): void {
  const begin = `<!-- BEGIN ${name} (generated) -->`;
  const end = `<!-- END ${name} -->`;
  let doc = existsSync(path) ? readFileSync(path, 'utf8') : HEADER;
  const block = `${begin}\n${body.trim()}\n${end}`;
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  doc = i >= 0 && j > i ? doc.slice(0, i) + block + doc.slice(j + end.length) : `${doc.trimEnd()}\n\n${block}\n`;
  writeFileSync(path, doc);
}
