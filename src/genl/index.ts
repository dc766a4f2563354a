export * from './errors.js';
export * from './genl.js';
export * from './ynl-spec.js';
export * from './ynl-codec.js';
export * from './ynl-family.js';
