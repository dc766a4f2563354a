/** vifqd, the dom0 service. First slice: the reconciler (desired settings -> minimal vif-sets). */
export * from './errors.js';
export * from './reconcile.js';
export * from './apply.js';
export * from './reconciler.js';
