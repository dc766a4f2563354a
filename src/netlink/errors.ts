import { constants as osConstants } from 'node:os';
import { VifqError } from '../errors.js';

const errnoNames = new Map<number, string>(
  Object.entries(osConstants.errno).map(([name, num]) => [num, name]),
);

/** `ENOENT` for 2, `errno 4095` for what the platform does not name. */
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `errno ${errno}`;
}

/**
 * Root of every error the netlink layers raise (src/netlink/, and src/genl/ above it):
 * `catch (e) { if (e instanceof NetlinkBaseError) ... }` catches them all.
 */
export class NetlinkBaseError extends VifqError {}

/** Extended ACK: what the kernel said about a failed (or warned) request. */
export interface ExtAck {
  /** NLMSGERR_ATTR_MSG */
  message?: string;
  /** NLMSGERR_ATTR_OFFS: byte offset of the offending attribute in the request */
  offset?: number;
  /** NLMSGERR_ATTR_MISS_TYPE: attribute type the kernel wanted and did not get */
  missingType?: number;
  /** NLMSGERR_ATTR_MISS_NEST: offset of the nest that lacked it */
  missingNest?: number;
  /** NLMSGERR_ATTR_COOKIE */
  cookie?: Buffer;
  /** NLMSGERR_ATTR_POLICY, raw (a nested policy description) */
  policy?: Buffer;
}

/**
 * The kernel answered a request with a negative error code.
 * `errno` is positive (ENOENT = 2); `extack` is what the kernel explained.
 */
export class NetlinkError extends NetlinkBaseError {
  readonly errno: number;
  readonly code: string;
  readonly extack: ExtAck;
  readonly request: string;

  constructor(request: string, errno: number, extack: ExtAck = {}, hint?: string) {
    const code = errnoName(errno);
    const why = extack.message ? `: ${extack.message}` : '';
    const where = extack.offset !== undefined ? ` (attribute at byte ${extack.offset})` : '';
    const missing = extack.missingType !== undefined ? ` (missing attribute type ${extack.missingType})` : '';
    super(`${request} failed with ${code}${why}${where}${missing}`, hint === undefined ? {} : { hint });
    this.errno = errno;
    this.code = code;
    this.extack = extack;
    this.request = request;
  }
}

/** A request got no complete answer within its deadline. */
export class NetlinkTimeoutError extends NetlinkBaseError {
  constructor(request: string, timeoutMs: number) {
    super(`${request} got no answer from the kernel within ${timeoutMs} ms`, {
      hint: 'the kernel side may be stuck or the message was lost; retry, and check dmesg',
    });
  }
}

/** The connection closed (or failed) while a request was pending, or was used after close. */
export class NetlinkClosedError extends NetlinkBaseError {
  constructor(what: string, cause?: unknown) {
    super(`${what}: the netlink socket is closed`, { cause, hint: 'open a new connection' });
  }
}

/** Bytes from the kernel (or a test) that do not parse: truncated, bad lengths, bad UTF-8... */
export class NetlinkDecodeError extends NetlinkBaseError {
  readonly path: string;
  constructor(path: string, problem: string) {
    super(`cannot decode netlink data at ${path}: ${problem}`, {
      hint: 'the kernel and the spec disagree, or the message is corrupt; check the family version',
    });
    this.path = path;
  }
}

/** A value cannot be encoded as the spec says (type, range, unknown attribute name...). */
export class NetlinkEncodeError extends NetlinkBaseError {
  readonly path: string;
  constructor(path: string, problem: string) {
    super(`cannot encode ${path}: ${problem}`);
    this.path = path;
  }
}

/** An event listener threw; the event source survived it and reports it as a 'warning'. */
export class NetlinkListenerError extends NetlinkBaseError {
  constructor(what: string, cause: unknown) {
    super(`a ${what} listener threw: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause, hint: 'fix the listener: the event it threw on was not processed further',
    });
  }
}

/** The receive queue overflowed (ENOBUFS): some notifications were lost. Emitted, never thrown. */
export class NetlinkOverrunError extends NetlinkBaseError {
  constructor(what: string) {
    super(`${what}: netlink receive buffer overrun, notifications were lost`, {
      hint: 're-synchronise with a dump',
    });
  }
}

/** A dump was interrupted (NLM_F_DUMP_INTR): the kernel's table changed while it was being dumped. */
export class NetlinkDumpInterruptedError extends NetlinkBaseError {
  constructor(request: string) {
    super(`${request}: the dump was interrupted by a concurrent change`, { hint: 'repeat the dump' });
  }
}

/** The transport cannot provide what was asked (no addon, no netns support...). */
export class NetlinkTransportError extends NetlinkBaseError {
  /** The system error's name (`EPERM`...) when a syscall failed, else undefined. */
  readonly code: string | undefined;
  constructor(message: string, hint?: string, cause?: unknown) {
    super(message, hint === undefined ? { cause } : { hint, cause });
    const code = (cause as { code?: unknown } | undefined)?.code;
    this.code = typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
  }
}
