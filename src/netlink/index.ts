export * from './errors.js';
export * from './wire.js';
export * from './transport.js';
export * from './connection.js';
