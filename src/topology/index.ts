export * from './rtnl.js';
export * from './topology.js';
export * from './errors.js';
