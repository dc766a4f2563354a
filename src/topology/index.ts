export * from './rtnl.js';
export * from './tc.js';
export * from './line-rate.js';
export * from './placement.js';
export * from './topology.js';
export * from './errors.js';
