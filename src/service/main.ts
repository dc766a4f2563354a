/**
 * vifqd's entry point (bin/vifqd, or `node dist/service/main.js`).
 *
 *   vifqd [--log-level info] [--once] [--metrics-port 9851] [--control-socket /run/vifq/control.sock]
 *
 * --log-level       fatal|error|warn|info|debug|trace|silent (env VIFQD_LOG_LEVEL; default info)
 * --once            program the limits once and exit 0, keeping them (whatever `on-stop` says);
 *                   no metrics endpoint, no control socket
 * --metrics-port    GET /metrics on 127.0.0.1:<port> (env VIFQD_METRICS_PORT; default 9851, 0 = off)
 * --control-socket  the control socket's path (env VIFQD_CONTROL_SOCKET; default
 *                   /run/vifq/control.sock, `off` = none)
 * xenstored's socket is $XENSTORED_PATH or /run/xenstored/socket (the xenstore client's rule).
 * Under systemd (Type=notify): READY=1 after the first pass, STATUS after each pass, the watchdog
 * when WatchdogSec= is set, STOPPING=1 on SIGTERM/SIGINT.
 *
 * A metrics port or control socket that cannot be opened is logged with a hint and the service
 * runs without it: the limits matter more than their observation.
 *
 * Exit status: 0 after SIGTERM/SIGINT (limits kept or reset per the host setting `on-stop`)
 * or after --once; 2 for a usage error; the failing error's exit code when it cannot start
 * (3: the vifq family is missing or too old; 1 otherwise); 70 for an unexpected error.
 * Logs: JSON lines on stdout (pino).
 */
import { parseArgs } from 'node:util';
import { VifqError } from '../errors.js';
import { ControlServer, DEFAULT_CONTROL_SOCKET } from './control-socket.js';
import { controlMethods } from './control-methods.js';
import { Vifqd, type LastPass } from './daemon.js';
import { createLogger, errorFields, parseLogLevel, type LogLevel, type ServiceLogger } from './log.js';
import { DEFAULT_METRICS_PORT, MetricsServer, VifqMetrics } from './metrics.js';
import { SystemdNotifier } from './sd-notify.js';
import { MetricsWiring } from './wiring.js';

export const EXIT_USAGE = 2;
export const EXIT_SOFTWARE = 70;

/** A command line vifqd does not understand. */
export class VifqdUsageError extends VifqError {
  constructor(detail: string) {
    super(`vifqd: ${detail}`, {
      hint: 'usage: vifqd [--log-level fatal|error|warn|info|debug|trace|silent] [--once] [--metrics-port <0-65535, 0 = off>] [--control-socket <path>|off]',
      exitCode: EXIT_USAGE,
    });
  }
}

export interface MainArgs {
  logLevel: LogLevel;
  once: boolean;
  /** 0: no metrics endpoint */
  metricsPort: number;
  /** null: no control socket */
  controlSocket: string | null;
}

export function parseMainArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): MainArgs {
  let values: { 'log-level'?: string | undefined; once?: boolean | undefined; 'metrics-port'?: string | undefined; 'control-socket'?: string | undefined };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { 'log-level': { type: 'string' }, once: { type: 'boolean' }, 'metrics-port': { type: 'string' }, 'control-socket': { type: 'string' } },
      strict: true, allowPositionals: false,
    }));
  } catch (e) {
    throw new VifqdUsageError(e instanceof Error ? e.message : String(e));
  }
  const level = values['log-level'] ?? env.VIFQD_LOG_LEVEL ?? 'info';
  let logLevel: LogLevel;
  try {
    logLevel = parseLogLevel(level);
  } catch (e) {
    throw new VifqdUsageError(e instanceof VifqError ? e.summary : String(e));
  }
  const port = values['metrics-port'] ?? env.VIFQD_METRICS_PORT ?? String(DEFAULT_METRICS_PORT);
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) throw new VifqdUsageError(`--metrics-port ${JSON.stringify(port)} is not a port (0-65535; 0 = off)`);
  const sock = values['control-socket'] ?? env.VIFQD_CONTROL_SOCKET ?? DEFAULT_CONTROL_SOCKET;
  if (sock !== 'off' && !sock.startsWith('/')) throw new VifqdUsageError(`--control-socket ${JSON.stringify(sock)} is not an absolute path (or 'off')`);
  return { logLevel, once: values.once ?? false, metricsPort: Number(port), controlSocket: sock === 'off' ? null : sock };
}

/** `systemctl status` text after a pass. */
export function statusText(d: Vifqd, p: LastPass | undefined): string {
  const s = d.snapshot();
  const pass = p === undefined ? 'no pass yet' : `last pass ${Math.round(p.durationMs)} ms${p.error !== undefined || p.failed > 0 ? ' (failed: see the log)' : ''}`;
  return `${s.vifs.length} vifs, ${s.uplinks.length} uplinks, ${pass}`;
}

/** What runs beside the daemon: each is optional, and each failure to open is logged, not fatal. */
export interface ServiceExtras {
  wiring: MetricsWiring | undefined;
  metricsServer: MetricsServer | undefined;
  control: ControlServer | undefined;
}

/** The metrics endpoint (with its wiring) and the control socket, as `args` asks; never rejects. */
export async function openServiceExtras(daemon: Vifqd, args: Pick<MainArgs, 'metricsPort' | 'controlSocket'>, log: ServiceLogger): Promise<ServiceExtras> {
  const x: ServiceExtras = { wiring: undefined, metricsServer: undefined, control: undefined };
  if (args.metricsPort !== 0) {
    const metrics = new VifqMetrics();
    x.wiring = MetricsWiring.attach(daemon, metrics);
    try {
      x.metricsServer = await MetricsServer.open({ metrics, port: args.metricsPort });
      x.metricsServer.on('warning', (w) => log.warn({ event: 'warning', component: 'metrics', ...errorFields(w) }, w.summary));
      log.info({ event: 'metrics-listening', ...x.metricsServer.address() }, `metrics on http://127.0.0.1:${args.metricsPort}/metrics`);
    } catch (e) {
      x.wiring.detach();
      x.wiring = undefined;
      log.error({ event: 'metrics-failed', ...errorFields(e) }, `${e instanceof VifqError ? e.summary : String(e)}; running without the metrics endpoint (--metrics-port 0 turns it off)`);
    }
  }
  if (args.controlSocket !== null) {
    try {
      x.control = await ControlServer.open({ handlers: controlMethods(daemon), path: args.controlSocket });
      x.control.on('warning', (w) => log.warn({ event: 'warning', component: 'control', ...errorFields(w) }, w.summary));
      log.info({ event: 'control-listening', path: args.controlSocket }, `control socket ${args.controlSocket}`);
    } catch (e) {
      log.error({ event: 'control-failed', ...errorFields(e) }, `${e instanceof VifqError ? e.summary : String(e)}; running without the control socket (vifq commands that ask vifqd will fail; --control-socket off turns it off)`);
    }
  }
  return x;
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
  let notifier: SystemdNotifier;
  try {
    notifier = SystemdNotifier.fromEnv();
  } catch (e) {
    log.error({ event: 'start-failed', ...errorFields(e) }, e instanceof VifqError ? e.message : String(e));
    return e instanceof VifqError ? e.exitCode : EXIT_SOFTWARE;
  }
  notifier.on('warning', (w) => log.warn({ event: 'warning', component: 'sd-notify', ...errorFields(w) }, w.summary));
  let daemon: Vifqd;
  try {
    daemon = await Vifqd.open({ logger: log, ...(args.once ? { onStop: 'keep' as const } : {}) });
  } catch (e) {
    log.error({ event: 'start-failed', ...errorFields(e) }, e instanceof VifqError ? e.message : `vifqd could not start: ${String(e)}`);
    notifier.close();
    return e instanceof VifqError ? e.exitCode : EXIT_SOFTWARE;
  }
  if (args.once) {
    const s = daemon.snapshot();
    await daemon.close();
    notifier.close();
    return s.lastPass?.error === undefined && (s.lastPass?.failed ?? 0) === 0 ? 0 : 1;
  }
  const extras = await openServiceExtras(daemon, args, log);
  // Vifqd.open() resolved after the first pass: the running guests have their limits
  daemon.on('pass', (p) => { notifier.status(statusText(daemon, p)); });
  notifier.ready(statusText(daemon, daemon.snapshot().lastPass));
  notifier.startWatchdog();
  const stopAll = async (): Promise<void> => {
    // the control socket first (no request may start a pass on a closing daemon), then the
    // metrics, then the daemon (which keeps or resets the limits)
    await extras.control?.close();
    await extras.metricsServer?.close();
    extras.wiring?.detach();
    await daemon.close();
  };
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
      notifier.stopping(`stopping (${signal})`);
      notifier.stop();
      stopAll().then(() => { notifier.close(); resolve(0); }, (e: unknown) => {
        log.error({ event: 'stop-failed', ...errorFields(e) }, 'stopping failed');
        notifier.close();
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
