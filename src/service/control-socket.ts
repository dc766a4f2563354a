/**
 * vifqd's control socket: a unix stream socket speaking newline-delimited JSON, and the client
 * the CLI uses.
 *
 * Protocol (one JSON object per line, UTF-8, each line at most `maxLineBytes`):
 *   request   {"id": 1, "method": "status", "params": {...}}        (id: number, string or null)
 *   response  {"id": 1, "result": ...} | {"id": 1, "error": {"code", "message", "hint"?}}
 *   stream    a request to a stream method is answered {"id", "result": {"subscribed": "<method>"}},
 *             then {"event": "<name>", "data": ...} lines until the connection closes.
 *   dropped   {"event": "dropped", "data": {"code", "message"}}: the server ends the connection
 *             (a client that did not read its events, or a line over the limit).
 * Responses may come in any order (handlers are async); match them by id.
 *
 * Who may connect. Node cannot read SO_PEERCRED, so the server cannot ask who the peer is. Access
 * is decided by the file system instead: the socket's directory is created 0700 (an existing
 * one must belong to the server's user and be closed to group and others, or the server refuses
 * to start; it never chmods a directory it did not create), and the socket itself is 0600. Connecting to a unix
 * socket needs write permission on it and search permission on every directory above, so only
 * that user (root, for vifqd) and processes with CAP_DAC_OVERRIDE can connect. The socket is
 * created by listen() with the process umask and chmod'ed right after; in between, the 0700
 * directory already keeps everyone else out.
 *
 * The module knows nothing of the daemon: the handler table is injected.
 */
import { EventEmitter } from 'node:events';
import { chmodSync, lstatSync, mkdirSync, statSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { VifqError } from '../errors.js';

export const DEFAULT_CONTROL_SOCKET = '/run/vifq/control.sock';
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;
/**
 * The client's limit on a line from vifqd: answers grow with the vifs (`status` is ~680 bytes a
 * vif, so 64 KiB would end at ~95 vifs); requests stay bounded by DEFAULT_MAX_LINE_BYTES.
 */
export const DEFAULT_MAX_RESPONSE_LINE_BYTES = 16 * 1024 * 1024;
export const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024;
export const DEFAULT_MAX_CONNECTIONS = 64;
export const DEFAULT_CONTROL_TIMEOUT_MS = 5000;

/** A JSON value (what params, results and event data may be). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export type RequestId = number | string | null;

export interface ControlRequest {
  id: RequestId;
  method: string;
  params?: JsonValue;
}

export interface ControlErrorBody {
  code: string;
  message: string;
  hint?: string;
}

export type ControlResponse = { id: RequestId; result: JsonValue } | { id: RequestId; error: ControlErrorBody };

export interface ControlEventLine {
  event: string;
  data: JsonValue;
}

/** Error codes of the protocol; handlers may use their own (ControlMethodError). */
export type ControlErrorCode =
  | 'parse-error' // the line is not JSON
  | 'invalid-request' // not {id, method, params}
  | 'method-not-found'
  | 'invalid-params' // a handler's ControlMethodError
  | 'failed' // a handler threw a VifqError
  | 'internal-error' // a handler threw something else
  | 'line-too-long'
  | 'too-many-connections'
  | 'slow-reader'
  | 'shutting-down';

/** What a handler learns about the request. */
export interface RequestContext {
  /** Connection number (for logs): increases per accepted connection. */
  readonly connection: number;
  readonly method: string;
}

/** A one-shot method: params -> result (or throws; a VifqError's summary and hint reach the client). */
export type RequestHandler = (params: JsonValue | undefined, ctx: RequestContext) => JsonValue | Promise<JsonValue>;

/** Where a stream method pushes its events. */
export interface EventSink {
  /** Queue one `{event, data}` line; false once the sink is closed (then stop sending). */
  send(event: string, data: JsonValue): boolean;
  readonly closed: boolean;
  /** End the stream from the producer's side (the connection is ended after it). */
  end(): void;
}

/**
 * A stream method: called once per subscription; returns what stops the producer. The server
 * calls it when the client goes away, is dropped for not reading, or the server closes.
 */
export type StreamHandler = (params: JsonValue | undefined, sink: EventSink, ctx: RequestContext) => (() => void) | Promise<() => void>;

export type ControlMethod = { kind: 'request'; handle: RequestHandler } | { kind: 'stream'; subscribe: StreamHandler };

/** The injected handler table: method name -> handler. */
export type ControlHandlers = Readonly<Record<string, ControlMethod>>;

// ---------------------------------------------------------------------------------------------
// errors

function causeText(cause: unknown): string {
  if (cause instanceof VifqError) return cause.summary;
  if (cause instanceof Error) return cause.message;
  return String(cause);
}

function errnoCode(e: unknown): string | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

/** Another process listens on the socket path: vifqd is probably running already. */
export class ControlSocketInUseError extends VifqError {
  constructor(readonly path: string) {
    super(`the control socket ${path} is in use: another vifqd is listening on it`, {
      hint: 'stop the other instance (`systemctl stop vifqd`) or give this one another --control-socket',
    });
  }
}

/** The socket path or its directory is not safe or usable (not a socket, wrong owner, not a directory). */
export class ControlSocketPathError extends VifqError {
  constructor(readonly path: string, problem: string, hint: string, cause?: unknown) {
    super(`cannot use ${path} as the control socket: ${problem}`, { hint, cause });
  }
}

/** listen() on the socket failed. */
export class ControlSocketListenError extends VifqError {
  constructor(readonly path: string, cause: unknown) {
    super(`the control socket could not listen on ${path}: ${causeText(cause)}`, {
      cause, hint: 'vifqd must run as root with /run writable; check `systemctl status vifqd`',
    });
  }
}

/** Thrown by a handler to answer with a chosen code (e.g. invalid-params, not-found). */
export class ControlMethodError extends VifqError {
  constructor(readonly code: string, message: string, hint?: string) {
    super(message, hint === undefined ? {} : { hint });
  }
}

/** The client could not reach the daemon. */
export class ControlConnectError extends VifqError {
  readonly code: string | undefined;
  constructor(readonly path: string, cause: unknown) {
    const code = errnoCode(cause);
    const hint = code === 'EACCES' || code === 'EPERM'
      ? 'the control socket is root-only: run the command as root (sudo)'
      : code === 'ENOENT' || code === 'ECONNREFUSED'
        ? 'vifqd is not running: start it with `systemctl start vifqd` (or `vifq daemon`), then `vifq doctor`'
        : 'check that vifqd is running (`systemctl status vifqd`) and `vifq doctor`';
    super(`cannot connect to vifqd at ${path}: ${causeText(cause)}`, { cause, hint, exitCode: 3 });
    this.code = code;
  }
}

/** The daemon answered a request with an error. */
export class ControlRequestError extends VifqError {
  constructor(readonly method: string, readonly code: string, message: string, hint: string | undefined) {
    super(`vifqd: ${method}: ${message}`, hint === undefined ? {} : { hint });
  }
}

export class ControlTimeoutError extends VifqError {
  constructor(readonly method: string, readonly timeoutMs: number) {
    super(`vifqd did not answer ${method} within ${timeoutMs} ms`, {
      hint: 'the daemon may be stuck or overloaded: check `journalctl -u vifqd`, or retry with a longer --timeout',
      exitCode: 3,
    });
  }
}

/** The connection closed (by the client, the daemon stopping, or the daemon dropping it). */
export class ControlClosedError extends VifqError {
  constructor(what: string, reason?: ControlErrorBody) {
    super(reason ? `${what}: vifqd ended the connection: ${reason.message}` : `${what}: the connection to vifqd is closed`, {
      hint: reason?.hint ?? (reason ? undefined : 'if vifqd was restarted, run the command again'),
      exitCode: 3,
    });
  }
}

/** The peer sent something that is not the protocol. */
export class ControlProtocolError extends VifqError {
  constructor(problem: string) {
    super(`the control socket peer broke the protocol: ${problem}`, {
      hint: 'vifq and vifqd must be the same version: reinstall vifq and restart vifqd',
    });
  }
}

// ---------------------------------------------------------------------------------------------
// line framing

/** Splits a byte stream into lines; a line longer than `max` bytes (without newline) is an error. */
class LineReader {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly max: number) {}

  /** The complete lines in `chunk`; 'too-long' when a line exceeds the limit (stop reading then). */
  push(chunk: Buffer): string[] | 'too-long' {
    const lines: string[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      if (this.size + (nl - start) > this.max) return 'too-long';
      const part = chunk.subarray(start, nl);
      const line = this.size > 0 ? Buffer.concat([...this.chunks, part]) : part;
      this.chunks = [];
      this.size = 0;
      lines.push(line.toString('utf8'));
      start = nl + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      if (this.size + rest.length > this.max) return 'too-long';
      this.chunks.push(rest);
      this.size += rest.length;
    }
    return lines;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isRequestId(v: unknown): v is RequestId {
  return v === null || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
}

// ---------------------------------------------------------------------------------------------
// server

export interface ControlServerOptions {
  readonly handlers: ControlHandlers;
  /** default /run/vifq/control.sock */
  readonly path?: string;
  /** default 64 KiB: a longer request line gets an error and the connection is closed */
  readonly maxLineBytes?: number;
  /**
   * default 1 MiB: when more than this is queued towards a client that does not read, the
   * client is dropped (its streams stopped, the connection ended) rather than buffered.
   */
  readonly maxBufferedBytes?: number;
  /** default 64 connections at once; more are refused with an error line */
  readonly maxConnections?: number;
  /** How long a dropped client may take to read its last line before it is destroyed (default 1000 ms). */
  readonly dropGraceMs?: number;
}

export interface ControlServerEvents {
  /** a handler threw something that is not a VifqError, a client was dropped, a socket error */
  warning: [err: VifqError];
  close: [cause: Error | undefined];
}

/** A client dropped by the server (did not read, sent a line over the limit). */
export class ControlClientDroppedError extends VifqError {
  constructor(connection: number, reason: string) {
    super(`control connection ${connection} dropped: ${reason}`, {
      hint: 'nothing to do for the service; the client must read its events or reconnect',
    });
  }
}

/** A handler failed with something that is not a VifqError (a bug in the daemon's handler). */
export class ControlHandlerError extends VifqError {
  constructor(method: string, cause: unknown) {
    super(`the control method ${method} failed: ${causeText(cause)}`, { cause, hint: 'a bug in vifqd: please report it with this log line' });
  }
}

class Connection {
  private readonly reader: LineReader;
  private readonly stops = new Set<() => void>();
  private dropped = false;
  private ended = false;
  private graceTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly n: number,
    readonly socket: Socket,
    private readonly server: ControlServer,
    private readonly limits: { maxLineBytes: number; maxBufferedBytes: number; dropGraceMs: number },
  ) {
    this.reader = new LineReader(limits.maxLineBytes);
    socket.on('data', (chunk: Buffer) => { this.onData(chunk); });
    socket.on('error', () => { /* ECONNRESET, EPIPE: the close below cleans up */ });
    socket.on('close', () => { this.cleanup(); });
  }

  get isOpen(): boolean {
    return !this.ended && !this.dropped && !this.socket.destroyed;
  }

  /** Writes one line; drops the client when too much is queued for it. */
  write(obj: ControlResponse | ControlEventLine): boolean {
    if (!this.isOpen) return false;
    if (this.socket.writableLength > this.limits.maxBufferedBytes) {
      this.drop('slow-reader', `more than ${this.limits.maxBufferedBytes} bytes were waiting for it to read`);
      return false;
    }
    this.socket.write(`${JSON.stringify(obj)}\n`);
    return true;
  }

  addStop(stop: () => void): void {
    if (this.isOpen) this.stops.add(stop);
    else this.runStop(stop);
  }

  removeStop(stop: () => void): void {
    this.stops.delete(stop);
  }

  /** Ends the connection politely: a last line saying why, then FIN; destroyed if not read in time. */
  drop(code: ControlErrorCode, message: string): void {
    if (this.dropped || this.ended) return;
    this.dropped = true;
    this.server.reportDrop(this.n, message);
    this.stopStreams();
    this.socket.pause();
    const hint = code === 'slow-reader' ? 'read the event stream continuously, or reconnect' : undefined;
    const body: ControlErrorBody = hint === undefined ? { code, message } : { code, message, hint };
    this.socket.end(`${JSON.stringify({ event: 'dropped', data: { ...body } } satisfies ControlEventLine)}\n`);
    this.graceTimer = setTimeout(() => { this.socket.destroy(); }, this.limits.dropGraceMs);
    this.graceTimer.unref();
  }

  /** Server closing: stop streams, tell the client, close. */
  shutdown(): void {
    if (!this.isOpen) { this.socket.destroy(); return; }
    this.ended = true;
    this.stopStreams();
    this.socket.end(`${JSON.stringify({ event: 'dropped', data: { code: 'shutting-down', message: 'vifqd is stopping' } } satisfies ControlEventLine)}\n`);
    this.socket.destroySoon();
    this.graceTimer = setTimeout(() => { this.socket.destroy(); }, this.limits.dropGraceMs);
    this.graceTimer.unref();
  }

  /** The producer ended its stream: end the connection once written. */
  endFromProducer(): void {
    if (!this.isOpen) return;
    this.ended = true;
    this.stopStreams();
    this.socket.end();
  }

  private onData(chunk: Buffer): void {
    if (!this.isOpen) return;
    const lines = this.reader.push(chunk);
    if (lines === 'too-long') {
      const message = `a request line is longer than ${this.limits.maxLineBytes} bytes`;
      // answer as a response too, for a client waiting on the id it cannot know
      this.write({ id: null, error: { code: 'line-too-long', message } });
      this.drop('line-too-long', message);
      return;
    }
    for (const line of lines) {
      if (!this.isOpen) return;
      if (line.trim() === '') continue;
      this.server.handleLine(this, line);
    }
  }

  private stopStreams(): void {
    const stops = [...this.stops];
    this.stops.clear();
    for (const s of stops) this.runStop(s);
  }

  private runStop(stop: () => void): void {
    try {
      stop();
    } catch (e) {
      this.server.reportWarning(new ControlHandlerError('(stream stop)', e));
    }
  }

  private cleanup(): void {
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
    this.ended = true;
    this.stopStreams();
    this.server.forget(this);
  }
}

/**
 * The control socket server. `await ControlServer.open({ handlers })` listens; `close()` stops
 * every stream, ends the connections and removes the socket file (if it is still ours).
 */
export class ControlServer extends EventEmitter<ControlServerEvents> {
  readonly path: string;
  private readonly handlers: ControlHandlers;
  private readonly server: Server;
  private readonly connections = new Set<Connection>();
  private readonly limits: { maxLineBytes: number; maxBufferedBytes: number; dropGraceMs: number };
  private readonly maxConnections: number;
  private nextConnection = 1;
  private inode: number | undefined;
  private closing: Promise<void> | undefined;

  private constructor(options: ControlServerOptions) {
    super();
    this.path = options.path ?? DEFAULT_CONTROL_SOCKET;
    this.handlers = options.handlers;
    this.limits = {
      maxLineBytes: options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES,
      maxBufferedBytes: options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES,
      dropGraceMs: options.dropGraceMs ?? 1000,
    };
    this.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    this.server = createServer((socket) => { this.accept(socket); });
  }

  static async open(options: ControlServerOptions): Promise<ControlServer> {
    const s = new ControlServer(options);
    await s.listen();
    return s;
  }

  /** Connections open now (for status). */
  get connectionCount(): number {
    return this.connections.size;
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const c of [...this.connections]) c.shutdown();
      this.removeSocketFile();
    }).then(() => { this.emitSafe('close', undefined); });
    return this.closing;
  }

  /** @internal a line from a connection */
  handleLine(conn: Connection, line: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch (e) {
      conn.write({ id: null, error: { code: 'parse-error', message: `the line is not JSON: ${causeText(e)}` } });
      return;
    }
    const id = isRecord(msg) && isRequestId(msg.id) ? msg.id : null;
    if (!isRecord(msg) || !('id' in msg) || !isRequestId(msg.id) || typeof msg.method !== 'string') {
      conn.write({ id, error: { code: 'invalid-request', message: 'a request is {"id": number|string|null, "method": string, "params"?: value}' } });
      return;
    }
    const method = msg.method;
    const params = msg.params as JsonValue | undefined;
    const entry = Object.hasOwn(this.handlers, method) ? this.handlers[method] : undefined;
    if (!entry) {
      const known = Object.keys(this.handlers).sort().join(', ');
      conn.write({ id, error: { code: 'method-not-found', message: `no method ${JSON.stringify(method)}; known: ${known}` } });
      return;
    }
    const ctx: RequestContext = { connection: conn.n, method };
    if (entry.kind === 'request') this.runRequest(conn, id, entry.handle, params, ctx);
    else this.runStream(conn, id, entry.subscribe, params, ctx);
  }

  /** @internal */
  forget(conn: Connection): void {
    this.connections.delete(conn);
  }

  /** @internal */
  reportDrop(n: number, reason: string): void {
    this.reportWarning(new ControlClientDroppedError(n, reason));
  }

  /** @internal */
  reportWarning(err: VifqError): void {
    this.emitSafe('warning', err);
  }

  private runRequest(conn: Connection, id: RequestId, handle: RequestHandler, params: JsonValue | undefined, ctx: RequestContext): void {
    let p: Promise<JsonValue>;
    try {
      p = Promise.resolve(handle(params, ctx));
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      (result) => { conn.write({ id, result: result === undefined ? null : result }); },
      (e: unknown) => { conn.write({ id, error: this.errorBody(ctx.method, e) }); },
    );
  }

  private runStream(conn: Connection, id: RequestId, subscribe: StreamHandler, params: JsonValue | undefined, ctx: RequestContext): void {
    let closed = false;
    let stop: (() => void) | undefined;
    const stopOnce = (): void => {
      closed = true;
      if (stop) conn.removeStop(stopOnce);
      const s = stop;
      stop = undefined;
      s?.();
    };
    const sink: EventSink = {
      send: (event, data) => {
        if (closed || !conn.isOpen) return false;
        return conn.write({ event, data });
      },
      get closed() { return closed || !conn.isOpen; },
      end: () => { if (!closed) conn.endFromProducer(); },
    };
    let p: Promise<() => void>;
    try {
      p = Promise.resolve(subscribe(params, sink, ctx));
    } catch (e) {
      p = Promise.reject(e);
    }
    // the confirmation goes out before the producer can push (send() is queued behind it)
    conn.write({ id, result: { subscribed: ctx.method } });
    p.then(
      (s) => {
        stop = s;
        if (closed || !conn.isOpen) { stopOnce(); return; }
        conn.addStop(stopOnce);
      },
      (e: unknown) => {
        closed = true;
        conn.write({ event: 'error', data: { ...this.errorBody(ctx.method, e) } });
        conn.endFromProducer();
      },
    );
  }

  private errorBody(method: string, e: unknown): ControlErrorBody {
    if (e instanceof ControlMethodError) {
      return e.hint === undefined ? { code: e.code, message: e.summary } : { code: e.code, message: e.summary, hint: e.hint };
    }
    if (e instanceof VifqError) {
      return e.hint === undefined ? { code: 'failed', message: e.summary } : { code: 'failed', message: e.summary, hint: e.hint };
    }
    const err = new ControlHandlerError(method, e);
    this.reportWarning(err);
    return { code: 'internal-error', message: err.summary, hint: err.hint ?? '' };
  }

  private accept(socket: Socket): void {
    const n = this.nextConnection++;
    if (this.closing) { socket.destroy(); return; }
    if (this.connections.size >= this.maxConnections) {
      socket.on('error', () => { /* gone */ });
      socket.end(`${JSON.stringify({ event: 'dropped', data: { code: 'too-many-connections', message: `vifqd serves at most ${this.maxConnections} control connections at once` } } satisfies ControlEventLine)}\n`);
      this.reportWarning(new ControlClientDroppedError(n, `refused: already ${this.maxConnections} connections`));
      return;
    }
    this.connections.add(new Connection(n, socket, this, this.limits));
  }

  private async listen(): Promise<void> {
    const path = this.path;
    this.prepareDirectory(dirname(path));
    await this.clearStale(path);
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error): void => {
        reject(errnoCode(e) === 'EADDRINUSE' ? new ControlSocketInUseError(path) : new ControlSocketListenError(path, e));
      };
      this.server.once('error', onError);
      this.server.listen(path, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    this.server.on('error', (e) => { this.reportWarning(new ControlSocketListenError(path, e)); });
    try {
      chmodSync(path, 0o600);
      this.inode = statSync(path).ino;
    } catch (e) {
      await new Promise<void>((resolve) => { this.server.close(() => resolve()); });
      throw new ControlSocketPathError(path, `setting its mode to 0600 failed: ${causeText(e)}`, 'check the file system under /run', e);
    }
  }

  /**
   * The directory decides who may connect. One vifqd creates is made 0700. An existing one (systemd's
   * RuntimeDirectory=vifq, mode 0700) must be a real directory of vifqd's uid that nobody else may
   * enter; it is never chmod'ed (a --control-socket in /tmp must not turn /tmp into 0700).
   */
  private prepareDirectory(dir: string): void {
    let created: string | undefined;
    try {
      created = mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new ControlSocketPathError(this.path, `creating its directory ${dir} failed: ${causeText(e)}`, 'vifqd must run as root (or give a --control-socket in a writable directory)', e);
    }
    if (created !== undefined) {
      chmodSync(dir, 0o700); // exactly 0700 whatever the umask
      return;
    }
    const st = lstatSync(dir);
    if (!st.isDirectory()) {
      throw new ControlSocketPathError(this.path, `${dir} is not a directory (a symlink?)`, `remove ${dir}; vifqd creates it`);
    }
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid) {
      throw new ControlSocketPathError(this.path, `its directory ${dir} belongs to uid ${st.uid}, not to vifqd's uid ${uid}`,
        `the directory decides who may connect: remove ${dir} (vifqd recreates it 0700) or use another --control-socket`);
    }
    if ((st.mode & 0o077) !== 0) {
      throw new ControlSocketPathError(this.path, `its directory ${dir} has mode 0${(st.mode & 0o777).toString(8)}: others may enter it`,
        `the socket needs a private directory: \`chmod 0700 ${dir}\` if it is vifqd's own, or use another --control-socket (its directory is then created 0700)`);
    }
  }

  /** Refuses a live socket or a non-socket at the path; removes a stale socket. */
  private async clearStale(path: string): Promise<void> {
    let st;
    try {
      st = lstatSync(path);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return;
      throw new ControlSocketPathError(path, causeText(e), 'check the path', e);
    }
    if (!st.isSocket()) {
      throw new ControlSocketPathError(path, 'it exists and is not a socket', `remove ${path} if nothing needs it, or use another --control-socket`);
    }
    const live = await new Promise<boolean>((resolve) => {
      const s = connect(path);
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => { resolve(false); });
    });
    if (live) throw new ControlSocketInUseError(path);
    try {
      unlinkSync(path);
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT') throw new ControlSocketPathError(path, `removing the stale socket failed: ${causeText(e)}`, `remove ${path} by hand`, e);
    }
  }

  private removeSocketFile(): void {
    try {
      // only our own: a successor may already have replaced a stale file of ours
      if (this.inode !== undefined && statSync(this.path).ino === this.inode) unlinkSync(this.path);
    } catch {
      // already gone
    }
  }

  private emitSafe<K extends keyof ControlServerEvents>(event: K, ...args: ControlServerEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: ControlServerEvents[K]) => boolean)(event, ...args);
    } catch (e) {
      if (event !== 'warning') {
        try { this.emit('warning', new ControlHandlerError(`(${event} listener)`, e)); } catch { /* nothing left to tell */ }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// client

export interface ControlClientOptions {
  /** default /run/vifq/control.sock */
  readonly path?: string;
  /** default deadline of every request (5000 ms); a request may give its own */
  readonly timeoutMs?: number;
  /** default 16 MiB (DEFAULT_MAX_RESPONSE_LINE_BYTES): a longer line from the daemon is a protocol error */
  readonly maxLineBytes?: number;
  /** events queued per subscription before the client stops reading (backpressure to the daemon); default 1000 */
  readonly maxQueuedEvents?: number;
  /** tests: bring the socket */
  readonly connector?: (path: string) => Socket;
}

export interface ControlClientEvents {
  /** an event line that belongs to no subscription, a line that did not decode */
  warning: [err: VifqError];
  close: [cause: Error | undefined];
}

/** A subscription: an async iterator of `{event, data}` lines; `return()` (break) closes it. */
export interface ControlSubscription extends AsyncIterableIterator<ControlEventLine> {
  close(): void;
}

interface Pending {
  method: string;
  resolve: (v: JsonValue) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * The CLI's side. One connection; requests are matched by id. A connection that subscribed
 * receives that stream until it closes: use one client per `subscribe()` (the daemon stops
 * streams per connection).
 */
export class ControlClient extends EventEmitter<ControlClientEvents> {
  private readonly socket: Socket;
  private readonly reader: LineReader;
  private readonly pending = new Map<number, Pending>();
  private readonly subs = new Set<SubscriptionQueue>();
  private nextId = 1;
  private closedWith: ControlClosedError | undefined;
  private closing: Promise<void> | undefined;
  private readonly maxQueuedEvents: number;

  private constructor(socket: Socket, readonly path: string, private readonly timeoutMs: number, maxLineBytes: number, maxQueuedEvents: number) {
    super();
    this.socket = socket;
    this.reader = new LineReader(maxLineBytes);
    this.maxQueuedEvents = maxQueuedEvents;
    socket.on('data', (chunk: Buffer) => { this.onData(chunk); });
    socket.on('error', () => { /* the close below reports it */ });
    socket.on('close', () => { this.finish(undefined); });
  }

  static async open(options: ControlClientOptions = {}): Promise<ControlClient> {
    const path = options.path ?? DEFAULT_CONTROL_SOCKET;
    const timeoutMs = options.timeoutMs ?? DEFAULT_CONTROL_TIMEOUT_MS;
    const socket = options.connector ? options.connector(path) : connect(path);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { socket.destroy(); reject(new ControlConnectError(path, new Error(`no connection within ${timeoutMs} ms`))); }, timeoutMs);
      socket.once('connect', () => { clearTimeout(timer); socket.removeAllListeners('error'); resolve(); });
      socket.once('error', (e) => { clearTimeout(timer); reject(new ControlConnectError(path, e)); });
    });
    return new ControlClient(socket, path, timeoutMs, options.maxLineBytes ?? DEFAULT_MAX_RESPONSE_LINE_BYTES, options.maxQueuedEvents ?? 1000);
  }

  /** One request; resolves with the result, rejects with ControlRequestError / ControlTimeoutError / ControlClosedError. */
  request(method: string, params?: JsonValue, options: { timeoutMs?: number } = {}): Promise<JsonValue> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const id = this.nextId++;
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    return new Promise<JsonValue>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ControlTimeoutError(method, timeoutMs));
      }, timeoutMs);
      this.pending.set(id, { method, resolve, reject, timer });
      const req: ControlRequest = params === undefined ? { id, method } : { id, method, params };
      this.socket.write(`${JSON.stringify(req)}\n`);
    });
  }

  /** Subscribes to a stream method; the iterator ends when the daemon ends the stream or the client closes. */
  async subscribe(method: string, params?: JsonValue, options: { timeoutMs?: number } = {}): Promise<ControlSubscription> {
    const q = new SubscriptionQueue(this.maxQueuedEvents, (paused) => { this.flow(paused); }, (sq) => {
      this.subs.delete(sq);
      if (this.subs.size === 0) void this.close();
    });
    this.subs.add(q);
    try {
      await this.request(method, params, options);
    } catch (e) {
      this.subs.delete(q);
      throw e;
    }
    return q;
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      if (this.socket.destroyed) { resolve(); return; }
      this.socket.once('close', () => resolve());
      this.socket.end();
      this.socket.destroySoon();
    }).then(() => { this.finish(undefined); });
    return this.closing;
  }

  private flow(pause: boolean): void {
    if (pause) this.socket.pause();
    else if ([...this.subs].every((s) => !s.full)) this.socket.resume();
  }

  private onData(chunk: Buffer): void {
    const lines = this.reader.push(chunk);
    if (lines === 'too-long') {
      this.finish(new ControlProtocolError('a line from vifqd exceeds the line limit'));
      this.socket.destroy();
      return;
    }
    for (const line of lines) {
      if (line.trim() === '') continue;
      let msg: unknown;
      try {
        msg = JSON.parse(line);
      } catch {
        this.emit('warning', new ControlProtocolError(`a line is not JSON: ${line.slice(0, 80)}`));
        continue;
      }
      this.dispatch(msg);
    }
  }

  private dispatch(msg: unknown): void {
    if (!isRecord(msg)) {
      this.emit('warning', new ControlProtocolError('a line is not an object'));
      return;
    }
    if (typeof msg.event === 'string') {
      const line: ControlEventLine = { event: msg.event, data: (msg.data ?? null) as JsonValue };
      if (line.event === 'dropped') {
        const d = isRecord(msg.data) ? msg.data : {};
        const body: ControlErrorBody = { code: typeof d.code === 'string' ? d.code : 'dropped', message: typeof d.message === 'string' ? d.message : 'dropped' };
        if (typeof d.hint === 'string') body.hint = d.hint;
        this.finish(new ControlClosedError('the subscription', body));
        return;
      }
      if (this.subs.size === 0) {
        this.emit('warning', new ControlProtocolError(`event ${line.event} without a subscription`));
        return;
      }
      for (const s of this.subs) s.push(line);
      return;
    }
    const id = msg.id;
    const p = typeof id === 'number' ? this.pending.get(id) : undefined;
    if (!p) {
      if (isRecord(msg.error)) {
        // an error not tied to a request of ours (id null: parse error, line too long)
        this.emit('warning', new ControlProtocolError(`vifqd: ${String(msg.error.message)}`));
      }
      return;
    }
    this.pending.delete(id as number);
    clearTimeout(p.timer);
    if (isRecord(msg.error)) {
      const e = msg.error;
      p.reject(new ControlRequestError(p.method, typeof e.code === 'string' ? e.code : 'failed', typeof e.message === 'string' ? e.message : 'failed', typeof e.hint === 'string' ? e.hint : undefined));
    } else {
      p.resolve((msg.result ?? null) as JsonValue);
    }
  }

  private finish(cause: VifqError | undefined): void {
    if (this.closedWith) return;
    this.closedWith = cause instanceof ControlClosedError ? cause : new ControlClosedError('request', undefined);
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(cause ?? new ControlClosedError(p.method));
    }
    for (const s of [...this.subs]) s.end(cause instanceof ControlClosedError ? cause : undefined);
    this.subs.clear();
    if (!this.socket.destroyed && cause) this.socket.destroy();
    try { this.emit('close', cause); } catch { /* a throwing close listener */ }
  }
}

/** One subscription's queue; pauses the socket when full so the daemon sees backpressure. */
class SubscriptionQueue implements ControlSubscription {
  private readonly items: ControlEventLine[] = [];
  private waiter: { resolve: (r: IteratorResult<ControlEventLine>) => void; reject: (e: Error) => void } | undefined;
  private done = false;
  private error: Error | undefined;

  constructor(
    private readonly limit: number,
    private readonly onFlow: (pause: boolean) => void,
    private readonly onClose: (q: SubscriptionQueue) => void,
  ) {}

  get full(): boolean {
    return this.items.length >= this.limit;
  }

  push(line: ControlEventLine): void {
    if (this.done) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve({ value: line, done: false });
      return;
    }
    this.items.push(line);
    if (this.full) this.onFlow(true);
  }

  /** No more lines; a dropped stream rejects the next read with why. */
  end(error?: Error): void {
    if (this.done) return;
    this.done = true;
    this.error = error;
    const w = this.waiter;
    this.waiter = undefined;
    if (w) {
      if (error && this.items.length === 0) w.reject(error);
      else w.resolve({ value: undefined, done: true });
    }
  }

  async next(): Promise<IteratorResult<ControlEventLine>> {
    const line = this.items.shift();
    if (line) {
      if (this.items.length === this.limit - 1) this.onFlow(false);
      return { value: line, done: false };
    }
    if (this.done) {
      const e = this.error;
      this.error = undefined;
      if (e) throw e;
      return { value: undefined, done: true };
    }
    return new Promise((resolve, reject) => { this.waiter = { resolve, reject }; });
  }

  async return(): Promise<IteratorResult<ControlEventLine>> {
    this.close();
    return { value: undefined, done: true };
  }

  close(): void {
    if (!this.done) this.end();
    this.items.length = 0;
    this.onClose(this);
  }

  [Symbol.asyncIterator](): ControlSubscription {
    return this;
  }
}
