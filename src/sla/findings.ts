/**
 * What SLA parsing found wrong with a node: returned, never thrown, so one bad
 * or hostile node costs the guest nothing but that node. The caller logs each
 * finding once (by `key`) and counts it; the default applies in its place.
 */
import { VifqError } from '../errors.js';

export type SlaFindingCode =
  /** Not owned by dom0, or writable by the guest (or by any domain, for host settings). */
  | 'untrusted-node'
  /** A directory the guest can write: it may delete the dom0 nodes below it. */
  | 'guest-writable-directory'
  /** A name the schema does not know (typo?). */
  | 'unknown-node'
  | 'empty-value'
  | 'not-utf8'
  | 'bad-syntax'
  | 'bad-unit'
  | 'out-of-range'
  | 'overflow';

export type SlaFindingSeverity = 'error' | 'warning';

/** Root of every SLA finding. `key` is stable across re-reads of the same bad node. */
export class SlaFinding extends VifqError {
  readonly code: SlaFindingCode;
  readonly path: string;
  readonly severity: SlaFindingSeverity;
  readonly key: string;

  constructor(code: SlaFindingCode, path: string, message: string, options: { hint: string; severity: SlaFindingSeverity; detail?: string }) {
    super(message, { hint: options.hint });
    this.code = code;
    this.path = path;
    this.severity = options.severity;
    this.key = `${code}:${path}:${options.detail ?? ''}`;
  }
}

/** The node is ignored because a guest could have written it. */
export class SlaUntrustedNodeFinding extends SlaFinding {
  readonly reason: string;

  constructor(path: string, reason: string) {
    super('untrusted-node', path, `ignored xenstore node ${path}: ${reason}; the default applies`, {
      severity: 'warning',
      detail: reason,
      hint: `if dom0 meant to set it, write it from dom0 and run \`xenstore-chmod ${path} n0\` (or \`vifq domain set\`, which does both)`,
    });
    this.reason = reason;
  }
}

/** A directory above SLA nodes that the guest may write, so it can delete them. */
export class SlaGuestWritableDirectoryFinding extends SlaFinding {
  constructor(path: string, guestDomid: number) {
    super('guest-writable-directory', path, `xenstore directory ${path} is writable by domain ${guestDomid}, which can delete the dom0 SLA nodes below it`, {
      severity: 'warning',
      hint: `run \`xenstore-chmod ${path} n0 r${guestDomid}\` from dom0`,
    });
  }
}

export class SlaUnknownNodeFinding extends SlaFinding {
  constructor(path: string, known: readonly string[]) {
    super('unknown-node', path, `unknown xenstore node ${path} ignored`, {
      severity: 'warning',
      hint: `the names known here are ${known.join(', ')}; check the spelling or remove it with \`xenstore-rm ${path}\``,
    });
  }
}

export type SlaValueProblemCode = Extract<SlaFindingCode, 'empty-value' | 'not-utf8' | 'bad-syntax' | 'bad-unit' | 'out-of-range' | 'overflow'>;

/** Why a value did not parse; `SlaValueFinding` adds the node's path. */
export interface SlaValueProblem {
  code: SlaValueProblemCode;
  message: string;
  hint: string;
}

/** A trusted node whose value is not valid: ignored, the default applies. */
export class SlaValueFinding extends SlaFinding {
  declare readonly code: SlaValueProblemCode;

  constructor(path: string, problem: SlaValueProblem) {
    super(problem.code, path, `invalid value of xenstore node ${path}: ${problem.message}; the default applies`, {
      severity: 'error',
      detail: problem.message,
      hint: `${problem.hint}, e.g. \`xenstore-write ${path} <value>\``,
    });
  }
}
