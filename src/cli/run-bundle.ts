/**
 * Starts the CLI from its bundle (dist/bundle/vifq.cjs, scripts/bundle-cli.ts) with a V8 code
 * cache (src/cli/code-cache.ts): bin/vifq calls `runBundle()` when the bundle is current.
 *
 * The cache file is `<dir>/vifq-cli-<bundle sha256, 16 hex>-node<version>-<arch>-<command>.v8`:
 *  - dir: `$VIFQ_CLI_CACHE_DIR`, else `$XDG_CACHE_HOME/vifq`, else `~/.cache/vifq`; with
 *    `VIFQ_CLI_CODE_CACHE=0`, none. Not beside the bundle: dist/ belongs to the package (read-only
 *    in an install and in the lab's dom0, and shared by the host and dom0 in the repo).
 *  - one per command (the first argument: `status`, `limits`, `version` for `--version`...), since
 *    V8 caches the functions a run compiled, and commands run different code after oclif's start.
 *  - the bundle's hash comes from the line scripts/bundle-cli.ts ends it with (no line, no cache),
 *    so a rebuilt bundle never meets an old cache; V8 itself rejects a cache from another node or
 *    other V8 flags, or one that is corrupt.
 * A start without a usable cache (the first of a command after a build, or after a node upgrade)
 * compiles as usual and writes the cache at exit, with what the run compiled; the files of other
 * bundles in the dir are removed then. A start with a cache does not write.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { VifqError } from '../errors.js';
import { requireWithCodeCache, type CacheOutcome } from './code-cache.js';

/** The bundle loaded but is not the CLI's (no `run()`): a half-written or foreign file. */
export class CliBundleError extends VifqError {
  constructor(readonly bundlePath: string) {
    super(`${bundlePath} exports no run() function, so it is not the vifq CLI's bundle`, {
      hint: 'rebuild it with `make build`, or run tsc\'s copy with VIFQ_CLI_UNBUNDLED=1',
    });
  }
}

/** The last line of the bundle: `//# vifqBundleSha256=<hex>` (scripts/bundle-cli.ts writes it). */
export const BUNDLE_HASH_LINE = '//# vifqBundleSha256=';
const CACHE_PREFIX = 'vifq-cli-';

/** The directory of the CLI's code caches, or undefined when there is to be none. */
export function cacheDir(env: NodeJS.ProcessEnv, home: () => string = homedir): string | undefined {
  if (env['VIFQ_CLI_CODE_CACHE'] === '0') return undefined;
  if (env['VIFQ_CLI_CACHE_DIR']) return env['VIFQ_CLI_CACHE_DIR'];
  if (env['XDG_CACHE_HOME']) return join(env['XDG_CACHE_HOME'], 'vifq');
  try {
    return join(home(), '.cache', 'vifq');
  } catch {
    return undefined; // no home directory (a user without a passwd entry): no cache
  }
}

/** The part of the cache file's name that says which command runs: its first argument, as a name. */
export function commandKey(argv: readonly string[]): string {
  const first = argv[0] ?? '';
  const name = first.replace(/^--?/, '');
  return /^[a-z][a-z0-9-]{0,31}$/.test(name) ? name : 'other';
}

/** The bundle's sha256 (hex) from its last line, or undefined when it has none (then no cache). */
export function bundleHash(source: string): string | undefined {
  const at = source.lastIndexOf(BUNDLE_HASH_LINE);
  return at < 0 ? undefined : /^[0-9a-f]{64}(?=\n?$)/.exec(source.slice(at + BUNDLE_HASH_LINE.length))?.[0];
}

/** The cache file's name for this bundle, node and command. */
export function cacheFileName(hash: string, command: string, node: string = process.version, arch: string = process.arch): string {
  return `${CACHE_PREFIX}${hash.slice(0, 16)}-node${node.replace(/^v/, '')}-${arch}-${command}.v8`;
}

/** Whether a file in the cache dir is a code cache of another bundle (removed when one is written). */
export function isOtherBundlesCache(name: string, hash: string): boolean {
  return name.startsWith(CACHE_PREFIX) && !name.startsWith(`${CACHE_PREFIX}${hash.slice(0, 16)}-`);
}

/**
 * Loads the bundle with its code cache for this command line and runs it. Returns what happened
 * to the cache (after the command ran; the cache is written later, at exit).
 */
export async function runBundle(bundlePath: string, argv: readonly string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): Promise<CacheOutcome> {
  const dir = cacheDir(env);
  let hash = '';
  const bundle = requireWithCodeCache(bundlePath, (source) => {
    hash = bundleHash(source) ?? '';
    if (dir === undefined || hash === '') return undefined;
    return join(dir, cacheFileName(hash, commandKey(argv)));
  });
  if (bundle.outcome === 'miss' || bundle.outcome === 'rejected') {
    process.once('exit', () => bundle.save((name) => isOtherBundlesCache(name, hash)));
  }
  const run = bundle.exports['run'];
  if (typeof run !== 'function') throw new CliBundleError(bundlePath);
  await (run as () => Promise<void>)();
  return bundle.outcome;
}
