/**
 * vifqd's entry point (bin/vifqd, or `node dist/service/main.js`).
 *
 *   vifqd [--log-level info] [--once]
 *
 * --log-level  fatal|error|warn|info|debug|trace|silent (env VIFQD_LOG_LEVEL; default info)
 * --once       program the limits once and exit 0, keeping them (whatever `on-stop` says)
 * xenstored's socket is $XENSTORED_PATH or /run/xenstored/socket (the xenstore client's rule).
 *
 * Exit status: 0 after SIGTERM/SIGINT (limits kept or reset per the host setting `on-stop`)
 * or after --once; 2 for a usage error; the failing error's exit code when it cannot start
 * (3: the vifq family is missing or too old; 1 otherwise); 70 for an unexpected error.
 * Logs: JSON lines on stdout (pino).
 */
import { parseArgs } from 'node:util';
import { VifqError } from '../errors.js';
import { Vifqd } from './daemon.js';
import { createLogger, errorFields, parseLogLevel, type LogLevel } from './log.js';

export const EXIT_USAGE = 2;
export const EXIT_SOFTWARE = 70;

/** A command line vifqd does not understand. */
export class VifqdUsageError extends VifqError {
  constructor(detail: string) {
    super(`vifqd: ${detail}`, { hint: 'usage: vifqd [--log-level fatal|error|warn|info|debug|trace|silent] [--once]', exitCode: EXIT_USAGE });
  }
}

export interface MainArgs {
  logLevel: LogLevel;
  once: boolean;
}

export function parseMainArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): MainArgs {
  let values: { 'log-level'?: string | undefined; once?: boolean | undefined };
  try {
    ({ values } = parseArgs({ args: [...argv], options: { 'log-level': { type: 'string' }, once: { type: 'boolean' } }, strict: true, allowPositionals: false }));
  } catch (e) {
    throw new VifqdUsageError(e instanceof Error ? e.message : String(e));
  }
  const level = values['log-level'] ?? env.VIFQD_LOG_LEVEL ?? 'info';
  try {
    return { logLevel: parseLogLevel(level), once: values.once ?? false };
  } catch (e) {
    throw new VifqdUsageError(e instanceof VifqError ? e.summary : String(e));
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  let args: MainArgs;
  try {
    args = parseMainArgs(argv);
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    return EXIT_USAGE;
  }
  const log = createLogger({ level: args.logLevel });
  let daemon: Vifqd;
  try {
    daemon = await Vifqd.open({ logger: log, ...(args.once ? { onStop: 'keep' as const } : {}) });
  } catch (e) {
    log.error({ event: 'start-failed', ...errorFields(e) }, e instanceof VifqError ? e.message : `vifqd could not start: ${String(e)}`);
    return e instanceof VifqError ? e.exitCode : EXIT_SOFTWARE;
  }
  if (args.once) {
    const s = daemon.snapshot();
    await daemon.close();
    return s.lastPass?.error === undefined && (s.lastPass?.failed ?? 0) === 0 ? 0 : 1;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        log.warn({ event: 'signal', signal }, `second ${signal}: exiting without finishing the stop`);
        resolve(1);
        return;
      }
      stopping = true;
      log.info({ event: 'signal', signal }, `${signal}: stopping`);
      daemon.close().then(() => resolve(0), (e: unknown) => {
        log.error({ event: 'stop-failed', ...errorFields(e) }, 'stopping failed');
        resolve(1);
      });
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

const invoked = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (invoked) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (e: unknown) => {
    process.stderr.write(`vifqd: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(EXIT_SOFTWARE);
  });
}
