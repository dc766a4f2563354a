import { NetlinkBaseError } from '../netlink/errors.js';

/** The generic netlink family is not registered in this kernel. */
export class FamilyNotFoundError extends NetlinkBaseError {
  readonly family: string;
  constructor(family: string, hint?: string) {
    super(`generic netlink family "${family}" is not registered in the running kernel`, {
      hint: hint ?? `is the module providing "${family}" loaded? (lsmod; modprobe it)`,
      exitCode: 3,
    });
    this.family = family;
  }
}

/** A YNL spec is malformed or uses a feature this codec does not implement. */
export class YnlSpecError extends NetlinkBaseError {
  constructor(spec: string, problem: string) {
    super(`netlink spec ${spec}: ${problem}`, { hint: 'fix the YAML spec (see Documentation/netlink/genetlink-legacy.rst)' });
  }
}

