/**
 * The `vifq` CLI's entry (bin/vifq), in two copies that behave the same:
 *  - dist/bundle/vifq.cjs, the bundle `make build` writes (scripts/bundle-cli.ts): oclif and every
 *    command in one CommonJS file, so a cold start reads a few files instead of ~400 (in the lab's
 *    dom0 each is a 9p round trip through QEMU/TCG: bench/cli-start-lab.ts), run with a V8 code
 *    cache (src/cli/run-bundle.ts); there `import.meta.url` is the bundle's URL (a define);
 *  - dist/cli/main.js, tsc's copy: what bin/vifq runs when the bundle is missing or older than
 *    tsc's output, or with VIFQ_CLI_UNBUNDLED=1.
 * Importing it does nothing; `run()` starts oclif. Commands are found by oclif's explicit
 * strategy (package.json `oclif.commands`, identifier `COMMANDS`) in the module that runs: this
 * one, already loaded, so oclif neither globs dist/commands nor loads another copy (the bundle is
 * in require.cache under its path: src/cli/code-cache.ts).
 */
import { readFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execute, type Interfaces } from '@oclif/core';

export { COMMANDS } from './commands.js';

/** package.json (both copies sit two directories below the package root). */
const PJSON_URL = new URL('../../package.json', import.meta.url);

/** package.json with `oclif.commands.target` set to the given module (relative to the root). */
export function pjsonWithTarget(pjson: Interfaces.PJSON, target: string): Interfaces.PJSON {
  const commands = pjson.oclif.commands;
  if (typeof commands !== 'object' || commands.strategy !== 'explicit') {
    throw new Error(`package.json oclif.commands must be {strategy: "explicit", ...} (src/cli/main.ts runs the commands of the module it is in), not ${JSON.stringify(commands)}`);
  }
  return { ...pjson, oclif: { ...pjson.oclif, commands: { ...commands, target: `./${target}` } } };
}

/** Runs this process's command line. */
export async function run(): Promise<void> {
  const pjsonPath = fileURLToPath(PJSON_URL);
  const root = dirname(pjsonPath);
  const pjson = JSON.parse(readFileSync(pjsonPath, 'utf8')) as Interfaces.PJSON;
  await execute({ loadOptions: { root, pjson: pjsonWithTarget(pjson, relative(root, fileURLToPath(import.meta.url))) } });
}
