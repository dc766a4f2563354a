/**
 * The xenstore client: pipelined requests matched by req_id, per-request
 * timeouts, watches, transactions, and reconnection (with watches registered
 * again) when xenstored restarts.
 */
import { EventEmitter } from 'node:events';
import { DEFAULT_BACKOFF, backoffDelay, type BackoffOptions } from './backoff.js';
import { FrameDecoder, checkWireString, decodeStrings, decodeWatchEvent, encodeRequest, type XsFrame } from './codec.js';
import {
  XenstoreError,
  XsAgainError,
  XsClosedError,
  XsConnectError,
  XsConnectionLostError,
  XsErrnoError,
  XsExistsError,
  XsNoEntryError,
  XsProtocolError,
  XsTimeoutError,
  XsTransactionConflictError,
  xsErrnoErrorFor,
  type XsRequestContext,
} from './errors.js';
import { XsOps, type XsCall } from './ops.js';
import { defaultConnector, type XsConnector, type XsTransport } from './transport.js';
import { XENSTORE_PAYLOAD_MAX, XS_TRANSACTION_ABORT, XS_TRANSACTION_COMMIT, XsType, xsTypeName } from './wire.js';

export interface XsWatchEvent {
  /** The path that changed (a child of `watchPath`, or `watchPath` itself). */
  path: string;
  /** The path the watch was set on. */
  watchPath: string;
  token: string;
  /**
   * True for the event the client fires itself after re-registering the watch
   * on a new connection: anything may have changed while it was away, re-read.
   */
  reconnect: boolean;
}

export type XsWatchListener = (event: XsWatchEvent) => void;

export interface XsWatch {
  readonly path: string;
  readonly token: string;
  /** Removes the watch; no more events for it. */
  unwatch(): Promise<void>;
}

export interface XsDisconnectedEvent {
  reason: string;
  error: Error | undefined;
  /** Requests that were waiting for replies and were rejected. */
  rejected: number;
}

export interface XsReconnectedEvent {
  /** From losing the old connection to having re-registered the watches. */
  downtimeMs: number;
  /** Connect attempts it took. */
  attempts: number;
  transport: string;
  /** Watch paths registered again (each then fires once with `reconnect: true`). */
  watches: string[];
  /** Watches xenstored refused on the new connection; they are dropped. */
  failedWatches: Array<{ path: string; error: XenstoreError }>;
}

/** Events, per the I/O contract in CONVENTIONS.md. */
export interface XenstoreClientEvents {
  watch: [XsWatchEvent];
  disconnected: [XsDisconnectedEvent];
  reconnected: [XsReconnectedEvent];
  /**
   * After a reconnect: writes made while the client was away fired no watch
   * here, so re-read what you track (each re-registered watch also fires once
   * with `reconnect: true`).
   */
  'resync-needed': [XsConnectionLostError];
  /** Something odd that was survived: a stray reply, a malformed event, a listener that threw. */
  warning: [XenstoreError];
  /** Reconnecting gave up after `maxAttempts`; the client is closed (then 'close' with that error). */
  'reconnect-failed': [XenstoreError];
  /** Once; `cause` is set when the client closed itself (reconnecting gave up). */
  close: [cause: Error | undefined];
}

export interface ReconnectOptions extends BackoffOptions {
  /** Attempts before giving up (then `reconnect-failed` and closed). Default: unlimited. */
  maxAttempts: number;
}

export interface XenstoreClientOptions {
  /** How to open a connection; default: xenstored's socket, else /dev/xen/xenbus. */
  connector?: XsConnector;
  /** Per-request timeout in ms (default 10000). */
  timeoutMs?: number;
  /**
   * Attempts `open()` makes to connect the first time, with the reconnect
   * backoff between them (default 5: about 0.75 s with the default backoff).
   */
  connectAttempts?: number;
  /** `false` to stay disconnected when xenstored goes away. */
  reconnect?: false | Partial<ReconnectOptions>;
  /** Attempts `transaction()` makes before giving up on EAGAIN (default 10). */
  transactionAttempts?: number;
}

interface SendResult {
  payload: Buffer;
  /** The connection the reply came on. */
  generation: number;
}

interface Pending {
  call: XsCall;
  txId: number;
  reqId: number;
  frame: Buffer;
  /** `performance.now()` at which the request times out. */
  deadline: number;
  /** Resolve with a `SendResult` (true) or with the payload alone (false: plain calls, no extra object or promise). */
  withGeneration: boolean;
  resolve(r: SendResult | Buffer): void;
  reject(err: Error): void;
}

interface WatchEntry {
  path: string;
  token: string;
  listener: XsWatchListener | undefined;
  /** Connection generation it is registered on; undefined while the WATCH is in flight. */
  generation: number | undefined;
}

interface Connection {
  transport: XsTransport;
  decoder: FrameDecoder;
  generation: number;
}

const UINT32_MAX = 0xffffffff;

function tooBigDetail(len: number): string {
  return `request payload of ${len} bytes exceeds ${XENSTORE_PAYLOAD_MAX}; not sent`;
}

export class XenstoreClient extends XsOps {
  private readonly events = new EventEmitter<XenstoreClientEvents>();
  private readonly connector: XsConnector;
  private readonly timeoutMs: number;
  private readonly reconnectOpts: ReconnectOptions | false;
  private readonly transactionAttempts: number;

  private conn: Connection | undefined;
  private generation = 0;
  private closed = false;
  private nextReqId = 1;
  private tokenSeq = 0;
  private readonly inflight = new Map<number, Pending>();
  private readonly queued: Pending[] = [];
  private readonly watches = new Map<string, WatchEntry>();

  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * One timer for every request's timeout, armed for the oldest deadline (all
   * requests have the same timeout, so later ones never need it earlier). It
   * is left armed when requests complete and only unref'd while nothing is
   * pending: a per-request setTimeout/clearTimeout pair cost a Timeout object,
   * a clock read and, with one request at a time, a timer list created and
   * destroyed on every round trip.
   */
  private deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  private deadlineTimerRefed = false;
  private reconnectAttempts = 0;
  private disconnectedAt = 0;

  private constructor(options: XenstoreClientOptions) {
    super();
    this.connector = options.connector ?? defaultConnector();
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.reconnectOpts =
      options.reconnect === false ? false : { ...DEFAULT_BACKOFF, maxAttempts: Infinity, ...(options.reconnect ?? {}) };
    this.transactionAttempts = Math.max(1, options.transactionAttempts ?? 10);
  }

  /**
   * Connects and returns the client. A refused or absent xenstored is tried
   * again (`connectAttempts`, with the reconnect backoff) before the one
   * `XsConnectError` that says how many attempts were made.
   */
  static async open(options: XenstoreClientOptions = {}): Promise<XenstoreClient> {
    const client = new XenstoreClient(options);
    const attempts = Math.max(1, options.connectAttempts ?? 5);
    const backoff = client.reconnectOpts === false ? DEFAULT_BACKOFF : client.reconnectOpts;
    for (let attempt = 1; ; attempt++) {
      try {
        client.attach(await client.connector());
        return client;
      } catch (err) {
        if (attempt >= attempts) {
          if (err instanceof XsConnectError) throw new XsConnectError(err.tried, { cause: err }, attempt);
          throw err instanceof XenstoreError ? err : new XsConnectError([String(err)], { cause: err }, attempt);
        }
        await new Promise((r) => setTimeout(r, backoffDelay(attempt, backoff)));
      }
    }
  }

  // ---- events ----

  on<K extends keyof XenstoreClientEvents>(event: K, listener: (...args: XenstoreClientEvents[K]) => void): this {
    this.events.on(event, listener as never);
    return this;
  }

  once<K extends keyof XenstoreClientEvents>(event: K, listener: (...args: XenstoreClientEvents[K]) => void): this {
    this.events.once(event, listener as never);
    return this;
  }

  off<K extends keyof XenstoreClientEvents>(event: K, listener: (...args: XenstoreClientEvents[K]) => void): this {
    this.events.off(event, listener as never);
    return this;
  }

  /** Emits without letting a throwing listener reach the socket's data handler. */
  private emit<K extends keyof XenstoreClientEvents>(event: K, ...args: XenstoreClientEvents[K]): void {
    try {
      (this.events.emit as (e: string, ...a: unknown[]) => boolean).call(this.events, event, ...args);
    } catch (err) {
      if (event !== 'warning') this.warn(new XenstoreError(`a '${event}' listener threw: ${String(err)}`, {}, { cause: err }));
    }
  }

  private warn(err: XenstoreError): void {
    this.emit('warning', err);
  }

  /** True while a connection is up. */
  get connected(): boolean {
    return this.conn !== undefined;
  }

  /** Requests sent and not yet answered (for tests and metrics). */
  get inflightCount(): number {
    return this.inflight.size;
  }

  // ---- requests ----

  protected call(req: XsCall): Promise<Buffer> {
    return this.request(req, 0, undefined, false) as Promise<Buffer>;
  }

  /** `call()` that also says which connection answered (for watches and transactions). */
  private send(call: XsCall, txId: number, generation: number | undefined): Promise<SendResult> {
    return this.request(call, txId, generation, true) as Promise<SendResult>;
  }

  /**
   * Encodes and sends (or queues, while reconnecting) one request. A request
   * in a transaction (`txId` ≠ 0) is only valid on the connection that
   * started it (`generation`).
   */
  private request(call: XsCall, txId: number, generation: number | undefined, withGeneration: boolean): Promise<SendResult | Buffer> {
    if (this.closed) return Promise.reject(new XsClosedError(call.ctx));
    if (txId !== 0 && (this.conn === undefined || this.conn.generation !== generation)) {
      return Promise.reject(
        new XsConnectionLostError('the transaction was started on a connection that has since closed', call.ctx),
      );
    }
    if (!this.conn && this.reconnectOpts === false) {
      return Promise.reject(new XsConnectionLostError('not connected, and reconnecting is off', call.ctx));
    }
    let frame: Buffer;
    const reqId = this.allocReqId();
    try {
      frame = encodeRequest(call.type, reqId, txId, call.parts, call.lastBare ?? false, call.ctx, tooBigDetail);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      const p: Pending = { call, txId, reqId, frame, deadline: performance.now() + this.timeoutMs, withGeneration, resolve, reject };
      this.armDeadlineTimer();
      if (this.conn) this.transmit(this.conn, p);
      else this.queued.push(p);
    });
  }

  private armDeadlineTimer(): void {
    if (this.deadlineTimer === undefined) {
      this.deadlineTimer = setTimeout(this.onDeadline, this.timeoutMs);
      this.deadlineTimerRefed = true;
    } else if (!this.deadlineTimerRefed) {
      this.deadlineTimer.ref();
      this.deadlineTimerRefed = true;
    }
  }

  /** Rejects every request past its deadline, then re-arms for the oldest left. */
  private readonly onDeadline = (): void => {
    this.deadlineTimer = undefined;
    this.deadlineTimerRefed = false;
    const now = performance.now();
    const expired: Pending[] = [];
    let next = Infinity;
    for (const list of [this.inflight.values(), this.queued]) {
      for (const p of list) {
        if (p.deadline <= now) expired.push(p);
        else if (p.deadline < next) next = p.deadline;
      }
    }
    for (const p of expired) {
      this.inflight.delete(p.reqId);
      const qi = this.queued.indexOf(p);
      if (qi >= 0) this.queued.splice(qi, 1);
      p.reject(new XsTimeoutError(this.timeoutMs, p.call.ctx));
    }
    if (next !== Infinity && !this.closed) {
      this.deadlineTimer = setTimeout(this.onDeadline, Math.max(1, Math.ceil(next - now)));
      this.deadlineTimerRefed = true;
    }
  };

  /** Nothing pending: the deadline timer must not keep the process alive. */
  private idleDeadlineTimer(): void {
    if (this.deadlineTimerRefed && this.inflight.size === 0 && this.queued.length === 0) {
      this.deadlineTimer?.unref();
      this.deadlineTimerRefed = false;
    }
  }

  private transmit(conn: Connection, p: Pending): void {
    this.inflight.set(p.reqId, p);
    conn.transport.send(p.frame);
  }

  private allocReqId(): number {
    // req_id 0 is what xenstored puts on watch events; skip it and ids in use.
    for (;;) {
      const id = this.nextReqId;
      this.nextReqId = id >= UINT32_MAX ? 1 : id + 1;
      if (!this.inflight.has(id) && !this.queued.some((p) => p.reqId === id)) return id;
    }
  }

  private settle(p: Pending): void {
    this.inflight.delete(p.reqId);
    this.idleDeadlineTimer();
  }

  // ---- connection ----

  private attach(transport: XsTransport): void {
    const conn: Connection = { transport, decoder: new FrameDecoder(), generation: ++this.generation };
    this.conn = conn;
    transport.start({
      data: (chunk) => this.onData(conn, chunk),
      close: (reason, error) => this.onClose(conn, reason, error),
    });
    if (this.conn !== conn) return; // closed during start
    for (const p of this.queued.splice(0)) this.transmit(conn, p);
  }

  private onData(conn: Connection, chunk: Buffer): void {
    if (this.conn !== conn) return;
    let frames: XsFrame[];
    try {
      frames = conn.decoder.push(chunk);
    } catch (err) {
      frames = [];
    }
    for (const f of frames) {
      this.onFrame(f);
      if (this.conn !== conn) return;
    }
    const error = conn.decoder.error;
    if (error) {
      // Out of sync: nothing after this header can be trusted. Fail what waits, reconnect.
      for (const p of [...this.inflight.values()]) {
        this.settle(p);
        p.reject(new XsProtocolError(error.fault, error.message, p.call.ctx, { cause: error }));
      }
      conn.transport.close();
    }
  }

  private onFrame(f: XsFrame): void {
    if (f.type === XsType.WATCH_EVENT) return this.onWatchEvent(f);
    const p = this.inflight.get(f.reqId);
    if (!p) {
      this.warn(new XsProtocolError('unexpected-reply', `${xsTypeName(f.type)} reply with req_id ${f.reqId} matches no request; ignored (it may have timed out)`));
      return;
    }
    this.settle(p);
    if (f.type === XsType.ERROR) {
      let name: string;
      try {
        name = decodeStrings(f.payload, p.call.ctx)[0] ?? '';
      } catch (err) {
        return p.reject(err as Error);
      }
      return p.reject(xsErrnoErrorFor(name, p.call.ctx));
    }
    if (f.type !== p.call.type) {
      return p.reject(
        new XsProtocolError('unexpected-reply', `${p.call.ctx.op ?? 'request'} got a ${xsTypeName(f.type)} reply`, p.call.ctx),
      );
    }
    p.resolve(p.withGeneration ? { payload: f.payload, generation: this.generation } : f.payload);
  }

  private onWatchEvent(f: XsFrame): void {
    let ev: { path: string; token: string };
    try {
      ev = decodeWatchEvent(f.payload);
    } catch (err) {
      this.warn(err instanceof XenstoreError ? err : new XenstoreError(String(err)));
      return;
    }
    const w = this.watches.get(ev.token);
    if (!w) return; // unwatched meanwhile, or not ours
    this.deliver(w, { path: ev.path, watchPath: w.path, token: w.token, reconnect: false });
  }

  private deliver(w: WatchEntry, ev: XsWatchEvent): void {
    if (w.listener) {
      try {
        w.listener(ev);
      } catch (err) {
        this.warn(new XenstoreError(`watch listener for ${w.path} threw: ${String(err)}`, { path: w.path }, { cause: err }));
      }
    }
    this.emit('watch', ev);
  }

  private onClose(conn: Connection, reason: string, error: Error | undefined): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    const partial = conn.decoder.error ? 0 : conn.decoder.pendingBytes;
    const cause =
      partial > 0 ? new XsProtocolError('truncated', `connection ended ${partial} bytes into a frame`, {}, { cause: error }) : error;
    const why = partial > 0 ? `${reason}, ${partial} bytes into a reply` : reason;
    const pending = [...this.inflight.values()];
    for (const p of pending) {
      this.settle(p);
      p.reject(new XsConnectionLostError(why, p.call.ctx, { cause }));
    }
    if (this.closed) return;
    this.disconnectedAt = Date.now();
    this.reconnectAttempts = 0;
    this.emit('disconnected', { reason: why, error: cause, rejected: pending.length });
    if (this.reconnectOpts === false) {
      for (const p of this.queued.splice(0)) {
        this.settle(p);
        p.reject(new XsConnectionLostError(why, p.call.ctx, { cause }));
      }
      return;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const opts = this.reconnectOpts;
    if (opts === false || this.closed) return;
    const attempt = ++this.reconnectAttempts;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.tryReconnect(attempt, opts);
    }, backoffDelay(attempt, opts));
  }

  private async tryReconnect(attempt: number, opts: ReconnectOptions): Promise<void> {
    let transport: XsTransport;
    try {
      transport = await this.connector();
    } catch (err) {
      if (this.closed) return;
      if (attempt >= opts.maxAttempts) {
        const e = err instanceof XenstoreError ? err : new XenstoreError(`reconnect failed: ${String(err)}`, {}, { cause: err });
        this.emit('reconnect-failed', e);
        this.closeWith(e);
        return;
      }
      this.scheduleReconnect();
      return;
    }
    if (this.closed) {
      transport.close();
      return;
    }
    this.attach(transport);
    const conn = this.conn;
    if (!conn) return; // dropped at once; onClose scheduled the next attempt
    await this.rewatch(conn, attempt);
  }

  /** Registers again every watch of the previous connection, then reports the gap. */
  private async rewatch(conn: Connection, attempts: number): Promise<void> {
    const stale = [...this.watches.values()].filter((w) => w.generation !== undefined && w.generation !== conn.generation);
    const results = await Promise.allSettled(
      stale.map((w) => this.send({ type: XsType.WATCH, parts: [w.path, w.token], ctx: this.ctx(XsType.WATCH, w.path) }, 0, undefined)),
    );
    if (this.conn !== conn) return; // lost again: the next connection redoes this
    const ok: WatchEntry[] = [];
    const failed: Array<{ path: string; error: XenstoreError }> = [];
    results.forEach((r, i) => {
      const w = stale[i];
      if (!w || this.watches.get(w.token) !== w) return; // unwatched meanwhile
      if (r.status === 'fulfilled' || r.reason instanceof XsExistsError) {
        w.generation = conn.generation;
        ok.push(w);
      } else if (r.reason instanceof XsErrnoError) {
        this.watches.delete(w.token);
        failed.push({ path: w.path, error: r.reason });
      } else {
        // Timeout or the like: keep it for the next connection, report it now.
        failed.push({ path: w.path, error: r.reason instanceof XenstoreError ? r.reason : new XenstoreError(String(r.reason)) });
      }
    });
    const downtimeMs = Date.now() - this.disconnectedAt;
    this.emit('reconnected', {
      downtimeMs,
      attempts,
      transport: conn.transport.name,
      watches: ok.map((w) => w.path),
      failedWatches: failed,
    });
    this.emit('resync-needed', new XsConnectionLostError(`reconnected after ${downtimeMs} ms; watch events of that time are lost`));
    for (const w of ok) {
      if (this.watches.get(w.token) === w) this.deliver(w, { path: w.path, watchPath: w.path, token: w.token, reconnect: true });
    }
  }

  /**
   * Closes the connection and stops reconnecting. Everything pending or
   * queued is rejected with `XsClosedError`. Idempotent.
   */
  async close(): Promise<void> {
    this.closeWith(undefined);
  }

  private closeWith(cause: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    if (this.deadlineTimer !== undefined) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    this.deadlineTimerRefed = false;
    for (const p of [...this.inflight.values(), ...this.queued.splice(0)]) {
      this.settle(p);
      p.reject(new XsClosedError(p.call.ctx));
    }
    this.watches.clear();
    const conn = this.conn;
    this.conn = undefined;
    conn?.transport.close();
    this.emit('close', cause);
  }

  // ---- watches ----

  /**
   * Watches `path` (or a special path such as `@releaseDomain`). xenstored
   * fires the watch once right after registering it, then on every change at
   * or under the path. Events go to `listener` and to the client's `watch`
   * event.
   */
  async watch(path: string, listener?: XsWatchListener): Promise<XsWatch> {
    const ctx = this.ctx(XsType.WATCH, path);
    checkWireString('path', path, ctx);
    const token = `vifq:${++this.tokenSeq}`;
    const entry: WatchEntry = { path, token, listener, generation: undefined };
    // Registered before sending: xenstored's first event may overtake our await.
    this.watches.set(token, entry);
    try {
      const r = await this.send({ type: XsType.WATCH, parts: [path, token], ctx }, 0, undefined);
      entry.generation = r.generation;
    } catch (err) {
      if (this.watches.get(token) === entry) this.watches.delete(token);
      throw err;
    }
    return { path, token, unwatch: () => this.unwatch(token) };
  }

  private async unwatch(token: string): Promise<void> {
    const entry = this.watches.get(token);
    if (!entry) return;
    this.watches.delete(token);
    if (!this.conn || entry.generation !== this.conn.generation) return; // xenstored no longer has it
    try {
      await this.send({ type: XsType.UNWATCH, parts: [entry.path, token], ctx: this.ctx(XsType.UNWATCH, entry.path) }, 0, undefined);
    } catch (err) {
      if (err instanceof XsNoEntryError || err instanceof XsConnectionLostError || err instanceof XsClosedError) return;
      throw err;
    }
  }

  /** Paths currently watched (for diagnostics). */
  watchedPaths(): string[] {
    return [...this.watches.values()].map((w) => w.path);
  }

  /** `XS_RESET_WATCHES`: drops every watch (and transaction) of this connection in xenstored and here. */
  async resetWatches(): Promise<void> {
    await this.call({ type: XsType.RESET_WATCHES, parts: [''], ctx: this.ctx(XsType.RESET_WATCHES) });
    this.watches.clear();
  }

  /** `XS_GET_DOMAIN_PATH`: `/local/domain/<domid>`. */
  async getDomainPath(domid: number): Promise<string> {
    const ctx = this.ctx(XsType.GET_DOMAIN_PATH);
    const [path] = decodeStrings(await this.call({ type: XsType.GET_DOMAIN_PATH, parts: [String(domid)], ctx }), ctx);
    if (path === undefined) throw new XsProtocolError('malformed', 'XS_GET_DOMAIN_PATH reply is empty', ctx);
    return path;
  }

  // ---- transactions ----

  /** Starts a transaction; prefer `transaction(fn)`, which retries conflicts. */
  async transactionStart(): Promise<XsTransaction> {
    const ctx = this.ctx(XsType.TRANSACTION_START);
    const r = await this.send({ type: XsType.TRANSACTION_START, parts: [''], ctx }, 0, undefined);
    const [idText] = decodeStrings(r.payload, ctx);
    const id = idText !== undefined && /^[0-9]{1,10}$/.test(idText) ? Number(idText) : NaN;
    if (!(id > 0 && id <= UINT32_MAX)) {
      throw new XsProtocolError('malformed', `XS_TRANSACTION_START returned ${JSON.stringify(idText)}, not a transaction id`, ctx);
    }
    return new XsTransaction((call, txId) => this.request(call, txId, r.generation, false) as Promise<Buffer>, id);
  }

  /**
   * Runs `fn` in a transaction and commits it. On EAGAIN (another writer
   * committed first), or when the connection was lost before the commit was
   * sent, it starts over, up to `maxAttempts` (then `XsTransactionConflictError`).
   * `fn` must therefore have no effects outside the transaction. Any other
   * error from `fn` aborts the transaction and is rethrown.
   */
  async transaction<T>(fn: (tx: XsTransaction) => Promise<T>, options: { maxAttempts?: number } = {}): Promise<T> {
    const maxAttempts = Math.max(1, options.maxAttempts ?? this.transactionAttempts);
    let last: unknown;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const tx = await this.transactionStart();
      let result: T;
      try {
        result = await fn(tx);
      } catch (err) {
        await tx.abort().catch(() => undefined);
        if (retryable(err)) {
          last = err;
          continue;
        }
        throw err;
      }
      try {
        await tx.commit();
        return result;
      } catch (err) {
        if (err instanceof XsAgainError) {
          last = err;
          continue;
        }
        throw err; // a connection lost during the commit leaves its outcome unknown: the caller must re-read
      }
    }
    throw new XsTransactionConflictError(maxAttempts, { cause: last });
  }
}

function retryable(err: unknown): boolean {
  return err instanceof XsAgainError || (err instanceof XsConnectionLostError && err.op !== 'XS_TRANSACTION_END');
}

type TxSend = (call: XsCall, txId: number) => Promise<Buffer>;

/** Operations inside one transaction; end it with `commit()` or `abort()`. */
export class XsTransaction extends XsOps {
  private ended = false;

  constructor(
    private readonly sendFn: TxSend,
    /** The tx_id xenstored allocated. */
    readonly id: number,
  ) {
    super();
  }

  protected call(req: XsCall): Promise<Buffer> {
    if (this.ended) {
      return Promise.reject(new XenstoreError(`${req.ctx.op ?? 'request'} used transaction ${this.id} after it ended`, req.ctx, {
        hint: 'start a new transaction',
      }));
    }
    return this.sendFn(req, this.id);
  }

  /** Commits; rejects with `XsAgainError` if another writer got there first. */
  commit(): Promise<void> {
    return this.end(XS_TRANSACTION_COMMIT);
  }

  /** Discards the transaction's writes. */
  abort(): Promise<void> {
    return this.end(XS_TRANSACTION_ABORT);
  }

  private async end(how: string): Promise<void> {
    const ctx: XsRequestContext = { op: xsTypeName(XsType.TRANSACTION_END) };
    if (this.ended) return;
    const done = this.call({ type: XsType.TRANSACTION_END, parts: [how], ctx });
    this.ended = true;
    await done;
  }
}
