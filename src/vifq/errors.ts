/**
 * Errors of the typed vifq client. Each names the family version this client speaks
 * (from the spec it was generated from) and what to do: the product-specific advice
 * (`vifq doctor`) lives here, not in the generic genl layer.
 */
import { VifqError } from '../errors.js';
import { VIFQ_FAMILY } from './generated.js';

const NEEDS = `this vifq needs the "${VIFQ_FAMILY.name}" generic netlink family, version ${VIFQ_FAMILY.version} or later`;

/** Exit status of the CLI when the kernel side is missing or does not match. */
export const EXIT_KERNEL_MISMATCH = 3;

/** The vifq family is not registered: the module is not loaded, or is the stock xen-netback. */
export class VifqUnavailableError extends VifqError {
  constructor(cause?: unknown) {
    super(`the vifq generic netlink family is not registered in the running kernel (${NEEDS})`, {
      cause,
      hint: 'load the vifq build of xen-netback (dkms status; modprobe xen-netback), then run `vifq doctor`',
      exitCode: EXIT_KERNEL_MISMATCH,
    });
  }
}

/** The kernel's vifq family is older than the one this client was generated from. */
export class VifqVersionError extends VifqError {
  readonly kernelVersion: number;
  readonly neededVersion: number = VIFQ_FAMILY.version;

  constructor(kernelVersion: number) {
    super(`the running kernel's vifq family is version ${kernelVersion}; ${NEEDS}`, {
      hint: 'install the xen-netback vifq module that matches this vifq (dkms install), then run `vifq doctor`',
      exitCode: EXIT_KERNEL_MISMATCH,
    });
    this.kernelVersion = kernelVersion;
  }
}

/** No vif matches the selector (the kernel said ENOENT). */
export class VifNotFoundError extends VifqError {
  readonly selector: string;

  constructor(selector: string, cause?: unknown) {
    super(`no vif with ${selector} in the running kernel`, {
      cause,
      hint: 'list the vifs with `vifq limits`; a vif exists only while its guest runs',
      exitCode: 4,
    });
    this.selector = selector;
  }
}

/** The notification iterator fell too far behind; the oldest events were dropped. */
export class VifqSlowConsumerError extends VifqError {
  constructor(dropped: number, limit: number) {
    super(`${dropped} vifq events were dropped: the consumer was more than ${limit} events behind`, {
      hint: 're-read the state (listVifs) and consume events faster, or raise maxQueuedEvents',
    });
  }
}

/** The vifq family went away or came back (module unloaded or reloaded). */
export class VifqFamilyChangedError extends VifqError {
  constructor(what: 'gone' | 'new', id: number, version: number) {
    super(what === 'gone'
      ? `the vifq family (id ${id}) was unregistered: the module was unloaded`
      : `the vifq family was registered again (id ${id}, version ${version}): the module was reloaded`, {
      hint: what === 'gone' ? 'requests fail until the module is loaded again' : 're-read the state: limits and counters started over',
    });
  }
}
