import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CODES, definition, MARKET_DATES, prng, type E2EOptions } from './harness.js';

/**
 * A steady mixed load through the gateway, the traffic of real users: sign-ins, strategy reads,
 * backtest submissions (and polling them), portfolio reads. Every request is recorded with when
 * it started and ended, so that a test can tell which failures were in flight at a given moment.
 */

export type Operation = 'sign-in' | 'strategy-read' | 'backtest-submit' | 'backtest-read' | 'portfolio-read';
export type ApiService = 'auth' | 'backtest' | 'trading';

export interface LoadUser {
  email: string;
  password: string;
  accessToken: string;
  strategyId: string;
}

export interface Outcome {
  op: Operation;
  method: string;
  service: ApiService;
  startedAt: number;
  endedAt: number;
  /** null when no HTTP answer came back at all */
  status: number | null;
  /** the error body's code, or the network error */
  detail?: string;
  /** 503 answers with Retry-After that came first and were asked again, as the contract tells a client to */
  retried: number;
}

export const ok = (outcome: Outcome): boolean => outcome.status !== null && outcome.status < 300;

/** The outcomes of the requests started after the last one that failed (all of them if none did). */
export function sinceLastFailure(outcomes: readonly Outcome[]): Outcome[] {
  const lastFailure = Math.max(-Infinity, ...outcomes.filter((o) => !ok(o)).map((o) => o.startedAt));
  return outcomes.filter((o) => o.startedAt > lastFailure);
}

/**
 * The services' settings for a platform under load and chaos: backtest API replicas serve only
 * the API and the worker runs every backtest (so a killed worker's job is retaken after
 * JOB_LOCK_MS); trading replays the crafted market's last day (its crons stay away, as the harness sets them).
 */
export function underLoadServiceEnv(trading: Record<string, string> = {}): E2EOptions['serviceEnv'] {
  return {
    backtest: { BACKTEST_CONCURRENCY: '0', IMPORT_CONCURRENCY: '0' },
    'backtest-worker': { BACKTEST_CONCURRENCY: '2', IMPORT_CONCURRENCY: '1', JOB_LOCK_MS: '3000' },
    trading: {
      TRADING_AS_OF_DATE: MARKET_DATES.at(-1) ?? '',
      ...trading,
    },
  };
}

/** The backtest every submission asks for: the crafted market, two positions, the whole period. */
export const LOAD_BACKTEST = { definition: definition(CODES, 2), from: MARKET_DATES[0], to: MARKET_DATES.at(-1) };

const PASSWORD = 'correct horse battery staple';
const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

interface Answer {
  status: number;
  body: Record<string, unknown>;
  /** seconds, when the answer says when to come back */
  retryAfter?: number;
}

async function call(
  gateway: string,
  method: string,
  path: string,
  token?: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const res = await fetch(`${gateway}${path}`, {
    method,
    headers: {
      ...headers,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    parsed = { text };
  }
  const retryAfter = Number(res.headers.get('retry-after') ?? Number.NaN);
  return Number.isFinite(retryAfter)
    ? { status: res.status, body: parsed, retryAfter }
    : { status: res.status, body: parsed };
}

/** How long a virtual user keeps asking again after 503s with Retry-After before it counts a failure. */
const RETRY_BUDGET_MS = 15_000;

/**
 * `call`, asked again after each 503 with Retry-After (not processed: no ready replica, a
 * dependency late) after the pause it names (at most 2 s) while RETRY_BUDGET_MS lasts, as the
 * contract tells a client to; `onRetry` is told of each answer asked again.
 */
async function callFollowingRetryAfter(args: Parameters<typeof call>, onRetry = (): void => {}): Promise<Answer> {
  const startedAt = Date.now();
  let res = await call(...args);
  while (res.status === 503 && res.retryAfter !== undefined && Date.now() - startedAt < RETRY_BUDGET_MS) {
    onRetry();
    await sleep(Math.min(res.retryAfter * 1000, 2000));
    res = await call(...args);
  }
  return res;
}

/**
 * Signs a user up and in, and gives them a strategy to read (all through the gateway), as a client
 * following the contract: on a loaded machine the gateway may have no ready auth replica for a
 * moment (503 NO_READY_UPSTREAM with Retry-After) before any chaos has begun.
 */
export async function createLoadUser(gateway: string, label: string): Promise<LoadUser> {
  const email = `${label}-${randomUUID().slice(0, 8)}@example.com`;
  const signup = await callFollowingRetryAfter([
    gateway,
    'POST',
    '/api/auth/signup',
    undefined,
    { email, password: PASSWORD, nickname: label },
  ]);
  if (signup.status !== 202) {
    throw new Error(`signup of ${email}: ${signup.status} ${JSON.stringify(signup.body)}`);
  }
  const login = await callFollowingRetryAfter([
    gateway,
    'POST',
    '/api/auth/login',
    undefined,
    { email, password: PASSWORD },
  ]);
  const accessToken = login.body.accessToken;
  if (login.status !== 200 || typeof accessToken !== 'string') {
    throw new Error(`login of ${email}: ${login.status} ${JSON.stringify(login.body)}`);
  }
  const strategy = await callFollowingRetryAfter([
    gateway,
    'POST',
    '/api/backtest/strategies',
    accessToken,
    { name: `load ${label}`, definition: definition(CODES, 2) },
  ]);
  if (strategy.status !== 201 || typeof strategy.body.id !== 'string') {
    throw new Error(`strategy of ${email}: ${strategy.status} ${JSON.stringify(strategy.body)}`);
  }
  return { email, password: PASSWORD, accessToken, strategyId: strategy.body.id };
}

export interface MixedLoadOptions {
  seed: number;
  /** pause between one virtual user's requests */
  pauseMs?: number;
  /**
   * Ask again after a 503 with Retry-After (within 15 s), as a client following the contract does:
   * for tests of what clients experience. Off where the 503s themselves are what a test looks for.
   */
  followRetryAfter?: boolean;
}

/** One virtual user per LoadUser, each sending one request at a time until stop(). */
export class MixedLoad {
  readonly outcomes: Outcome[] = [];
  /** ids of the backtests the platform accepted (202), each once (a retried submission answers with the same id) */
  readonly accepted: string[] = [];
  private running = false;
  private loops: Array<Promise<void>> = [];

  constructor(
    private readonly gateway: string,
    private readonly users: LoadUser[],
    private readonly options: MixedLoadOptions,
  ) {}

  start(): void {
    this.running = true;
    this.loops = this.users.map((user, i) => this.virtualUser(user, prng(this.options.seed + i)));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async virtualUser(user: LoadUser, random: () => number): Promise<void> {
    let pending: string | undefined;
    /** the key of a submission whose answer was lost: the next submission is its retry */
    let unanswered: string | undefined;
    while (this.running) {
      const roll = random();
      if (roll < 0.25) {
        const res = await this.send('sign-in', 'auth', 'POST', '/api/auth/login', undefined, {
          email: user.email,
          password: user.password,
        });
        if (res?.status === 200 && typeof res.body.accessToken === 'string') {
          user.accessToken = res.body.accessToken;
        }
      } else if (roll < 0.5) {
        await this.send('strategy-read', 'backtest', 'GET', `/api/backtest/strategies/${user.strategyId}`, user);
      } else if (roll < 0.7) {
        await this.send('portfolio-read', 'trading', 'GET', '/api/trading/portfolio', user);
      } else if (pending === undefined) {
        // as a careful client does: a key per submission, and the same key again after a lost answer
        const key = unanswered ?? randomUUID();
        const res = await this.send(
          'backtest-submit',
          'backtest',
          'POST',
          '/api/backtest/backtests',
          user,
          { ...LOAD_BACKTEST },
          { 'idempotency-key': key },
        );
        unanswered = res === undefined || res.status >= 500 ? key : undefined;
        if (res?.status === 202 && typeof res.body.id === 'string') {
          pending = res.body.id;
          if (!this.accepted.includes(pending)) {
            this.accepted.push(pending);
          }
        }
      } else {
        const res = await this.send('backtest-read', 'backtest', 'GET', `/api/backtest/backtests/${pending}`, user);
        if (res?.status === 200 && TERMINAL.has(String(res.body.status))) {
          pending = undefined;
        }
      }
      await sleep(this.options.pauseMs ?? 20);
    }
  }

  private async send(
    op: Operation,
    service: ApiService,
    method: string,
    path: string,
    user: LoadUser | undefined,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<Answer | undefined> {
    const startedAt = Date.now();
    let retried = 0;
    try {
      const args: Parameters<typeof call> = [this.gateway, method, path, user?.accessToken, body, headers];
      // what is left after following Retry-After within the budget is a failure
      const res =
        this.options.followRetryAfter === true
          ? await callFollowingRetryAfter(args, () => (retried += 1))
          : await call(...args);
      const code = res.body.code;
      const detail = res.status < 300 ? undefined : typeof code === 'string' ? code : String(res.status);
      this.outcomes.push({ op, method, service, startedAt, endedAt: Date.now(), status: res.status, detail, retried });
      return res;
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code;
      const detail = cause ?? (error instanceof Error ? error.message : String(error));
      this.outcomes.push({ op, method, service, startedAt, endedAt: Date.now(), status: null, detail, retried });
      return undefined;
    }
  }
}

export interface OperationTally {
  op: Operation;
  requests: number;
  ok: number;
  failed: number;
}

/** Requests and failures per operation, in a fixed order (for a printed table). */
export function tally(outcomes: readonly Outcome[]): OperationTally[] {
  const ops: Operation[] = ['sign-in', 'strategy-read', 'backtest-submit', 'backtest-read', 'portfolio-read'];
  return ops.map((op) => {
    const mine = outcomes.filter((o) => o.op === op);
    const good = mine.filter(ok).length;
    return { op, requests: mine.length, ok: good, failed: mine.length - good };
  });
}
