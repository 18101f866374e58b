export * from './revisions.js';
export * from './types.js';
export * from './values.js';
export * from './messages.js';
export * from './decoder.js';
export * from './encoder.js';
export * from './helpers.js';
