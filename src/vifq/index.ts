export * from './generated.js';
export * from './types.js';
export * from './errors.js';
export * from './release.js';
export * from './events.js';
export * from './client.js';
