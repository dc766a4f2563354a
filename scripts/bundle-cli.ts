/**
 * bundle-cli.ts - the `vifq` CLI as one ES module (part of `make build` and `npm run build`,
 * after tsc): src/cli/main.ts with @oclif/core, its dependencies and every command's static
 * part -> dist/bundle/vifq.js, which bin/vifq runs. What a command imports inside `run()` becomes
 * a chunk beside it (dist/bundle/chunk-*.js), read only by the commands that need it.
 *
 *   node --import tsx scripts/bundle-cli.ts [--analyze]
 *
 * Why: a cold start read ~400 modules (280 of them in node_modules); in the lab's dom0 every
 * one is a 9p round trip through QEMU/TCG, and node compiles each (bench/cli-start-lab.ts).
 *
 * Kept out of the bundle, imported from tsc's dist/ as they are:
 *  - src/netlink/** and src/errors.ts: transport.ts finds the native addon (a .node file) relative
 *    to its own file, in the repo and in an install (dist/netlink/native/...); one copy of each
 *    error class, so `instanceof` holds between the bundle and dist/.
 *  - src/service/main.ts (`vifq daemon`): the same vifqd as bin/vifqd, not a second copy.
 *  - typescript, ts-node, tsx: oclif's development-mode transpiling, never used by the bundle.
 * Plugins (@oclif/plugin-autocomplete) load from node_modules as before, with their own core.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const REPO = resolve(fileURLToPath(new URL('..', import.meta.url)));
const SRC = join(REPO, 'src');
const OUT = join(REPO, 'dist/bundle');
const ANALYZE = process.argv.includes('--analyze');

/** Source files (relative to src/, without .ts) imported from tsc's dist/ instead of bundled. */
function keptInDist(srcRelative: string): boolean {
  return srcRelative === 'errors' || srcRelative.startsWith('netlink/') || srcRelative === 'service/main';
}

/** Rewrites an import of a kept-out source file into an import of its compiled copy in dist/. */
const distExternals: Plugin = {
  name: 'vifq-dist-externals',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      if (!args.importer.startsWith(SRC)) return undefined;
      const target = resolve(dirname(args.importer), args.path).replace(/\.js$/, '');
      const rel = relative(SRC, target);
      if (rel.startsWith('..') || !keptInDist(rel)) return undefined;
      // every output file is in dist/bundle/ (chunks too): one relative path serves them all
      return { path: `../${rel}.js`, external: true };
    });
  },
};

// written beside, then swapped in: a CLI started meanwhile sees the old bundle or the new one
const NEXT = `${OUT}.next`;
rmSync(NEXT, { recursive: true, force: true });
mkdirSync(NEXT, { recursive: true });
const result = await build({
  entryPoints: { vifq: join(SRC, 'cli/main.ts') },
  outdir: NEXT,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'chunk-[hash]',
  external: ['typescript', 'ts-node', 'tsx', 'tsx/*'],
  plugins: [distExternals],
  // CommonJS dependencies (most of oclif's) call require(); an ES module has none of its own
  banner: { js: "import { createRequire as __vifqCreateRequire } from 'node:module';\nconst require = __vifqCreateRequire(import.meta.url);" },
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
});
rmSync(OUT, { recursive: true, force: true });
renameSync(NEXT, OUT);
const outputs = Object.entries(result.metafile.outputs);
const inputs = Object.keys(result.metafile.inputs);
const kb = (n: number): string => `${(n / 1024).toFixed(0)} kB`;
const entry = outputs.find(([f]) => f.endsWith('/vifq.js'))?.[1].bytes ?? 0;
console.log(`[bundle-cli] ${relative(REPO, OUT)}/: vifq.js ${kb(entry)} and ${outputs.length - 1} chunks, from ${inputs.length} modules (${inputs.filter((i) => i.includes('node_modules/')).length} in node_modules)`);
if (ANALYZE) {
  writeFileSync(join(OUT, 'meta.json'), JSON.stringify(result.metafile));
  for (const [f, o] of outputs) { // paths as esbuild wrote them (dist/bundle.next/)
    const top = Object.entries(o.inputs).sort((a, b) => b[1].bytesInOutput - a[1].bytesInOutput).slice(0, 12);
    console.log(`${f}: ${top.map(([i, v]) => `${i} ${kb(v.bytesInOutput)}`).join(', ')}`);
  }
}
