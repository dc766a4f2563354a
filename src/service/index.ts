/** vifqd, the dom0 service. First slice: the reconciler (desired settings -> minimal vif-sets). */
export * from './errors.js';
export * from './reconcile.js';
export * from './apply.js';
export * from './reconciler.js';
export * from './log.js';
export * from './sources.js';
export * from './desired.js';
export * from './daemon.js';
export * from './metrics.js';
export * from './control-socket.js';
export * from './control-methods.js';
export * from './wiring.js';
