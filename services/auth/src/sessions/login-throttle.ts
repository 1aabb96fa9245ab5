import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { DomainError, RevocationStore } from '@stocklab/platform';

export interface ThrottleLimits {
  maxPerEmail: number;
  maxPerAddress: number;
  windowSeconds: number;
}

/**
 * Checks both counters and, when neither is at its limit, counts the attempt against the
 * email's, in one step: N simultaneous attempts at one account (on any replicas) can never all
 * pass a check made before any of them was counted. The address counter only counts failures
 * (after the verdict): many people behind one address logging in at the same moment must not
 * be refused for each other's attempts in flight. Answers 0 when the attempt is reserved, else
 * the milliseconds until the blocking counter's window ends.
 * The account's lock doubles with every lock within a day (exponential back-off, reset by a
 * correct password); the address counter is a coarse cap (a NAT or an office shares an address).
 * KEYS: email counter, address counter, email lock level; ARGV: the two limits, the window (s).
 */
const RESERVE = `
local window = tonumber(ARGV[3])
local blocked = 0
for i = 1, 2 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') >= tonumber(ARGV[i]) then
    local ttl = redis.call('PTTL', KEYS[i])
    if ttl < 0 then
      redis.call('EXPIRE', KEYS[i], window)
      ttl = window * 1000
    end
    blocked = math.max(blocked, ttl)
  end
end
if blocked > 0 then
  return blocked
end
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], window, 'NX')
if n >= tonumber(ARGV[1]) then
  -- the account's last allowed attempt: its lock lasts the window, doubled for each lock within a day
  local level = redis.call('INCR', KEYS[3])
  redis.call('EXPIRE', KEYS[3], 86400)
  redis.call('EXPIRE', KEYS[1], math.min(window * 2 ^ (level - 1), 86400))
end
return 0
`;

/** Gives back an attempt reserved on a counter (never below 0). */
const RELEASE = `
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then
  redis.call('DECR', KEYS[1])
end
return 0
`;

/**
 * Failed-login counters in Redis, per email and per client address, shared by every replica.
 * Every attempt is counted against its email before its password is verified (`reserve`); a
 * wrong password then also counts against the address (`failed`), a correct one clears the
 * email's failures (`succeeded`), and an attempt that could not be judged is given back
 * (`abandoned`). Once either counter reaches its limit, further attempts get 429 until the
 * window ends: however many attempts at one account are sent at once, at most the limit of them
 * get their password verified.
 */
export class LoginThrottle {
  constructor(
    private readonly redis: Redis,
    private readonly limits: ThrottleLimits,
  ) {}

  private static keys(email: string, address: string): [string, string, string] {
    const emailDigest = createHash('sha256').update(email).digest('hex').slice(0, 32);
    return [`login-fail:email:${emailDigest}`, `login-fail:addr:${address}`, `login-lock-level:${emailDigest}`];
  }

  /** Counts this attempt as a failure unless a limit is already reached (then 429). */
  async reserve(email: string, address: string): Promise<void> {
    const [emailKey, addressKey, levelKey] = LoginThrottle.keys(email, address);
    let blockedFor: number;
    try {
      blockedFor = Number(
        await this.redis.eval(
          RESERVE,
          3,
          emailKey,
          addressKey,
          levelKey,
          this.limits.maxPerEmail,
          this.limits.maxPerAddress,
          this.limits.windowSeconds,
        ),
      );
    } catch {
      throw RevocationStore.unavailable();
    }
    if (blockedFor > 0) {
      const retryAfter = String(Math.max(1, Math.ceil(blockedFor / 1000)));
      throw new DomainError(429, 'TOO_MANY_LOGIN_ATTEMPTS', 'Too many failed logins; try again later', {
        'Retry-After': retryAfter,
      });
    }
  }

  /** The password was wrong: the failure counts against the address too. */
  async failed(address: string): Promise<void> {
    const [, addressKey] = LoginThrottle.keys('', address);
    try {
      await this.redis.multi().incr(addressKey).expire(addressKey, this.limits.windowSeconds, 'NX').exec();
    } catch {
      throw RevocationStore.unavailable();
    }
  }

  /** The password was right: the email's failures, and its back-off, are forgiven. */
  async succeeded(email: string): Promise<void> {
    const [emailKey, , levelKey] = LoginThrottle.keys(email, '');
    await this.redis.del(emailKey, levelKey).catch(() => undefined);
  }

  /** The attempt could not be judged (a dependency failed): it does not count against anyone. */
  async abandoned(email: string): Promise<void> {
    const [emailKey] = LoginThrottle.keys(email, '');
    await this.redis.eval(RELEASE, 1, emailKey).catch(() => undefined);
  }
}
