import type { TradingConfig } from '../config.js';
import { MarketDataNotReadyError } from './data-freshness.js';

/** What the backtest service answers to an ingest trigger (its IngestResultDto, the fields used here). */
export interface IngestAnswer {
  date: string;
  status: 'succeeded' | 'no_trading';
  attempt: number;
  replayed: boolean;
  rows: number | null;
  dataVersion: string | null;
  changed: boolean | null;
}

/** The statements ingest's answer (its StatementsIngestResultDto, the fields used here). */
export interface StatementsAnswer {
  from: string;
  to: string;
  filings: number;
  inserted: number;
  updated: number;
  skipped: unknown[];
  dataVersion: string | null;
  changed: boolean;
}

/** The provider had nothing (yet) or was down: the backtest service recorded a failed attempt and changed nothing. */
export class IngestNotReadyError extends MarketDataNotReadyError {}

/** The ingest cannot work as configured (credentials refused, no KRX key, an unexpected answer): a failed run. */
export class IngestRefusedError extends Error {}

type Credentials = Pick<
  TradingConfig,
  'AUTH_URL' | 'BACKTEST_URL' | 'TRADING_SERVICE_EMAIL' | 'TRADING_SERVICE_PASSWORD' | 'TRADING_INGEST_TIMEOUT_MS'
>;

const CALL_TIMEOUT_MS = 20_000;

/**
 * The scheduler's way to the daily market ingest, which the backtest service owns (its schema,
 * its KRX key): log in as the service account, POST /api/backtest/market/ingest, log out. A
 * session per run (once a day) rather than a cached token: nothing long-lived to revoke, and a
 * role taken from the account stops the next run.
 */
export class MarketIngestClient {
  constructor(private readonly config: Credentials) {}

  /**
   * The day's bars, then the statements of the periodic reports filed from `filedFrom` to
   * `filedTo` ('off' where the backtest service has no OpenDART key), in one session.
   */
  async ingest(
    date: string,
    filed: { from: string; to: string },
    signal: AbortSignal,
  ): Promise<{ bars: IngestAnswer; statements: StatementsAnswer | 'off' }> {
    const token = await this.login(signal);
    try {
      const bars = await this.trigger(date, token, signal);
      const statements = await this.statements(filed.from, filed.to, token, signal);
      return { bars, statements };
    } finally {
      await this.logout(token);
    }
  }

  private async login(signal: AbortSignal): Promise<string> {
    const { TRADING_SERVICE_EMAIL: email, TRADING_SERVICE_PASSWORD: password } = this.config;
    const res = await this.call(
      new URL('/api/auth/login', this.config.AUTH_URL),
      { method: 'POST', body: JSON.stringify({ email, password }) },
      CALL_TIMEOUT_MS,
      signal,
      'the auth service',
    );
    if (res.status === 401 || res.status === 400) {
      await res.body?.cancel();
      throw new IngestRefusedError(`the auth service refused the service account's login (${res.status})`);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new IngestNotReadyError(`the auth service answered ${res.status} to the service account's login`);
    }
    const body = (await res.json()) as { accessToken?: unknown };
    if (typeof body.accessToken !== 'string') {
      throw new IngestRefusedError('the auth service answered the login without an access token');
    }
    return body.accessToken;
  }

  private async trigger(date: string, token: string, signal: AbortSignal): Promise<IngestAnswer> {
    const what = `the ingest of ${date}`;
    const answer = await this.postToBacktest('/api/backtest/market/ingest', { date, tradingDay: true }, token, signal);
    if (!answer.ok) {
      // INGEST_FAILED: the provider was down or had not published the day (recorded, nothing changed)
      throw failureOf(answer, what, 'INGEST_NOT_CONFIGURED');
    }
    const body = answer.body as Partial<IngestAnswer>;
    if (body.status !== 'succeeded' && body.status !== 'no_trading') {
      throw new IngestRefusedError(`the backtest service answered ${what} with ${JSON.stringify(body)}`);
    }
    return body as IngestAnswer;
  }

  private async statements(
    from: string,
    to: string,
    token: string,
    signal: AbortSignal,
  ): Promise<StatementsAnswer | 'off'> {
    const answer = await this.postToBacktest('/api/backtest/market/statements/ingest', { from, to }, token, signal);
    if (answer.ok) {
      return answer.body as unknown as StatementsAnswer;
    }
    if (answer.status === 503 && answer.body.code === 'STATEMENTS_NOT_CONFIGURED') {
      return 'off';
    }
    throw failureOf(answer, `the statements ingest of ${from}..${to}`);
  }

  private async postToBacktest(
    path: string,
    payload: Record<string, unknown>,
    token: string,
    signal: AbortSignal,
  ): Promise<BacktestAnswer> {
    const res = await this.call(
      new URL(path, this.config.BACKTEST_URL),
      { method: 'POST', body: JSON.stringify(payload), token },
      this.config.TRADING_INGEST_TIMEOUT_MS,
      signal,
      'the backtest service',
    );
    const body = (await res.json().catch(() => ({}))) as BacktestAnswer['body'];
    return { ok: res.ok, status: res.status, body };
  }

  /** Best effort: the session's refresh token is revoked; the short-lived access token expires anyway. */
  private async logout(token: string): Promise<void> {
    try {
      const res = await fetch(new URL('/api/auth/logout', this.config.AUTH_URL), {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
      });
      await res.body?.cancel();
    } catch {
      // the session ends with its refresh token's lifetime
    }
  }

  private async call(
    url: URL,
    init: { method: string; body: string; token?: string },
    timeoutMs: number,
    term: AbortSignal,
    who: string,
  ): Promise<Response> {
    try {
      return await fetch(url, {
        method: init.method,
        body: init.body,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
        },
        signal: AbortSignal.any([term, AbortSignal.timeout(timeoutMs)]),
      });
    } catch (error) {
      // the term's end stops the run; a timeout or a refused connection is retried (a trigger that
      // timed out may still complete over there: the retry then finds the date done)
      term.throwIfAborted();
      throw new IngestNotReadyError(`${who} did not answer: ${String(error)}`);
    }
  }
}

interface BacktestAnswer {
  ok: boolean;
  status: number;
  body: { code?: unknown; message?: unknown } & Record<string, unknown>;
}

/**
 * A refused call as the run takes it: a 429 or 5xx (the provider down, the day not published, a
 * replica draining) is retried by the catch-up sweep; anything else, or `notConfigured`, fails the run.
 */
function failureOf(answer: BacktestAnswer, what: string, notConfigured?: string): Error {
  const { status, body } = answer;
  const detail =
    `${status} ${typeof body.code === 'string' ? body.code : ''}: ${typeof body.message === 'string' ? body.message : ''}`.trim();
  if ((status === 429 || status >= 500) && (notConfigured === undefined || body.code !== notConfigured)) {
    return new IngestNotReadyError(`${what} did not complete (${detail})`);
  }
  return new IngestRefusedError(`the backtest service refused ${what} (${detail})`);
}
