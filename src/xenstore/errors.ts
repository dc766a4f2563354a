import { VifqError } from '../errors.js';
import { XS_ERRNO, isXsErrorName, type XsErrorName } from './wire.js';

/** What a failed request was doing: shown in messages, kept for callers. */
export interface XsRequestContext {
  /** `XS_READ`, `XS_WRITE`, ... */
  op?: string;
  /** The path the request named, if any. */
  path?: string;
}

function where(ctx: XsRequestContext): string {
  if (ctx.op && ctx.path !== undefined) return `${ctx.op} ${ctx.path}`;
  return ctx.op ?? ctx.path ?? 'xenstore request';
}

type ErrorOptions = { hint?: string; cause?: unknown };

/** Root of every error the xenstore client raises. */
export class XenstoreError extends VifqError {
  readonly op: string | undefined;
  readonly path: string | undefined;

  constructor(message: string, ctx: XsRequestContext = {}, options: ErrorOptions = {}) {
    super(message, options);
    this.op = ctx.op;
    this.path = ctx.path;
  }
}

/** xenstored answered `XS_ERROR` (or the client refused a request xenstored would refuse). */
export class XsErrnoError extends XenstoreError {
  /** The error name as xenstored sent it: `ENOENT`, `EACCES`, ... */
  readonly code: string;
  /** The Linux errno for `code`, or undefined for a name xs_wire.h does not list. */
  readonly errno: number | undefined;

  constructor(code: string, ctx: XsRequestContext = {}, options: ErrorOptions & { detail?: string } = {}) {
    const detail = options.detail ? `: ${options.detail}` : '';
    super(`${where(ctx)} failed with ${code}${detail}`, ctx, options);
    this.code = code;
    this.errno = isXsErrorName(code) ? XS_ERRNO[code] : undefined;
  }
}

export class XsNoEntryError extends XsErrnoError {
  constructor(ctx: XsRequestContext = {}, options: ErrorOptions & { detail?: string } = {}) {
    super('ENOENT', ctx, { hint: 'the node does not exist; check the path or create it first', ...options });
  }
}

export class XsAccessError extends XsErrnoError {
  constructor(ctx: XsRequestContext = {}, options: ErrorOptions & { detail?: string } = {}) {
    super('EACCES', ctx, {
      hint: "this connection's domain may not access the node; check its permissions with getPerms",
      ...options,
    });
  }
}

export class XsAgainError extends XsErrnoError {
  constructor(ctx: XsRequestContext = {}, options: ErrorOptions & { detail?: string } = {}) {
    super('EAGAIN', ctx, { hint: 'another writer committed first; retry the whole transaction', ...options });
  }
}

/** The transaction helper gave up after its last attempt still hit EAGAIN. */
export class XsTransactionConflictError extends XsAgainError {
  readonly attempts: number;

  constructor(attempts: number, options: ErrorOptions = {}) {
    super(
      { op: 'XS_TRANSACTION_END' },
      {
        detail: `still conflicting after ${attempts} attempts`,
        hint: 'another writer keeps changing the same nodes; raise maxAttempts or find the busy writer',
        ...options,
      },
    );
    this.attempts = attempts;
  }
}

export class XsTooBigError extends XsErrnoError {
  constructor(ctx: XsRequestContext = {}, options: ErrorOptions & { detail?: string } = {}) {
    super('E2BIG', ctx, {
      hint: 'xenstore payloads are limited to 4096 bytes (XENSTORE_PAYLOAD_MAX); store less per node',
      ...options,
    });
  }
}

export class XsQuotaError extends XsErrnoError {
  constructor(ctx: XsRequestContext = {}, options: ErrorOptions & { detail?: string } = {}) {
    super('EQUOTA', ctx, { hint: "the domain reached one of xenstored's quotas (nodes, watches, transactions)", ...options });
  }
}

export class XsInvalidError extends XsErrnoError {
  constructor(ctx: XsRequestContext = {}, options: ErrorOptions & { detail?: string } = {}) {
    super('EINVAL', ctx, { hint: 'paths are absolute, use [A-Za-z0-9-/_@] and have no trailing or doubled slash', ...options });
  }
}

export class XsExistsError extends XsErrnoError {
  constructor(ctx: XsRequestContext = {}, options: ErrorOptions & { detail?: string } = {}) {
    super('EEXIST', ctx, options);
  }
}

/**
 * The typed error for an `XS_ERROR` reply payload such as `ENOENT` (oxenstored
 * may append `: detail`, which is kept in the message).
 */
export function xsErrnoErrorFor(payload: string, ctx: XsRequestContext = {}): XsErrnoError {
  const m = /^([A-Z0-9]+)(?::\s*(.*))?$/s.exec(payload);
  const code = m?.[1] ?? (payload === '' ? 'EUNKNOWN' : payload);
  const detail = m?.[2];
  const opts = detail ? { detail } : {};
  switch (code as XsErrorName) {
    case 'ENOENT':
      return new XsNoEntryError(ctx, opts);
    case 'EACCES':
      return new XsAccessError(ctx, opts);
    case 'EAGAIN':
      return new XsAgainError(ctx, opts);
    case 'E2BIG':
      return new XsTooBigError(ctx, opts);
    case 'EQUOTA':
      return new XsQuotaError(ctx, opts);
    case 'EINVAL':
      return new XsInvalidError(ctx, opts);
    case 'EEXIST':
      return new XsExistsError(ctx, opts);
    default:
      return new XsErrnoError(code, ctx, opts);
  }
}

export type XsProtocolFault =
  | 'oversize' // header len > XENSTORE_PAYLOAD_MAX
  | 'truncated' // connection ended inside a frame
  | 'encoding' // payload is not UTF-8
  | 'malformed' // payload does not have the shape its type requires
  | 'unexpected-reply'; // reply type does not match the request

/** xenstored (or whatever is on the other end) sent bytes that break the protocol. */
export class XsProtocolError extends XenstoreError {
  readonly fault: XsProtocolFault;

  constructor(fault: XsProtocolFault, message: string, ctx: XsRequestContext = {}, options: ErrorOptions = {}) {
    super(message, ctx, {
      hint: 'the peer is not a working xenstored or the stream lost sync; the client reconnects, retry the request',
      ...options,
    });
    this.fault = fault;
  }
}

/** A request got no reply within its timeout. */
export class XsTimeoutError extends XenstoreError {
  readonly timeoutMs: number;

  constructor(timeoutMs: number, ctx: XsRequestContext = {}) {
    super(`${where(ctx)} got no reply from xenstored within ${timeoutMs} ms`, ctx, {
      hint: 'check that xenstored is running and not stuck (xenstore-ls /local/domain/0)',
    });
    this.timeoutMs = timeoutMs;
  }
}

/** The connection to xenstored ended while the request was waiting for its reply. */
export class XsConnectionLostError extends XenstoreError {
  constructor(reason: string, ctx: XsRequestContext = {}, options: ErrorOptions = {}) {
    super(`${where(ctx)} lost its xenstored connection (${reason})`, ctx, {
      hint: 'the client reconnects by itself; whether a write took effect is unknown, so re-read before retrying',
      ...options,
    });
  }
}

/** The client was closed by its owner; nothing more will be sent. */
export class XsClosedError extends XenstoreError {
  constructor(ctx: XsRequestContext = {}) {
    super(`${where(ctx)} was cancelled because the xenstore client was closed`, ctx, {
      hint: 'open a new client with XenstoreClient.open()',
    });
  }
}

/** No xenstored could be reached at all. */
export class XsConnectError extends XenstoreError {
  readonly tried: readonly string[];
  readonly attempts: number;

  constructor(tried: readonly string[], options: ErrorOptions = {}, attempts = 1) {
    super(`cannot connect to xenstored (tried ${tried.join(', ') || 'nothing'}${attempts > 1 ? `; ${attempts} attempts` : ''})`, {}, {
      hint: 'run in dom0 as root with xenstored running, or set XENSTORED_PATH to its socket',
      ...options,
    });
    this.tried = tried;
    this.attempts = attempts;
  }
}
