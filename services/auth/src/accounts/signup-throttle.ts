import type { Redis } from 'ioredis';
import { DomainError, RevocationStore } from '@stocklab/platform';

export interface SignupLimits {
  maxPerAddress: number;
  windowSeconds: number;
}

/**
 * Counts the attempt and answers 0 when it is within the limit, else the milliseconds until the
 * window ends, in one step: simultaneous signups on any replicas cannot all pass a check made
 * before any of them was counted. KEYS: the address counter; ARGV: the limit, the window (s).
 */
const RESERVE = `
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2], 'NX')
if n > tonumber(ARGV[1]) then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then
    redis.call('EXPIRE', KEYS[1], ARGV[2])
    ttl = tonumber(ARGV[2]) * 1000
  end
  return ttl
end
return 0
`;

/**
 * Signups per client address, shared by every replica: each one costs an argon2 hash (about 20 MiB
 * and tens of milliseconds of a core), so one address must not be able to create accounts, or
 * probe emails, at the rate it can send requests. Counted before the password is hashed.
 */
export class SignupThrottle {
  constructor(
    private readonly redis: Redis,
    private readonly limits: SignupLimits,
  ) {}

  async reserve(address: string): Promise<void> {
    let blockedFor: number;
    try {
      blockedFor = Number(
        await this.redis.eval(
          RESERVE,
          1,
          `signup:addr:${address}`,
          this.limits.maxPerAddress,
          this.limits.windowSeconds,
        ),
      );
    } catch {
      throw RevocationStore.unavailable();
    }
    if (blockedFor > 0) {
      throw new DomainError(429, 'TOO_MANY_SIGNUPS', 'Too many signups from this address; try again later', {
        'Retry-After': String(Math.max(1, Math.ceil(blockedFor / 1000))),
      });
    }
  }
}
