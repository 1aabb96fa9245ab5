/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-call --
   the scenarios are tests that read parsed JSON bodies of real responses (the repository's rule for test files) */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
// Scenarios are clients that follow the platform's contract: a 503 with Retry-After is asked again.
import { requestPatiently as request, type Replica } from '@stocklab/test-support';
import {
  CODES,
  cronAt,
  definition,
  MARKET_DATES,
  PRICE,
  startE2EPlatform,
  waitFor,
  type E2EPlatform,
  type ServiceName,
} from './harness.js';

/**
 * The five problems of running N copies (see the README), each proved against the whole platform
 * started by the launcher: auth x2, backtest x2 + worker, trading x3 (Lease-elected), a gateway.
 */

export const AS_OF = '2026-03-10';
/**
 * From the moment the launcher reaches trading: time for its replicas to start and the strategy to
 * be activated. At least this; on a loaded machine what the platform took to get that far.
 */
const SELECT_LEAD_MS = 45_000;
const EXECUTE_AFTER_SELECT_MS = 5_000;

export interface ScenarioRow {
  scenario: string;
  replicas: string;
  checked: string;
  result: 'PASS' | 'FAIL';
  /** the failure, when FAIL */
  error?: string;
}

export interface ScenarioPlatform extends E2EPlatform {
  /** when the select and execute crons of the trading replicas fire */
  schedule: { selectAt: Date; executeAt: Date };
}

/**
 * The platform the scenarios run on. Backtest API replicas only serve the API (no backtests, no
 * imports): the worker does the background work, so "which process did what" is known. Trading
 * replays AS_OF, fires its crons a little after its replicas are up, and elects its leader with
 * short Lease timings.
 */
export async function startScenarioPlatform(log?: (line: string) => void): Promise<ScenarioPlatform> {
  const schedule = { selectAt: new Date(0), executeAt: new Date(0) };
  const launched = Date.now();
  const platform = await startE2EPlatform({
    log,
    serviceEnv: {
      backtest: { BACKTEST_CONCURRENCY: '0', IMPORT_CONCURRENCY: '0' },
      'backtest-worker': { BACKTEST_CONCURRENCY: '1', IMPORT_CONCURRENCY: '1' },
      trading: () => {
        // what is left (trading's migration and replicas, the gateway, the activation) takes less
        // than what came before (the database, the market, auth's and backtest's migrations and
        // replicas) at this moment's load: a fixed 45 s was once 1.8 s short under load
        const lead = Math.max(SELECT_LEAD_MS, Date.now() - launched);
        schedule.selectAt = new Date(Math.ceil((Date.now() + lead) / 1000) * 1000);
        schedule.executeAt = new Date(schedule.selectAt.getTime() + EXECUTE_AFTER_SELECT_MS);
        return {
          TRADING_AS_OF_DATE: AS_OF,
          TRADING_SELECT_CRON: cronAt(schedule.selectAt),
          TRADING_EXECUTE_CRON: cronAt(schedule.executeAt),
          LEASE_DURATION_SECONDS: '3',
          RENEW_DEADLINE_SECONDS: '2',
          RETRY_PERIOD_SECONDS: '0.5',
          CATCH_UP_INTERVAL_SECONDS: '2',
        };
      },
    },
  });
  return { ...platform, schedule };
}

interface Checked {
  replicas: string[];
  checked: string[];
}

interface Account {
  email: string;
  password: string;
  userId: string;
  accessToken: string;
}

const names = (replicas: Replica[]): string[] => replicas.map((r) => r.name);

async function signUpAndLogIn(signUpOn: Replica, logInOn: Replica, label: string): Promise<Account> {
  const email = `${label}-${randomUUID().slice(0, 8)}@example.com`;
  const password = 'correct horse battery staple';
  const signup = await request('POST', `${signUpOn.url}/api/auth/signup`, {
    body: { email, password, nickname: label },
  });
  assert.equal(signup.status, 202, `signup on ${signUpOn.name}: ${signup.status} ${JSON.stringify(signup.body)}`);
  const login = await request('POST', `${logInOn.url}/api/auth/login`, { body: { email, password } });
  assert.equal(login.status, 200, `login on ${logInOn.name}: ${login.status} ${JSON.stringify(login.body)}`);
  assert.equal(typeof login.body.accessToken, 'string');
  const me = await request('GET', `${signUpOn.url}/api/auth/me`, { token: login.body.accessToken });
  assert.equal(me.status, 200);
  assert.equal(me.body.email, email);
  return { email, password, userId: String(me.body.id), accessToken: login.body.accessToken };
}

async function waitForBacktest(baseUrl: string, token: string, id: string): Promise<Record<string, unknown>> {
  return waitFor(
    `backtest ${id} to finish`,
    async () => {
      const res = await request('GET', `${baseUrl}/api/backtest/backtests/${id}`, { token });
      assert.equal(res.status, 200);
      return ['succeeded', 'failed', 'cancelled'].includes(res.body.status) ? res.body : undefined;
    },
    60_000,
    200,
  );
}

async function workerOf(p: E2EPlatform, backtestId: string): Promise<string> {
  const { rows } = await p.pool.query<{ worker: string | null }>(
    `SELECT worker FROM backtest.backtests WHERE id = $1`,
    [backtestId],
  );
  return rows[0]?.worker ?? '';
}

/** State shared by the scenarios of one run. */
interface RunState {
  first?: Account;
  scheduler?: { account: Account; autoStrategyId: string; activatedAt: Date };
}

// ---------------------------------------------------------------------------------------------

/** 1. One shared PostgreSQL: what one replica wrote, every other replica of every service sees. */
async function sharedState(p: E2EPlatform, state: RunState): Promise<Checked> {
  const [auth0, auth1] = p.replicas('auth') as [Replica, Replica];
  const [bt0, bt1] = p.replicas('backtest') as [Replica, Replica];
  const trading2 = p.replica('trading', 2);
  const account = await signUpAndLogIn(auth0, auth1, 'shared');
  state.first = account;

  const submitted = await request('POST', `${bt0.url}/api/backtest/backtests`, {
    token: account.accessToken,
    body: { definition: definition(CODES, 2), from: MARKET_DATES[0], to: MARKET_DATES.at(-1) },
  });
  assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
  const done = await waitForBacktest(bt1.url, account.accessToken, String(submitted.body.id));
  assert.equal(done.status, 'succeeded', JSON.stringify(done));
  const worker = await workerOf(p, String(submitted.body.id));
  const backtestProcesses = names([...p.replicas('backtest'), ...p.replicas('backtest-worker')]);
  assert.ok(backtestProcesses.includes(worker), `ran on ${worker}, one of ${backtestProcesses.join(', ')}`);

  const portfolio = await request('GET', `${trading2.url}/api/trading/portfolio`, { token: account.accessToken });
  assert.equal(portfolio.status, 200, JSON.stringify(portfolio.body));
  assert.equal(typeof portfolio.body.accountId, 'string');
  assert.deepEqual(portfolio.body.positions, []);
  return {
    replicas: [auth0.name, auth1.name, bt0.name, worker, bt1.name, trading2.name],
    checked: [
      `signup on ${auth0.name}, login on ${auth1.name}`,
      `backtest submitted on ${bt0.name}, run by ${worker}, read succeeded on ${bt1.name}`,
      `portfolio of the same user on ${trading2.name}: 200`,
    ],
  };
}

/** 2. Shared revocation: after logout the token is refused by every replica of every service. */
async function revocation(p: E2EPlatform, state: RunState): Promise<Checked> {
  const account = state.first ?? (await signUpAndLogIn(p.replica('auth', 1), p.replica('auth', 0), 'revoke'));
  const probes: Array<{ replica: Replica; path: string }> = [
    ...p.replicas('auth').map((replica) => ({ replica, path: '/api/auth/me' })),
    ...p.replicas('backtest').map((replica) => ({ replica, path: '/api/backtest/strategies' })),
    ...p.replicas('trading').map((replica) => ({ replica, path: '/api/trading/portfolio' })),
  ];
  const statuses = async (): Promise<number[]> =>
    Promise.all(
      probes.map(
        async (probe) =>
          (await request('GET', `${probe.replica.url}${probe.path}`, { token: account.accessToken })).status,
      ),
    );
  assert.deepEqual(
    await statuses(),
    probes.map(() => 200),
    'the token works everywhere before the logout',
  );
  const logoutOn = p.replica('auth', 1);
  const logout = await request('POST', `${logoutOn.url}/api/auth/logout`, { token: account.accessToken });
  assert.equal(logout.status, 204, JSON.stringify(logout.body));
  // immediately, no waiting: every replica asks the shared store on every request
  assert.deepEqual(
    await statuses(),
    probes.map(() => 401),
    'the revoked token is refused everywhere',
  );
  const viaGateway = await Promise.all(
    ['/api/auth/me', '/api/backtest/strategies', '/api/trading/portfolio'].map(
      async (path) => (await request('GET', `${p.gateway}${path}`, { token: account.accessToken })).status,
    ),
  );
  assert.deepEqual(viaGateway, [401, 401, 401]);
  return {
    replicas: [logoutOn.name, ...probes.map((x) => x.replica.name)],
    checked: [
      `logout on ${logoutOn.name}`,
      `same token: 200 on all ${probes.length} API replicas before, 401 on all ${probes.length} after, 401 through the gateway`,
      '(the backtest worker serves no API)',
    ],
  };
}

/** 3, first half: a strategy whose first decision makes one order of 9 shares, activated before the select cron fires. */
async function prepareScheduler(p: ScenarioPlatform, state: RunState): Promise<void> {
  const account = await signUpAndLogIn(p.replica('auth', 1), p.replica('auth', 0), 'trader');
  const created = await request('POST', `${p.replica('backtest', 0).url}/api/backtest/strategies`, {
    token: account.accessToken,
    body: { name: 'nine shares of 000010', definition: definition(['000010']) },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  // 100,000 KRW on one pick of weight 1 at a limit of 10,500 KRW (the close + 5 %): one order of 9 shares
  const activated = await request('POST', `${p.replica('trading', 1).url}/api/trading/auto-strategies`, {
    token: account.accessToken,
    body: { strategyId: created.body.id, allocatedCapital: 10 * PRICE },
  });
  assert.equal(activated.status, 201, JSON.stringify(activated.body));
  state.scheduler = { account, autoStrategyId: String(activated.body.id), activatedAt: new Date() };
}

/** 3. One scheduler for N replicas: select and execute run once, and the account holds exactly 9 shares. */
async function scheduler(p: ScenarioPlatform, state: RunState): Promise<Checked> {
  const prepared = state.scheduler;
  assert.ok(prepared, 'the strategy was not activated');
  assert.ok(
    prepared.activatedAt < p.schedule.selectAt,
    `precondition: activated at ${prepared.activatedAt.toISOString()}, after the select cron (${p.schedule.selectAt.toISOString()}); the platform started too slowly for the select cron's lead`,
  );
  const token = prepared.account.accessToken;
  const runs = async (): Promise<
    Array<{ job: string; status: string; trigger: string; runner: string; trading_date: string }>
  > =>
    (
      await p.pool.query<{ job: string; status: string; trigger: string; runner: string; trading_date: string }>(
        `SELECT job, status, trigger, runner, to_char(trading_date, 'YYYY-MM-DD') AS trading_date FROM trading.job_runs ORDER BY started_at`,
      )
    ).rows;
  const timeout = Math.max(0, p.schedule.executeAt.getTime() - Date.now()) + 60_000;
  await waitFor(
    'the execute run to succeed',
    async () => ((await runs()).some((r) => r.job === 'execute' && r.status === 'succeeded') ? true : undefined),
    timeout,
    250,
  );
  const all = await runs();
  // Exactly once is the guarantee; which of the leader's two schedulers fired an occurrence is
  // not: a leader elected (or a cron tick delayed) past the instant leaves it to the catch-up
  // sweep, and both are correct. Only an operator's trigger ('api') would be wrong here.
  assert.deepEqual(
    all.map((r) => [r.job, r.status, r.trading_date]),
    [
      ['select', 'succeeded', AS_OF],
      ['execute', 'succeeded', AS_OF],
    ],
    'exactly one select and one execute',
  );
  for (const run of all) {
    assert.ok(['cron', 'catch-up'].includes(run.trigger), `${run.job} fired by the scheduler, not by ${run.trigger}`);
  }
  const admin = p.token(randomUUID(), ['user', 'admin']);
  const leaders = await Promise.all(
    p.replicas('trading').map(async (r) => {
      const res = await request('GET', `${r.url}/api/trading/scheduler`, { token: admin });
      assert.equal(res.status, 200);
      return { name: r.name, role: String(res.body.role), identity: String(res.body.identity) };
    }),
  );
  assert.equal(leaders.filter((l) => l.role === 'leader').length, 1, JSON.stringify(leaders));
  const runner = all[1]?.runner ?? '';
  const orders = await p.pool.query<{ n: string }>(`SELECT count(*) AS n FROM trading.paper_orders`);
  assert.equal(Number(orders.rows[0]?.n), 1, 'one order reached the broker');
  const repeated = await p.pool.query(
    `SELECT client_order_id FROM trading.paper_order_requests GROUP BY client_order_id HAVING count(*) > 1`,
  );
  assert.equal(repeated.rowCount, 0, 'no client order id sent twice');
  const views = await Promise.all(
    p.replicas('trading').map(async (r) => {
      const res = await request('GET', `${r.url}/api/trading/portfolio`, { token });
      assert.equal(res.status, 200);
      return res.body.positions.map((x: { code: string; quantity: number }) => [x.code, x.quantity]);
    }),
  );
  for (const view of views) {
    assert.deepEqual(view, [['000010', 9]], 'the account holds exactly 9 shares, seen from every trading replica');
  }
  const positions = await request(
    'GET',
    `${p.gateway}/api/trading/auto-strategies/${prepared.autoStrategyId}/positions`,
    {
      token,
    },
  );
  assert.equal(positions.status, 200);
  return {
    replicas: names(p.replicas('trading')),
    checked: [
      `3 replicas, 1 leader (${runner}); strategy activated on trading-1`,
      `crons ${p.schedule.selectAt.toISOString().slice(11, 19)}/${p.schedule.executeAt.toISOString().slice(11, 19)} UTC, as of ${AS_OF}`,
      `1 select + 1 execute run (${all.map((r) => r.trigger).join(' + ')}), 1 broker order, no repeated client order id`,
      'portfolio on every trading replica: 000010 x 9',
    ],
  };
}

/** 4. Object storage: uploaded through one replica, imported and used on another, exported from a third. */
async function files(p: E2EPlatform): Promise<Checked> {
  const [bt0, bt1] = p.replicas('backtest') as [Replica, Replica];
  const worker = p.replica('backtest-worker', 0);
  const adminId = randomUUID();
  const admin = p.token(adminId, ['user', 'admin']);
  const code = '000050';
  // a rising stock: 10,000 KRW on the first day, +100 KRW a day
  const prices = MARKET_DATES.map((date, i) => ({ date, price: PRICE + 100 * i }));
  const securities = `code,name,market,sector,listed_on,delisted_on\n${code},imported ${code},KOSPI,test,2020-01-01,\n`;
  const bars = `code,date,open,high,low,close,volume,trading_value,market_cap,shares_outstanding\n${prices
    .map(
      ({ date, price }) =>
        `${code},${date},${price},${price},${price},${price},1000,${price * 1000},${price * 1_000_000},1000000`,
    )
    .join('\n')}\n`;
  const upload = async (kind: string, content: string): Promise<string> => {
    const form = new FormData();
    form.append('kind', kind);
    form.append('file', new Blob([content], { type: 'text/csv' }), `${kind}.csv`);
    const res = await fetch(`${bt0.url}/api/backtest/datasets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}` },
      body: form,
      signal: AbortSignal.timeout(30_000),
    });
    const body = (await res.json()) as { id: string };
    assert.equal(res.status, 202, `upload ${kind}: ${res.status} ${JSON.stringify(body)}`);
    const done = await waitFor(
      `dataset ${body.id}`,
      async () => {
        const view = await request('GET', `${bt1.url}/api/backtest/datasets/${body.id}`, { token: admin });
        assert.equal(view.status, 200);
        return ['succeeded', 'failed'].includes(view.body.status) ? view.body : undefined;
      },
      30_000,
      200,
    );
    assert.equal(done.status, 'succeeded', JSON.stringify(done.errors));
    assert.equal(done.rowsInserted, content.trim().split('\n').length - 1);
    return body.id;
  };
  await upload('securities', securities);
  await upload('bars', bars);

  const submitted = await request('POST', `${bt1.url}/api/backtest/backtests`, {
    token: admin,
    body: {
      definition: definition([code], 1, { initialCapital: 10_000_000 }),
      from: MARKET_DATES[0],
      to: MARKET_DATES.at(-1),
    },
  });
  assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
  const id = String(submitted.body.id);
  const done = await waitForBacktest(bt0.url, admin, id);
  assert.equal(done.status, 'succeeded', JSON.stringify(done));
  const ranOn = await workerOf(p, id);
  assert.equal(ranOn, worker.name, 'the worker imported the files and ran the backtest');

  const exported = await request('GET', `${bt1.url}/api/backtest/backtests/${id}/export?format=csv`, { token: admin });
  assert.equal(exported.status, 200);
  assert.match(exported.headers.get('content-type') ?? '', /text\/csv/);
  const lines = String(exported.body).trim().split('\n');
  assert.ok(lines.length >= MARKET_DATES.length - 1, `the whole curve: ${lines.length} lines`);
  const viaGateway = await request('GET', `${p.gateway}/api/backtest/backtests/${id}/export?format=csv`, {
    token: admin,
  });
  assert.equal(viaGateway.status, 200);
  assert.equal(viaGateway.body, exported.body, 'the same file from every replica');
  const metrics = done.metrics as Record<string, number>;
  assert.ok(metrics.totalReturn > 0, `the imported rising prices were used: totalReturn ${metrics.totalReturn}`);
  return {
    replicas: [bt0.name, worker.name, bt1.name],
    checked: [
      `securities + bars CSV uploaded on ${bt0.name}, import status read on ${bt1.name}`,
      `imported and backtested by ${worker.name} (totalReturn ${metrics.totalReturn.toFixed(4)} from the imported prices)`,
      `export (${lines.length} lines) downloaded from ${bt1.name} and through the gateway, identical`,
    ],
  };
}

/** 5. One shared cache: a read on one replica is a hit on the others; an update is seen at once everywhere. */
async function cache(p: E2EPlatform): Promise<Checked> {
  const [bt0, bt1] = p.replicas('backtest') as [Replica, Replica];
  const token = p.token(randomUUID());
  const created = await request('POST', `${bt0.url}/api/backtest/strategies`, {
    token,
    body: { name: 'cached', definition: definition(CODES) },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const id = String(created.body.id);
  const read = async (replica: Replica): Promise<{ cache: string | null; name: string; version: number }> => {
    const res = await request('GET', `${replica.url}/api/backtest/strategies/${id}`, { token });
    assert.equal(res.status, 200);
    return { cache: res.headers.get('x-cache'), name: String(res.body.name), version: Number(res.body.version) };
  };
  const first = await read(bt0);
  assert.equal(first.cache, 'MISS', 'the first read of a new strategy comes from PostgreSQL');
  const second = await read(bt1);
  assert.equal(second.cache, 'HIT', `read on ${bt0.name}, a hit on ${bt1.name}`);
  const again = await read(bt0);
  assert.equal(again.cache, 'HIT');

  const updated = await request('PATCH', `${bt1.url}/api/backtest/strategies/${id}`, {
    token,
    body: { name: 'cached, renamed' },
  });
  assert.equal(updated.status, 200, JSON.stringify(updated.body));
  const newVersion = Number(updated.body.version);
  assert.ok(newVersion > first.version);
  // at once, on both replicas: no stale copy anywhere
  const after = await Promise.all([read(bt0), read(bt1)]);
  for (const view of after) {
    assert.equal(view.name, 'cached, renamed');
    assert.equal(view.version, newVersion);
  }
  const settled = await Promise.all([read(bt0), read(bt1)]);
  assert.deepEqual(
    settled.map((v) => v.cache),
    ['HIT', 'HIT'],
    'the new version is cached for everyone',
  );
  return {
    replicas: [bt0.name, bt1.name],
    checked: [
      `GET on ${bt0.name}: MISS, then on ${bt1.name}: HIT (X-Cache)`,
      `PATCH on ${bt1.name}: the next read on both shows v${newVersion} at once, then HIT on both`,
    ],
  };
}

// ---------------------------------------------------------------------------------------------

export const SCENARIOS = ['1 shared state', '2 revocation', '3 scheduler', '4 files', '5 cache'] as const;

/**
 * Runs the five scenarios on `p` and reports each; a failing scenario does not stop the others.
 * The scheduler's strategy is activated first (its crons fire a fixed time after the trading
 * replicas started); its result is collected last, after the execute cron.
 */
/**
 * Beyond the five: a deleted account stops trading. DELETE /me through the gateway (auth) reaches
 * trading through auth's outbox and the account event stream: the account's auto strategy is
 * wound down and its trading account closed, with no call between the services.
 */
export async function deletedAccountStopsTrading(p: E2EPlatform): Promise<string> {
  const account = await signUpAndLogIn(p.replica('auth', 0), p.replica('auth', 1), 'leaver');
  const created = await request('POST', `${p.gateway}/api/backtest/strategies`, {
    token: account.accessToken,
    body: { name: 'to be deleted', definition: definition(['000010']) },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const activated = await request('POST', `${p.gateway}/api/trading/auto-strategies`, {
    token: account.accessToken,
    body: { strategyId: created.body.id, allocatedCapital: 50_000_000 },
  });
  assert.equal(activated.status, 201, JSON.stringify(activated.body));
  const deleted = await request('DELETE', `${p.gateway}/api/auth/me`, {
    token: account.accessToken,
    body: { password: account.password },
  });
  assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
  const started = Date.now();
  const closed = await waitFor(
    'the trading account closed and its strategy stopped',
    async () => {
      const { rows } = await p.pool.query<{ status: string; closed: boolean }>(
        `SELECT s.status, a.closed_at IS NOT NULL AS closed
           FROM trading.auto_strategies s JOIN trading.accounts a ON a.id = s.account_id WHERE s.id = $1`,
        [activated.body.id],
      );
      return rows[0]?.closed && rows[0].status === 'inactive' ? rows[0] : undefined;
    },
    20_000,
    100,
  );
  assert.equal(closed.status, 'inactive');
  return `account deleted through the gateway; its 50,000,000 KRW auto strategy stopped and the trading account closed ${Date.now() - started} ms later`;
}

export async function runScenarios(p: ScenarioPlatform): Promise<ScenarioRow[]> {
  const state: RunState = {};
  const rows = new Map<string, ScenarioRow>();
  const attempt = async (scenario: string, replicas: string, fn: () => Promise<Checked>): Promise<void> => {
    try {
      const checked = await fn();
      rows.set(scenario, {
        scenario,
        replicas: [...new Set(checked.replicas)].join(', '),
        checked: checked.checked.join('; '),
        result: 'PASS',
      });
    } catch (error) {
      rows.set(scenario, {
        scenario,
        replicas,
        checked: '',
        result: 'FAIL',
        error: error instanceof Error ? error.message : String(error),
      });
    }
  };
  let preparation: Error | undefined;
  await prepareScheduler(p, state).catch((error: unknown) => {
    preparation = error instanceof Error ? error : new Error(String(error));
  });
  await attempt(SCENARIOS[0], 'auth, backtest, trading', () => sharedState(p, state));
  await attempt(SCENARIOS[1], 'auth, backtest, trading', () => revocation(p, state));
  await attempt(SCENARIOS[3], 'backtest, backtest-worker', () => files(p));
  await attempt(SCENARIOS[4], 'backtest', () => cache(p));
  await attempt(SCENARIOS[2], 'trading', () => {
    if (preparation !== undefined) {
      throw preparation;
    }
    return scheduler(p, state);
  });
  return SCENARIOS.map((s) => rows.get(s) as ScenarioRow);
}

/** The rows as a plain-text table: scenario | replicas involved | what was checked | result. */
export function formatTable(rows: ScenarioRow[]): string {
  const header: ScenarioRow = {
    scenario: 'scenario',
    replicas: 'replicas involved',
    checked: 'what was checked',
    result: 'PASS',
  };
  const cells = (r: ScenarioRow, isHeader = false): string[] => [
    r.scenario,
    r.replicas,
    r.result === 'FAIL' ? `FAILED: ${r.error ?? ''}` : r.checked,
    isHeader ? 'result' : r.result,
  ];
  const all = [cells(header, true), ...rows.map((r) => cells(r))];
  const widths = [0, 1, 2, 3].map((i) => Math.max(...all.map((c) => (c[i] ?? '').length)));
  const line = (c: string[]): string => `| ${c.map((v, i) => v.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  const rule = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [line(all[0] ?? []), rule, ...all.slice(1).map(line)].join('\n');
}

export type { ServiceName };
