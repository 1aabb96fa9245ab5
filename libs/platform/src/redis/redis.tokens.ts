/** Injection token of the shared ioredis client. */
export const REDIS = Symbol('stocklab:redis');
