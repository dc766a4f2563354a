/**
 * Constants of the xenstore wire protocol, from Xen's
 * `xen/include/public/io/xs_wire.h` and `docs/misc/xenstore.txt`.
 *
 * A message in either direction is a 16-byte header, four little-endian
 * uint32 `{type, req_id, tx_id, len}`, followed by `len` bytes of payload.
 */

/** `enum xsd_sockmsg_type`. Numbering is ABI: never reorder. */
export const XsType = {
  CONTROL: 0, // formerly XS_DEBUG
  DIRECTORY: 1,
  READ: 2,
  GET_PERMS: 3,
  WATCH: 4,
  UNWATCH: 5,
  TRANSACTION_START: 6,
  TRANSACTION_END: 7,
  INTRODUCE: 8,
  RELEASE: 9,
  GET_DOMAIN_PATH: 10,
  WRITE: 11,
  MKDIR: 12,
  RM: 13,
  SET_PERMS: 14,
  WATCH_EVENT: 15,
  ERROR: 16,
  IS_DOMAIN_INTRODUCED: 17,
  RESUME: 18,
  SET_TARGET: 19,
  // 20 was XS_RESTRICT, removed from Xen.
  RESET_WATCHES: 21,
  DIRECTORY_PART: 22,
  GET_FEATURE: 23,
  SET_FEATURE: 24,
  GET_QUOTA: 25,
  SET_QUOTA: 26,
  INVALID: 0xffff, // guaranteed to remain an invalid type
} as const;

export type XsTypeName = keyof typeof XsType;
export type XsTypeCode = (typeof XsType)[XsTypeName];

const typeNames = new Map<number, XsTypeName>(
  (Object.keys(XsType) as XsTypeName[]).map((name) => [XsType[name], name]),
);

/** `XS_READ` style name of a type code, or `type <n>` for unknown codes. */
export function xsTypeName(type: number): string {
  const name = typeNames.get(type);
  return name === undefined ? `type ${type}` : `XS_${name}`;
}

/** Size of `struct xsd_sockmsg`. */
export const XS_HEADER_SIZE = 16;

/** Largest payload either side may send (`XENSTORE_PAYLOAD_MAX`). xenstored kills a connection that exceeds it. */
export const XENSTORE_PAYLOAD_MAX = 4096;

/** Longest absolute path (`XENSTORE_ABS_PATH_MAX`). */
export const XENSTORE_ABS_PATH_MAX = 3072;

/** Longest relative path (`XENSTORE_REL_PATH_MAX`). */
export const XENSTORE_REL_PATH_MAX = 2048;

/** Default unix socket of a dom0 xenstored. Overridden by `XENSTORED_PATH`, as in libxenstore. */
export const XENSTORED_SOCKET_PATH = '/run/xenstored/socket';

/** The kernel's xenbus device, used when there is no socket (a driver domain, or xenstored in a stubdom). */
export const XENBUS_DEVICE_PATH = '/dev/xen/xenbus';

/**
 * Error names xenstored sends in an `XS_ERROR` reply (`xsd_errors[]` in
 * xs_wire.h, plus `EQUOTA`, which oxenstored sends when a quota is reached),
 * with the Linux errno for each. `EQUOTA` is not a Linux errno; we report it
 * with EDQUOT's number (122), the closest one.
 */
export const XS_ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  E2BIG: 7,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EBUSY: 16,
  EEXIST: 17,
  EISDIR: 21,
  EINVAL: 22,
  ENOSPC: 28,
  EROFS: 30,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  EISCONN: 106,
  EQUOTA: 122,
} as const;

export type XsErrorName = keyof typeof XS_ERRNO;

export function isXsErrorName(name: string): name is XsErrorName {
  return Object.prototype.hasOwnProperty.call(XS_ERRNO, name);
}

/** Transaction end payloads. */
export const XS_TRANSACTION_COMMIT = 'T';
export const XS_TRANSACTION_ABORT = 'F';
