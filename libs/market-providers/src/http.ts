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

/**
 * A shared pacer for a provider key: every replica (and every instance) using the same key on the
 * same Redis shares one even pace. The key itself never reaches Redis, only a hash of it.
 */
export function providerPacer(redis: Redis, provider: string, key: string, perSecond: number): SharedPacer {
  return new SharedPacer(redis, `provider:rate:${provider}:${appKeyId(key)}`, perSecond);
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
