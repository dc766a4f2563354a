/**
 * bundle-cli.ts - the `vifq` CLI as one CommonJS file (part of `make build` and `npm run build`,
 * after tsc): src/cli/main.ts with @oclif/core, its dependencies and every command, including what
 * a command imports inside `run()` -> dist/bundle/vifq.cjs, which bin/vifq runs with a V8 code
 * cache (src/cli/run-bundle.ts, src/cli/code-cache.ts).
 *
 *   node --import tsx scripts/bundle-cli.ts [--analyze]
 *
 * Why: a cold start read ~400 modules (280 of them in node_modules); in the lab's dom0 every
 * one is a 9p round trip through QEMU/TCG, and node compiles each (bench/cli-start-lab.ts).
 * Why CommonJS, one file, minified: node 20 caches compiled code only for a script compiled by
 * hand (vm.Script `cachedData`), not for ES modules, and a script is one file (no chunks); what
 * the cache does not hold V8 still has to parse, so the file is minified (names kept: error
 * classes report `new.target.name`, oclif prints class names in places). It ends with a line
 * carrying its sha256, which names its code caches.
 *
 * Kept out of the bundle, imported from tsc's dist/ as they are (ES modules, which the bundle
 * require()s: node 20.19 or later, else bin/vifq runs tsc's copy):
 *  - src/netlink/** and src/errors.ts: transport.ts finds the native addon (a .node file) relative
 *    to its own file, in the repo and in an install (dist/netlink/native/...); one copy of each
 *    error class, so `instanceof` holds between the bundle and dist/.
 *  - src/service/main.ts (`vifq daemon`): the same vifqd as bin/vifqd, not a second copy.
 *  - typescript, ts-node, tsx: oclif's development-mode transpiling, never used by the bundle.
 * Plugins (@oclif/plugin-autocomplete) load from node_modules as before, with their own core.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { BUNDLE_HASH_LINE } from '../src/cli/run-bundle.js';

const REPO = resolve(fileURLToPath(new URL('..', import.meta.url)));
const SRC = join(REPO, 'src');
const OUT = join(REPO, 'dist/bundle');
const ANALYZE = process.argv.includes('--analyze');

/** Source files (relative to src/, without .ts) imported from tsc's dist/ instead of bundled. */
function keptInDist(srcRelative: string): boolean {
  return srcRelative === 'errors' || srcRelative.startsWith('netlink/') || srcRelative === 'service/main';
}

/**
 * oclif sorts the commands of every plugin at start with `a.id.localeCompare(b.id)`: the first
 * localeCompare of a process builds an ICU collator, ~10 ms on the host, ~0.4 s in the TCG dom0
 * (bench/cli-start.ts). For ids of lowercase letters, digits-free, `:` and `-` (every vifq and
 * autocomplete command; test/unit/cli-commands.test.ts compares the bundle's `--help` listing with
 * tsc's copy's) the code-unit order is the
 * same as ICU's root order (punctuation `-` < `:` before letters, a prefix first), so those pairs
 * are compared without ICU; any other id still goes through localeCompare. The build fails if
 * oclif's line changed (an oclif upgrade): look at it again then.
 */
const SIMPLE_COMMAND_ID = /^[a-z:-]+$/;
const OCLIF_SORT = '.sort((a, b) => a.id.localeCompare(b.id));';
const OCLIF_SORT_SIMPLE = `.sort((a, b) => (${SIMPLE_COMMAND_ID}.test(a.id) && ${SIMPLE_COMMAND_ID}.test(b.id) ? (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) : a.id.localeCompare(b.id)));`;
const oclifSortWithoutIcu: Plugin = {
  name: 'vifq-oclif-sort-without-icu',
  setup(b) {
    b.onLoad({ filter: /[\\/]@oclif[\\/]core[\\/]lib[\\/]config[\\/]plugin\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (text.split(OCLIF_SORT).length !== 2) {
        return { errors: [{ text: `${args.path}: expected one \`${OCLIF_SORT}\` (scripts/bundle-cli.ts replaces it); oclif changed, see oclifSortWithoutIcu` }] };
      }
      return { contents: text.replace(OCLIF_SORT, OCLIF_SORT_SIMPLE), loader: 'js' };
    });
  },
};

/**
 * Rewrites an import of a kept-out source file into a require() of its compiled copy in dist/
 * (an ES module: node 20.19 require()s it; bin/vifq checks `process.features.require_module`).
 * A dynamic import() becomes a require() too, through a one-line CommonJS module of esbuild's
 * own: the bundle runs as a vm.Script (src/cli/code-cache.ts), where an import() goes through
 * node's experimental `vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER`, which prints an
 * ExperimentalWarning on stderr the first time.
 */
const DIST_REQUIRE = 'vifq-dist-require';
const distExternals: Plugin = {
  name: 'vifq-dist-externals',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      if (args.namespace === DIST_REQUIRE) return { path: args.path, external: true };
      if (!args.importer.startsWith(SRC)) return undefined;
      const target = resolve(dirname(args.importer), args.path).replace(/\.js$/, '');
      const rel = relative(SRC, target);
      if (rel.startsWith('..') || !keptInDist(rel)) return undefined;
      // every output is dist/bundle/vifq.cjs: one relative path serves every importer
      if (args.kind === 'dynamic-import') return { path: `../${rel}.js`, namespace: DIST_REQUIRE };
      return { path: `../${rel}.js`, external: true };
    });
    b.onLoad({ filter: /.*/, namespace: DIST_REQUIRE }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: 'js' }));
  },
};

// written beside, then swapped in: a CLI started meanwhile sees the old bundle or the new one
const NEXT = `${OUT}.next`;
rmSync(NEXT, { recursive: true, force: true });
mkdirSync(NEXT, { recursive: true });
const result = await build({
  entryPoints: { vifq: join(SRC, 'cli/main.ts') },
  outfile: join(NEXT, 'vifq.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  minify: true,
  keepNames: true,
  external: ['typescript', 'ts-node', 'tsx', 'tsx/*'],
  plugins: [distExternals, oclifSortWithoutIcu],
  // a CommonJS file has no import.meta: main.ts finds package.json from its own URL
  define: { 'import.meta.url': '__vifqImportMetaUrl' },
  banner: { js: "const __vifqImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
});
if (result.warnings.length > 0) { // e.g. an import.meta other than .url, which would be empty
  console.error(`[bundle-cli] ${result.warnings.length} esbuild warnings: fix them, the bundle may not run as tsc's copy does`);
  process.exit(1);
}
const BUNDLE = join(NEXT, 'vifq.cjs');
// ASCII only, so the loader reads it as latin1 (a one-byte string, no UTF-8 decoding): esbuild
// escapes non-ASCII characters except in regular expressions, where `\x9b` (the 8-bit CSI of
// ansi-regex) is written as is; `\xNN` means the same character in a regex, a string or a template.
const text = readFileSync(BUNDLE, 'utf8').replace(/[\x80-\xff]/g, (c) => `\\x${c.charCodeAt(0).toString(16)}`);
const nonAscii = /[^\x00-\x7f]/.exec(text);
if (nonAscii) {
  console.error(`[bundle-cli] ${BUNDLE}: non-ASCII character U+${nonAscii[0].codePointAt(0)?.toString(16)} at ${nonAscii.index}: ${JSON.stringify(text.slice(nonAscii.index - 40, nonAscii.index + 20))}; escape it in scripts/bundle-cli.ts`);
  process.exit(1);
}
writeFileSync(BUNDLE, `${text}\n${BUNDLE_HASH_LINE}${createHash('sha256').update(text).digest('hex')}\n`);
rmSync(OUT, { recursive: true, force: true });
renameSync(NEXT, OUT);
const outputs = Object.entries(result.metafile.outputs);
const inputs = Object.keys(result.metafile.inputs);
const kb = (n: number): string => `${(n / 1024).toFixed(0)} kB`;
const entry = outputs.find(([f]) => f.endsWith('/vifq.cjs'))?.[1].bytes ?? 0;
console.log(`[bundle-cli] ${relative(REPO, OUT)}/vifq.cjs: ${kb(entry)}, from ${inputs.length} modules (${inputs.filter((i) => i.includes('node_modules/')).length} in node_modules)`);
if (ANALYZE) {
  writeFileSync(join(OUT, 'meta.json'), JSON.stringify(result.metafile));
  for (const [f, o] of outputs) { // paths as esbuild wrote them (dist/bundle.next/)
    const top = Object.entries(o.inputs).sort((a, b) => b[1].bytesInOutput - a[1].bytesInOutput).slice(0, 12);
    console.log(`${f}: ${top.map(([i, v]) => `${i} ${kb(v.bytesInOutput)}`).join(', ')}`);
  }
}
