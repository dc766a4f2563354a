export * from './rtnl.js';
export * from './topology.js';
