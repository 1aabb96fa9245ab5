import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { DomainError, RevocationStore } from '@stocklab/platform';

export interface ThrottleLimits {
  maxPerEmail: number;
  maxPerAddress: number;
  windowSeconds: number;
}

/**
 * Failed-login counters in Redis, per email and per client address, shared by every replica.
 * Once either reaches its limit, further attempts get 429 until the window ends.
 */
export class LoginThrottle {
  constructor(
    private readonly redis: Redis,
    private readonly limits: ThrottleLimits,
  ) {}

  private static keys(email: string, address: string): [string, string] {
    const emailDigest = createHash('sha256').update(email).digest('hex').slice(0, 32);
    return [`login-fail:email:${emailDigest}`, `login-fail:addr:${address}`];
  }

  async assertAllowed(email: string, address: string): Promise<void> {
    const [emailKey, addressKey] = LoginThrottle.keys(email, address);
    let results: [Error | null, unknown][] | null;
    try {
      results = await this.redis.multi().get(emailKey).pttl(emailKey).get(addressKey).pttl(addressKey).exec();
    } catch {
      throw RevocationStore.unavailable();
    }
    if (!results || results.some(([error]) => error)) {
      throw RevocationStore.unavailable();
    }
    const [emailCount, emailTtl, addressCount, addressTtl] = results.map(([, value]) => Number(value ?? 0));
    const blockedFor = Math.max(
      (emailCount ?? 0) >= this.limits.maxPerEmail ? (emailTtl ?? 0) : 0,
      (addressCount ?? 0) >= this.limits.maxPerAddress ? (addressTtl ?? 0) : 0,
    );
    if (blockedFor > 0) {
      const retryAfter = String(Math.max(1, Math.ceil(blockedFor / 1000)));
      throw new DomainError(429, 'TOO_MANY_LOGIN_ATTEMPTS', 'Too many failed logins; try again later', {
        'Retry-After': retryAfter,
      });
    }
  }

  async recordFailure(email: string, address: string): Promise<void> {
    const [emailKey, addressKey] = LoginThrottle.keys(email, address);
    const window = this.limits.windowSeconds;
    try {
      await this.redis
        .multi()
        .incr(emailKey)
        .expire(emailKey, window, 'NX')
        .incr(addressKey)
        .expire(addressKey, window, 'NX')
        .exec();
    } catch {
      throw RevocationStore.unavailable();
    }
  }

  async recordSuccess(email: string): Promise<void> {
    const [emailKey] = LoginThrottle.keys(email, '');
    await this.redis.del(emailKey).catch(() => undefined);
  }
}
