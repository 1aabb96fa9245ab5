export * from './ports.js';
export * from './replicas.js';
export * from './databases.js';
export * from './redis-server.js';
export * from './http.js';
export * from './s3-server.js';
export * from './readme.js';
export * from './tokens.js';
