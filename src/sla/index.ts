/** SLA schema and trust rules: pure functions over nodes already read from xenstore. */
export * from './findings.js';
export * from './units.js';
export * from './trust.js';
export * from './schema.js';
export * from './sourced.js';
export * from './guest.js';
export * from './host.js';
export * from './effective.js';
export * from './format.js';
