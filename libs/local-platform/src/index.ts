export * from './gateway.js';
export * from './provision.js';
export * from './launcher.js';
export * from './status.js';
