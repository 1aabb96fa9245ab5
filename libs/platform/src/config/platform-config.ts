import type { ConfigOf } from './config-schema.js';
import type { commonConfigSchema } from './common-config.js';

export type CommonConfig = ConfigOf<typeof commonConfigSchema>;

/** Injection token of the service's validated configuration object. */
export const CONFIG = Symbol('stocklab:config');
