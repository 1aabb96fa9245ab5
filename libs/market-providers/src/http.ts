import { appKeyId, SharedPacer } from '@stocklab/kiwoom';
import type { Redis } from 'ioredis';
import { ProviderDataInvalid, ProviderUnavailable } from './errors.js';

export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: Buffer;
  text(): string;
}

/**
 * One GET/POST, bounded by `timeoutMs`. A connection error or timeout, a 5xx and a 429 are
 * ProviderUnavailable (transient; 429 marked rate-limited); any other status is returned for the
 * provider to interpret (401 and friends mean different things per provider).
 */
export async function httpRequest(
  provider: string,
  url: URL,
  init: {
    method?: 'GET' | 'POST';
    headers?: Record<string, string>;
    body?: string;
    timeoutMs: number;
    signal?: AbortSignal;
  },
): Promise<HttpAnswer> {
  const timeout = AbortSignal.timeout(init.timeoutMs);
  const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
  let res: Response;
  let body: Buffer;
  try {
    res = await fetch(url, {
      method: init.method ?? 'GET',
      ...(init.headers ? { headers: init.headers } : {}),
      ...(init.body !== undefined ? { body: init.body } : {}),
      signal,
    });
    body = Buffer.from(await res.arrayBuffer());
  } catch (error) {
    init.signal?.throwIfAborted();
    const what = timeout.aborted ? `no answer within ${init.timeoutMs} ms` : `connection failed (${String(error)})`;
    throw new ProviderUnavailable(provider, `${url.pathname}: ${what}`, timeout.aborted ? 'timeout' : 'network');
  }
  if (res.status >= 500 || res.status === 429) {
    throw new ProviderUnavailable(
      provider,
      `${url.pathname}: HTTP ${res.status} ${body.toString('utf8').slice(0, 200)}`,
      String(res.status),
      res.status === 429,
    );
  }
  return { status: res.status, headers: res.headers, body, text: () => body.toString('utf8') };
}

/** JSON of an answer, or ProviderDataInvalid. */
export function parseJson(provider: string, what: string, answer: HttpAnswer): unknown {
  try {
    return JSON.parse(answer.text()) as unknown;
  } catch {
    throw new ProviderDataInvalid(provider, `${what}: an answer that is not JSON: ${answer.text().slice(0, 120)}`);
  }
}

/** What a provider call waits for before it is sent. */
export interface ProviderPacer {
  acquire(signal?: AbortSignal): Promise<unknown>;
}

/** The code of the ProviderUnavailable a spent daily budget raises (withRetries does not retry it). */
export const DAILY_LIMIT_CODE = 'daily-limit';

/** yyyymmdd of `now` in Korea: the providers' daily quotas renew at midnight Asia/Seoul. */
export function seoulDay(now: Date): string {
  return new Date(now.getTime() + 9 * 3_600_000).toISOString().slice(0, 10).replaceAll('-', '');
}

/**
 * A provider key's daily request quota, shared by every replica on the same Redis: each request
 * takes one unit of the Korean day's count (INCR, kept two days), and once `perDay` are taken the
 * next request is refused here, unsent, until midnight Asia/Seoul: a backfill stops cleanly
 * instead of having the provider suspend the key (KRX 10,000 a day, OpenDART 10,000-20,000:
 * REFERENCE.md §1.5, §2.5).
 */
export class SharedDailyBudget {
  constructor(
    private readonly redis: Redis,
    private readonly provider: string,
    /** the Redis key's stem (before the day and the connection's key prefix) */
    readonly key: string,
    readonly perDay: number,
    private readonly now: () => Date = () => new Date(),
  ) {
    if (!(perDay > 0)) {
      throw new Error(`SharedDailyBudget ${key}: perDay must be positive, got ${perDay}`);
    }
  }

  async take(): Promise<void> {
    const day = seoulDay(this.now());
    const replies = await this.redis.multi().incr(`${this.key}:${day}`).expire(`${this.key}:${day}`, 172_800).exec();
    const [error, taken] = replies?.[0] ?? [new Error('no reply'), null];
    if (error) {
      throw error;
    }
    if (Number(taken) > this.perDay) {
      throw new ProviderUnavailable(
        this.provider,
        `the key's daily quota of ${this.perDay} requests is spent for ${day} (Asia/Seoul); it renews at midnight there`,
        DAILY_LIMIT_CODE,
        true,
      );
    }
  }
}

/**
 * A shared pacer for a provider key: every replica (and every instance) using the same key on the
 * same Redis shares one even pace, and, with `perDay`, one daily quota taken before the pace. The
 * key itself never reaches Redis, only a hash of it.
 */
export function providerPacer(
  redis: Redis,
  provider: string,
  key: string,
  perSecond: number,
  perDay?: number,
): ProviderPacer {
  const pace = new SharedPacer(redis, `provider:rate:${provider}:${appKeyId(key)}`, perSecond);
  if (perDay === undefined) {
    return pace;
  }
  const budget = new SharedDailyBudget(redis, provider, `provider:day:${provider}:${appKeyId(key)}`, perDay);
  return {
    acquire: async (signal?: AbortSignal) => {
      signal?.throwIfAborted();
      await budget.take();
      return pace.acquire(signal);
    },
  };
}

/**
 * A number as the Korean providers write it: digits with optional thousands commas ("1,234"),
 * an optional sign ("+74100", "-160400": Kiwoom's direction sign, dropped when `abs`), a decimal
 * part. "-" or "" (KRX's "no value") is null. Anything else is not a number: undefined.
 */
export function parseProviderNumber(value: unknown, abs = false): number | null | undefined {
  if (typeof value === 'number') {
    return Number.isFinite(value) ? (abs ? Math.abs(value) : value) : undefined;
  }
  if (typeof value !== 'string') {
    return undefined;
  }
  const text = value.trim();
  if (text === '' || text === '-') {
    return null;
  }
  if (!/^[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$/.test(text)) {
    return undefined;
  }
  const n = Number(text.replaceAll(',', ''));
  return abs ? Math.abs(n) : n;
}

/** yyyymmdd that is a real calendar date. */
export function isYmd(value: string): boolean {
  if (!/^\d{8}$/.test(value)) {
    return false;
  }
  const d = new Date(`${value.slice(0, 4)}-${value.slice(4, 6)}-${value.slice(6, 8)}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10).replaceAll('-', '') === value;
}
