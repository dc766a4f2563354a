/** Errors of the service's reconciler: what failed, for which vif, and what happens next. */
import { VifqError } from '../errors.js';

function describe(v: { ifindex: number; domid: number; handle: number }): string {
  return `vif ifindex ${v.ifindex} (domid ${v.domid}, handle ${v.handle})`;
}

function causeText(cause: unknown): string {
  if (cause instanceof VifqError) return cause.summary;
  if (cause instanceof Error) return cause.message;
  return String(cause);
}

/** A `vif-set` failed for another reason than a vanished vif; the vif stays dirty. */
export class VifSetFailedError extends VifqError {
  readonly ifindex: number;
  /** The kernel's errno when the cause carried one (EBUSY = 16, ...). */
  readonly errno: number | undefined;

  constructor(vif: { ifindex: number; domid: number; handle: number }, cause: unknown) {
    const errno = typeof (cause as { errno?: unknown } | null)?.errno === 'number'
      ? (cause as { errno: number }).errno : undefined;
    super(`setting the limits of ${describe(vif)} failed: ${causeText(cause)}; it is retried on the next pass`, {
      cause,
      hint: cause instanceof VifqError && cause.hint !== undefined
        ? cause.hint
        : 'nothing to do if the next pass succeeds; if it keeps failing, run `vifq doctor`',
    });
    this.ifindex = vif.ifindex;
    this.errno = errno;
  }
}

/** Re-reading the kernel's vifs (a resync) failed; no vif was set and the resync is retried. */
export class ResyncFailedError extends VifqError {
  constructor(cause: unknown) {
    super(`re-reading the kernel's vifs (vif-get dump) failed: ${causeText(cause)}; nothing was set, the resync is retried on the next pass`, {
      cause,
      hint: cause instanceof VifqError && cause.hint !== undefined
        ? cause.hint
        : 'check that the vifq module is loaded (`vifq doctor`)',
    });
  }
}
