/**
 * sd_notify(3) for vifqd: readiness (`Type=notify`), status text, stopping, and the watchdog
 * (`WatchdogSec=`). systemd hands the service an AF_UNIX datagram socket in `$NOTIFY_SOCKET`;
 * Node cannot send AF_UNIX datagrams and no pure-JS package can, so the datagram goes out through
 * the project's own addon (`src/netlink/native/sdnotify.c`, `sdNotify(path, message)`).
 *
 * Outside systemd (no `NOTIFY_SOCKET`: a shell, a test, the lab's dom0 without systemd) every
 * method is a no-op that returns false. A datagram that cannot be sent (systemd gone, its queue
 * full: the addon never blocks) is a `warning`, never a throw: a daemon must not die because its
 * supervisor is slow, and the next watchdog ping tries again.
 *
 * Lifecycle (CONVENTIONS.md): it owns no socket (one per datagram, like libsystemd), only the
 * watchdog timer. `stop()` clears that timer; `close()` is `stop()` plus the `close` event, once.
 */
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { nativeAddonCandidates } from '../netlink/transport.js';
import { VifqError } from '../errors.js';

/** Sends one datagram to the socket at `path` ('@name' = abstract); returns the bytes sent, throws on failure. */
export type SdNotifySender = (path: string, message: string) => number;

export interface SystemdNotifierEvents {
  warning: [err: VifqError];
  close: [cause?: Error];
}

export interface SystemdNotifierOptions {
  /** `$NOTIFY_SOCKET`: an absolute path or '@abstract'. Undefined or empty: every call is a no-op. */
  socketPath?: string | undefined;
  /** `$WATCHDOG_USEC` already checked against `$WATCHDOG_PID`; 0 or undefined: no watchdog. */
  watchdogUsec?: number | undefined;
  /** The seam for tests; default: the addon's `sdNotify`. */
  sender?: SdNotifySender;
}

/** A notification could not be sent to systemd (or the addon that sends it is missing). */
export class SdNotifyError extends VifqError {
  readonly socketPath: string;
  /** The errno name (ECONNREFUSED, EAGAIN, ...) when the send failed in the kernel. */
  readonly code: string | undefined;

  constructor(socketPath: string, what: string, cause: unknown) {
    const code = typeof (cause as { code?: unknown } | null)?.code === 'string' ? (cause as { code: string }).code : undefined;
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`sending ${what} to systemd at NOTIFY_SOCKET=${socketPath} failed: ${why}`, {
      cause,
      hint: code === 'EAGAIN'
        ? 'systemd is not reading its notify socket fast enough; the next watchdog ping retries, nothing to do unless systemd restarts vifqd'
        : code === 'ENOTSUP' || code === undefined
          ? 'build the native addon (`npm run build:native`) or start vifqd without Type=notify'
          : 'check that systemd (PID 1) is running and that the unit has NotifyAccess=main',
    });
    this.socketPath = socketPath;
    this.code = code;
  }
}

/** `$WATCHDOG_USEC`/`$NOTIFY_SOCKET` were set but cannot be used as they are. */
export class SdNotifyConfigError extends VifqError {
  constructor(message: string) {
    super(message, { hint: 'check the unit file: vifqd expects NOTIFY_SOCKET and WATCHDOG_USEC as systemd sets them' });
  }
}

const require = createRequire(import.meta.url);
let addonSender: SdNotifySender | null | undefined;

/** The addon's `sdNotify`, or null when the addon is not built (or is an old build without it). */
export function loadSdNotifySender(): SdNotifySender | null {
  if (addonSender !== undefined) return addonSender;
  addonSender = null;
  for (const p of nativeAddonCandidates()) {
    if (!existsSync(p)) continue;
    try {
      const mod = require(p) as { sdNotify?: unknown };
      if (typeof mod.sdNotify === 'function') {
        addonSender = mod.sdNotify as SdNotifySender;
        break;
      }
    } catch {
      // try the next candidate; transport.ts reports why the addon does not load
    }
  }
  return addonSender;
}

/** One field per line, so a status text must not carry a newline (it would forge a field). */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').trim();
}

export class SystemdNotifier extends EventEmitter<SystemdNotifierEvents> {
  /** `$NOTIFY_SOCKET`, or undefined outside systemd. */
  readonly socketPath: string | undefined;
  /** The watchdog period systemd expects (µs), 0 when there is no watchdog for this process. */
  readonly watchdogUsec: number;
  private readonly sender: SdNotifySender | null;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private senderMissingReported = false;

  constructor(options: SystemdNotifierOptions = {}) {
    super();
    this.socketPath = options.socketPath ? options.socketPath : undefined;
    const usec = options.watchdogUsec ?? 0;
    this.watchdogUsec = Number.isSafeInteger(usec) && usec > 0 ? usec : 0;
    this.sender = this.socketPath === undefined ? null : options.sender ?? loadSdNotifySender();
  }

  /**
   * From systemd's environment: NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (the watchdog is
   * for this process only when WATCHDOG_PID is unset or equals `pid`). A malformed WATCHDOG_USEC
   * throws SdNotifyConfigError: it means the unit is wrong, and the daemon should say so at start.
   */
  static fromEnv(env: NodeJS.ProcessEnv = process.env, options: { pid?: number; sender?: SdNotifySender } = {}): SystemdNotifier {
    const socketPath = env.NOTIFY_SOCKET || undefined;
    let watchdogUsec = 0;
    const rawUsec = env.WATCHDOG_USEC;
    if (rawUsec !== undefined && rawUsec !== '') {
      if (!/^\d+$/.test(rawUsec) || !Number.isSafeInteger(Number(rawUsec)) || Number(rawUsec) === 0) {
        throw new SdNotifyConfigError(`WATCHDOG_USEC=${JSON.stringify(rawUsec)} is not a positive integer number of microseconds`);
      }
      watchdogUsec = Number(rawUsec);
      const rawPid = env.WATCHDOG_PID;
      if (rawPid !== undefined && rawPid !== '') {
        if (!/^\d+$/.test(rawPid)) throw new SdNotifyConfigError(`WATCHDOG_PID=${JSON.stringify(rawPid)} is not a pid`);
        if (Number(rawPid) !== (options.pid ?? process.pid)) watchdogUsec = 0; // the watchdog is for another process
      }
    }
    return new SystemdNotifier({
      socketPath,
      watchdogUsec,
      ...(options.sender ? { sender: options.sender } : {}),
    });
  }

  /** True when notifications go somewhere (NOTIFY_SOCKET set). */
  get enabled(): boolean {
    return this.socketPath !== undefined;
  }

  /** Send raw `KEY=value` lines. False when disabled or when the send failed (then a `warning`). */
  notify(fields: Record<string, string | number>, what = 'a notification'): boolean {
    const path = this.socketPath;
    if (path === undefined) return false;
    if (!this.sender) {
      if (!this.senderMissingReported) {
        this.senderMissingReported = true;
        this.warn(new SdNotifyError(path, what, new Error('the native addon with sdNotify is not built')));
      }
      return false;
    }
    const message = Object.entries(fields).map(([k, v]) => `${k}=${oneLine(String(v))}`).join('\n');
    try {
      this.sender(path, message);
      return true;
    } catch (e) {
      this.warn(new SdNotifyError(path, what, e));
      return false;
    }
  }

  /** READY=1 (and a STATUS line): systemd considers the start finished. */
  ready(status?: string): boolean {
    return this.notify(status === undefined ? { READY: 1 } : { READY: 1, STATUS: status }, 'READY=1');
  }

  /** STATUS=text, shown by `systemctl status vifqd`. */
  status(text: string): boolean {
    return this.notify({ STATUS: text }, 'STATUS');
  }

  /** STOPPING=1: the stop has begun (limits being kept or reset). */
  stopping(status?: string): boolean {
    return this.notify(status === undefined ? { STOPPING: 1 } : { STOPPING: 1, STATUS: status }, 'STOPPING=1');
  }

  /** EXTEND_TIMEOUT_USEC: a slow start or stop (xenstored retries) asks for more time. */
  extendTimeout(usec: number): boolean {
    return this.notify({ EXTEND_TIMEOUT_USEC: Math.max(0, Math.round(usec)) }, 'EXTEND_TIMEOUT_USEC');
  }

  /** WATCHDOG=1: one keep-alive ping. */
  watchdog(): boolean {
    return this.notify({ WATCHDOG: 1 }, 'WATCHDOG=1');
  }

  /**
   * Ping the watchdog every WATCHDOG_USEC/2 (systemd's advice) from an unref'd timer, so it never
   * keeps the process alive. A ping only proves the event loop turns; the daemon may stop calling
   * this and ping from its own loop instead when it wants a stricter liveness. Returns false (and
   * starts nothing) when there is no watchdog or no NOTIFY_SOCKET; true when it runs.
   */
  startWatchdog(): boolean {
    if (this.closed || !this.enabled || this.watchdogUsec === 0) return false;
    if (this.timer) return true;
    const periodMs = Math.max(1, Math.floor(this.watchdogUsec / 2000));
    this.watchdog();
    this.timer = setInterval(() => this.watchdog(), periodMs);
    this.timer.unref();
    return true;
  }

  /** Stop the watchdog timer; notifications can still be sent (STOPPING=1 comes after). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Idempotent: stops the timer, emits `close` once. */
  close(): void {
    this.stop();
    if (this.closed) return;
    this.closed = true;
    this.emit('close');
  }

  private warn(err: VifqError): void {
    try {
      this.emit('warning', err);
    } catch {
      // a listener that throws must not turn a failed ping into a crash
    }
  }
}
