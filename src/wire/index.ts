export * from './errors.js';
export * from './frame.js';
