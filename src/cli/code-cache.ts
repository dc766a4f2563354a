/**
 * Runs a CommonJS file with a V8 code cache: the bytecode V8 compiled for it in an earlier
 * process, so this one neither parses nor compiles what the cache holds (Node 20 has no
 * `module.enableCompileCache`, and none for ES modules). The CLI's bundle (dist/bundle/vifq.cjs,
 * scripts/bundle-cli.ts) starts this way from bin/vifq through src/cli/run-bundle.ts.
 *
 * The cache is an optimisation only: a missing, unreadable or stale cache file compiles the
 * source as `require()` would, and `save()` never throws (a cache dir that cannot be written
 * leaves things as they were). V8 checks the header of what it is given (magic, its version, its
 * flags, the source's length, the payload's length) and reports a cache it cannot use as
 * rejected; `save()` then replaces it. A release build of V8 does not checksum the payload, so a
 * cache file must be trusted like the code itself: it is written whole (a temporary file, then a
 * rename: a reader sees the old file or the new one), in a directory created private (0700) when
 * it does not exist yet (an existing one keeps its mode: ~/.cache/vifq may already hold the
 * autocomplete plugin's files), and a cache file owned by another user is not read, so a file
 * another user put there is never run.
 * The module is registered in `require.cache` under its real path, so a later `require()` of the
 * same file (oclif's explicit command discovery) returns it instead of loading a second copy.
 */
import { isAscii } from 'node:buffer';
import { closeSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { constants, Script } from 'node:vm';

/** What happened to the cache when the file was compiled. */
export type CacheOutcome =
  | 'hit' // V8 took the cached code
  | 'miss' // no cache file (or none could be read)
  | 'rejected' // a cache file, which V8 refused (another node, other flags, another source, corrupt)
  | 'off'; // no cache file was asked for

export interface CachedModule {
  /** `module.exports` after the file ran. */
  readonly exports: Record<string, unknown>;
  readonly outcome: CacheOutcome;
  /**
   * Writes the code V8 holds for the file now (what ran so far: call it late, at exit, to cache
   * the functions the run compiled) to the cache file, through a temporary file and a rename, and
   * removes the files beside it that `isStale` names. Returns whether it wrote; never throws.
   */
  save(isStale?: (name: string) => boolean): boolean;
}

/**
 * Compiles and runs `filename` as a CommonJS module, with the code cache in the file
 * `cacheFileOf(its source)` names when V8 accepts it (no cache when that is undefined). Errors of the file itself (a syntax error,
 * a throw at load) are thrown as `require()` would throw them.
 */
export function requireWithCodeCache(filename: string, cacheFileOf: (source: string) => string | undefined): CachedModule {
  const path = realpathSync(filename);
  const bytes = readFileSync(path);
  // ASCII (scripts/bundle-cli.ts makes the bundle so) reads as latin1: one byte a character, no UTF-8 decoding
  const source = bytes.toString(isAscii(bytes) ? 'latin1' : 'utf8');
  const cacheFile = cacheFileOf(source);
  const cachedData = cacheFile === undefined ? undefined : readIfOwn(cacheFile);
  const script = new Script(Module.wrap(source), {
    filename: path,
    cachedData,
    // import() in the file (of ES modules it does not bundle) resolves as in any module of this process
    importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const outcome: CacheOutcome = cacheFile === undefined ? 'off' : cachedData === undefined ? 'miss' : script.cachedDataRejected === true ? 'rejected' : 'hit';

  const mod = new Module(path);
  mod.filename = path;
  const require = createRequire(path);
  require.cache[path] = mod;
  try {
    const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: Module, filename: string, dirname: string) => void;
    wrapper.call(mod.exports, mod.exports, require, mod, path, dirname(path));
  } catch (err) {
    delete require.cache[path]; // as require() does: a file that failed to load is not cached
    throw err;
  }
  mod.loaded = true;

  return {
    exports: mod.exports as Record<string, unknown>,
    outcome,
    save(isStale?: (name: string) => boolean): boolean {
      if (cacheFile === undefined) return false;
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      try {
        const data = script.createCachedData();
        const dir = dirname(cacheFile);
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        writeFileSync(tmp, data);
        renameSync(tmp, cacheFile);
        if (isStale) {
          const self = basename(cacheFile);
          for (const name of readdirSync(dir)) if (name !== self && isStale(name)) removeQuietly(join(dir, name));
        }
        return true;
      } catch {
        removeQuietly(tmp);
        return false; // a cache that cannot be written: the next start compiles again, nothing worse
      }
    },
  };
}

/** The file's bytes, or undefined when it is missing, unreadable or not this user's. */
function readIfOwn(file: string): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    if (fstatSync(fd).uid !== process.getuid?.()) return undefined;
    return readFileSync(fd);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function removeQuietly(file: string): void {
  try {
    rmSync(file, { force: true });
  } catch {
    // not ours to remove (another user's cache dir): left as it is
  }
}
