import { Gauge, type Registry } from 'prom-client';
import type { RevocationStore } from '../auth/revocation-store.js';
import { readOnScrape } from './read-on-scrape.js';

/**
 * revocation_list_restored: 1 while this process finds the complete revocation list in Redis,
 * 0 while it does not. Read at every scrape from the same marker the JWT guard reads with each
 * token (RevocationStore), and 0 in every case in which the guard answers 503
 * REVOCATION_UNAVAILABLE: Redis lost its data and no auth replica has copied the list back from
 * PostgreSQL yet, or Redis does not answer this process (the guard cannot tell either then).
 * Every process of every service reports it: a process with another REDIS_URL or
 * REDIS_KEY_PREFIX, or cut off from Redis, sees a list of its own.
 */
export class RevocationMetrics {
  readonly restored: Gauge;

  constructor(registry: Registry, store: RevocationStore) {
    this.restored = new Gauge({
      name: 'revocation_list_restored',
      help: 'Whether this process finds the complete token revocation list in Redis (1) or not (0: Redis lost it and it is not restored yet, or Redis does not answer; tokens are refused with 503)',
      registers: [registry],
      collect: readOnScrape(
        () => store.isRestored(),
        (complete) => this.restored.set(complete ? 1 : 0),
        { onFailure: () => this.restored.set(0) },
      ),
    });
  }
}
