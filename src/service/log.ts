/**
 * vifqd's logs: pino, one JSON line per decision or warning, on stdout (or a given stream).
 * The service depends on the small `ServiceLogger` shape below, not on pino's types, so tests
 * can pass any sink and the exported types stay free of `any`.
 */
import pino from 'pino';
import { VifqError } from '../errors.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Structured fields of one line (JSON-serialisable). */
export type LogFields = Record<string, unknown>;

export interface ServiceLogger {
  error(fields: LogFields, msg: string): void;
  warn(fields: LogFields, msg: string): void;
  info(fields: LogFields, msg: string): void;
  debug(fields: LogFields, msg: string): void;
  /** A logger whose lines all carry `bindings` (e.g. `{ component: 'xenstore' }`). */
  child(bindings: LogFields): ServiceLogger;
}

/** A log level that is not one of pino's. */
export class LogLevelError extends VifqError {
  constructor(level: string) {
    super(`unknown log level ${JSON.stringify(level)}`, { hint: `use one of ${LOG_LEVELS.join(', ')}`, exitCode: 2 });
  }
}

export function parseLogLevel(level: string): LogLevel {
  const l = LOG_LEVELS.find((x) => x === level);
  if (l === undefined) throw new LogLevelError(level);
  return l;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where the lines go (default stdout, synchronously: a daemon killed mid-burst loses nothing). */
  destination?: NodeJS.WritableStream;
}

/** The service's root logger: JSON lines with `time`, `level` (as a name) and `msg`. */
export function createLogger(opts: LoggerOptions = {}): ServiceLogger {
  return pino(
    {
      name: 'vifqd',
      level: opts.level ?? 'info',
      base: { pid: process.pid },
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    (opts.destination ?? pino.destination({ dest: 1, sync: true })) as pino.DestinationStream,
  );
}

/** The fields of an error for a log line: its class, what happened, what to do. */
export function errorFields(err: unknown): LogFields {
  if (err instanceof VifqError) return { error: { type: err.name, message: err.summary, hint: err.hint } };
  if (err instanceof Error) return { error: { type: err.name, message: err.message } };
  return { error: { type: typeof err, message: String(err) } };
}
