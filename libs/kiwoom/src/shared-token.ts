import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { patiently } from './redis-patience.js';

/** A token is replaced this long before its `expires_dt` (the official SDK's margin). */
export const REFRESH_MARGIN_MS = 10 * 60_000;
const LOCK_MS = 15_000;

export interface IssuedToken {
  token: string;
  /** epoch milliseconds */
  expiresAt: number;
}

/** A short, stable name for an app key in Redis keys (the key itself is a credential). */
export function appKeyId(appKey: string): string {
  return createHash('sha256').update(appKey).digest('hex').slice(0, 16);
}

// Deletes the token only if it is still the one the caller found refused.
const DELETE_IF_SAME = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/**
 * One token per app key for every replica. Issuing a token appears to invalidate the previous
 * one for the same app key, so replicas must never issue side by side: the token lives in Redis,
 * and the one replica holding the issuance lock issues while the others wait for its result.
 */
export class SharedToken {
  private readonly tokenKey: string;
  private readonly lockKey: string;

  constructor(
    private readonly redis: Redis,
    appKey: string,
    private readonly issue: () => Promise<IssuedToken>,
    private readonly now: () => number = Date.now,
  ) {
    const id = appKeyId(appKey);
    this.tokenKey = `kiwoom:token:${id}`;
    this.lockKey = `kiwoom:token-lock:${id}`;
  }

  /**
   * A valid token: the shared one, or a new one issued by exactly one replica. Redis is waited for
   * while it does not answer (see patiently): every step here is safe to repeat, the issuance lock
   * is recognised as ours if its taking timed out after all.
   */
  async get(): Promise<string> {
    const deadline = this.now() + 2 * LOCK_MS;
    for (;;) {
      const stored = await this.read();
      if (stored && stored.expiresAt - REFRESH_MARGIN_MS > this.now()) {
        return stored.token;
      }
      const owner = randomUUID();
      if (await this.lock(owner)) {
        try {
          // another replica may have finished issuing just before the lock was ours
          const again = await this.read();
          if (again && again.expiresAt - REFRESH_MARGIN_MS > this.now()) {
            return again.token;
          }
          const issued = await this.issue();
          const ttl = Math.max(1000, issued.expiresAt - this.now());
          await patiently(() => this.redis.set(this.tokenKey, JSON.stringify(issued), 'PX', ttl));
          return issued.token;
        } finally {
          // a release that cannot reach Redis is left to the lock's expiry (the token is issued)
          await patiently(() => this.redis.eval(DELETE_IF_SAME, 1, this.lockKey, owner)).catch(() => undefined);
        }
      }
      if (this.now() > deadline) {
        throw new Error('kiwoom: no token could be obtained (the issuing replica did not finish)');
      }
      await sleep(100);
    }
  }

  /**
   * The broker refused `token` (8005, HTTP 401): forget it, unless another replica already
   * replaced it, so that the next `get` issues a new one, once for everybody.
   */
  async refused(token: string): Promise<void> {
    const stored = await patiently(() => this.redis.get(this.tokenKey));
    if (stored && (JSON.parse(stored) as IssuedToken).token === token) {
      await patiently(() => this.redis.eval(DELETE_IF_SAME, 1, this.tokenKey, stored));
    }
  }

  /** Takes the issuance lock for `owner`; a SET whose answer was lost may have taken it already. */
  private lock(owner: string): Promise<boolean> {
    return patiently(
      async () =>
        (await this.redis.set(this.lockKey, owner, 'PX', LOCK_MS, 'NX')) === 'OK' ||
        (await this.redis.get(this.lockKey)) === owner,
    );
  }

  private async read(): Promise<IssuedToken | undefined> {
    const raw = await patiently(() => this.redis.get(this.tokenKey));
    return raw ? (JSON.parse(raw) as IssuedToken) : undefined;
  }
}
