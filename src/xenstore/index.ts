export * from './wire.js';
export * from './errors.js';
export * from './codec.js';
export * from './perms.js';
export * from './backoff.js';
export * from './transport.js';
export { XsOps, type XsCall } from './ops.js';
export * from './client.js';
