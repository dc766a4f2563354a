/** The vifq policy: pure functions from uplinks, vifs, SLAs and reports to kernel settings. */
export * from './types.js';
export * from './state.js';
export * from './config.js';
export * from './errors.js';
export * from './line-rate.js';
export * from './budget.js';
export * from './split.js';
export * from './feedback.js';
export * from './adapt.js';
export * from './policy.js';
