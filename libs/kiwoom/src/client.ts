import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { errorOfAnswer, errorOfStatus, KiwoomError } from './errors.js';
import { SharedRateLimit, type CallClass } from './shared-rate-limit.js';
import { SharedToken, type IssuedToken } from './shared-token.js';

export const KIWOOM_HOSTS = {
  'kiwoom-mock': 'https://mockapi.kiwoom.com',
  kiwoom: 'https://api.kiwoom.com',
} as const;

export interface KiwoomCredentials {
  /** https://api.kiwoom.com, https://mockapi.kiwoom.com, or a test double's URL */
  host: string;
  appKey: string;
  secretKey: string;
}

export interface KiwoomClientOptions extends KiwoomCredentials {
  /** the services' Redis (its key prefix applies): the shared token and rate limit live there */
  redis: Redis;
  timeoutMs?: number;
  perSecond?: Readonly<Record<CallClass, number>>;
  /** how often a query refused with 1700 (rate limit) is sent again */
  queryRetries?: number;
  /**
   * How often a query (or the token request before it) that got no answer (a timeout, a
   * connection lost, a 5xx, an unreadable answer) is sent again, after 0.25 s, 0.5 s, ...: one
   * budget per call (each page of a list is a call), so a read may take that many times the
   * timeout. Reads change nothing at the broker; orders are not covered. Default 0: a caller with
   * a retry policy of its own (the market-data providers) keeps it.
   */
  unansweredRetries?: number;
}

/** `expires_dt` (yyyyMMddHHmmss, Korea time) as epoch milliseconds. */
export function parseExpiresDt(value: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(value);
  if (!m) {
    throw new KiwoomError('ambiguous', 'au10001', `au10001: unreadable expires_dt ${JSON.stringify(value)}`);
  }
  return Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}+09:00`);
}

export interface Answer<T> {
  body: T;
  /** the next page's key when the answer says `cont-yn: Y` */
  nextKey?: string;
}

type Body = Record<string, unknown> & { return_code?: unknown; return_msg?: unknown };

export interface CallOptions {
  /** the next page's key of a list (`cont-yn: Y`) */
  nextKey?: string;
  /**
   * The latest instant (epoch ms, this process's clock) the request may leave: checked right before
   * each send, the resend after a refused token included. An order's caller records its attempt
   * before the token and rate-limit waits, and whoever resumes the attempt looks it up from that
   * record plus this budget; a request still waiting past it is not sent (a `retry` error with code
   * `send-deadline`: nothing reached the broker).
   */
  sendBy?: number;
}

/**
 * Kiwoom's REST API for one app key: every call POSTs JSON with `api-id` and the shared token,
 * waits for the shared rate limit of its class, and is bounded by a timeout. A refused token is
 * replaced once (the refused call was not processed, and is sent again); a query refused by the
 * rate limit, and (as configured) a query that got no answer, is sent again after a pause; an
 * order that may have been placed is never resent here (it is the caller's to look up).
 */
export class KiwoomClient {
  private readonly token: SharedToken;
  private readonly limit: SharedRateLimit;
  private readonly timeoutMs: number;

  constructor(private readonly options: KiwoomClientOptions) {
    this.token = new SharedToken(options.redis, options.appKey, () => this.issueToken());
    this.limit = new SharedRateLimit(options.redis, options.appKey, options.perSecond);
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /**
   * One call. `kind` picks the rate limit. An order is sent again only when the broker refused its
   * token (8005, HTTP 401: not processed); one that may have been placed is its caller's to look up.
   */
  async call<T extends Body>(
    apiId: string,
    path: string,
    body: Record<string, unknown>,
    kind: CallClass,
    options: CallOptions = {},
  ): Promise<Answer<T>> {
    let reauthorised = false;
    let limited = 0;
    let unanswered = 0;
    /** a call (or token request) that got no answer and may be sent again: after a growing pause */
    const mayResend = async (error: KiwoomError): Promise<boolean> => {
      if (error.category !== 'ambiguous' || unanswered >= (this.options.unansweredRetries ?? 0)) {
        return false;
      }
      unanswered += 1;
      await sleep(250 * unanswered);
      return true;
    };
    for (;;) {
      // the token before the turn: a turn must be used at once (a turn held while a token is
      // issued would reach the broker bunched with the next ones)
      let token: string;
      try {
        token = await this.token.get();
      } catch (error) {
        // a read asks for its token again; an order does not: its caller recorded the attempt
        // under the leader's fence just before, and a successor may look it up and send it once
        // this attempt's time is up, so the attempt must fail now, not leave after more waiting
        if (kind === 'query' && error instanceof KiwoomError && (await mayResend(error))) {
          continue;
        }
        throw error;
      }
      await this.limit.acquire(kind);
      if (options.sendBy !== undefined && Date.now() > options.sendBy) {
        throw new KiwoomError(
          'retry',
          apiId,
          `${apiId}: not sent: its send deadline passed ${Date.now() - options.sendBy} ms before its turn came`,
          'send-deadline',
        );
      }
      try {
        return await this.send<T>(apiId, path, body, token, options.nextKey);
      } catch (error) {
        if (!(error instanceof KiwoomError)) {
          throw error;
        }
        if (error.category === 'reauth' && !reauthorised) {
          reauthorised = true;
          await this.token.refused(token);
          continue;
        }
        // 1700: the call was not processed; queries are sent again, an order is left to its caller
        if (error.category === 'retry' && kind === 'query' && limited < (this.options.queryRetries ?? 5)) {
          limited += 1;
          await sleep(250 * limited);
          continue;
        }
        // no answer: a query is read again, an order (which may have been placed) is its caller's
        if (kind === 'query' && (await mayResend(error))) {
          continue;
        }
        throw error;
      }
    }
  }

  /** Every page of a list answer (`cont-yn`/`next-key`), concatenated. */
  async all<T>(apiId: string, path: string, body: Record<string, unknown>, listKey: string): Promise<T[]> {
    const rows: T[] = [];
    let nextKey: string | undefined;
    for (let page = 0; page < 1000; page += 1) {
      const answer = await this.call<Body>(apiId, path, body, 'query', { nextKey });
      const list = answer.body[listKey];
      if (Array.isArray(list)) {
        rows.push(...(list as T[]));
      }
      if (!answer.nextKey) {
        return rows;
      }
      nextKey = answer.nextKey;
    }
    throw new KiwoomError('ambiguous', apiId, `${apiId}: more than 1000 pages`);
  }

  private async send<T extends Body>(
    apiId: string,
    path: string,
    body: Record<string, unknown>,
    token: string | undefined,
    nextKey?: string,
  ): Promise<Answer<T>> {
    const headers: Record<string, string> = {
      'content-type': 'application/json;charset=UTF-8',
      'api-id': apiId,
    };
    if (token !== undefined) {
      headers.authorization = `Bearer ${token}`;
    }
    if (nextKey !== undefined) {
      headers['cont-yn'] = 'Y';
      headers['next-key'] = nextKey;
    }
    let res: Response;
    try {
      res = await fetch(new URL(path, this.options.host), {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      // a timeout or a connection lost after sending: the broker may have acted
      throw new KiwoomError('ambiguous', apiId, `${apiId}: no answer (${String(error)})`);
    }
    const text = await res.text().catch(() => '');
    if (res.status !== 200) {
      throw errorOfStatus(apiId, res.status, text);
    }
    let parsed: T;
    try {
      parsed = JSON.parse(text) as T;
    } catch {
      throw new KiwoomError('ambiguous', apiId, `${apiId}: an answer that is not JSON`);
    }
    const error = errorOfAnswer(apiId, parsed);
    if (error) {
      throw error;
    }
    const more = res.headers.get('cont-yn') === 'Y' ? (res.headers.get('next-key') ?? undefined) : undefined;
    return more ? { body: parsed, nextKey: more } : { body: parsed };
  }

  private async issueToken(): Promise<IssuedToken> {
    await this.limit.acquire('query');
    const answer = await this.send<Body & { token?: unknown; expires_dt?: unknown }>(
      'au10001',
      '/oauth2/token',
      { grant_type: 'client_credentials', appkey: this.options.appKey, secretkey: this.options.secretKey },
      undefined,
    );
    if (typeof answer.body.token !== 'string' || typeof answer.body.expires_dt !== 'string') {
      throw new KiwoomError('ambiguous', 'au10001', 'au10001: the answer has no token');
    }
    return { token: answer.body.token, expiresAt: parseExpiresDt(answer.body.expires_dt) };
  }
}
