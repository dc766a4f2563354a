/**
 * Exit statuses of the `vifq` CLI that scripts can rely on. A typed error carries its own
 * (`VifqError.exitCode`); these are the ones in use.
 */
export const EXIT = {
  ok: 0,
  /** a check or an operation failed (the default of a VifqError) */
  failure: 1,
  /** bad usage: unknown flag, missing argument (oclif's parser) */
  usage: 2,
  /** the kernel side is missing or does not match: no vifq family, wrong family version */
  kernelMismatch: 3,
  /** the thing named does not exist (no such vif) */
  notFound: 4,
  /** an error vifq did not expect: a bug (sysexits EX_SOFTWARE) */
  internal: 70,
} as const;
