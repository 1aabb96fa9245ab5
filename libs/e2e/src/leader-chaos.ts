import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { request, requestPatiently, type Replica } from '@stocklab/test-support';
import type pg from 'pg';
import {
  CODES,
  extendMarket,
  MARKET_DATES,
  PRICE,
  prng,
  seedStrategy,
  startE2EPlatform,
  waitFor,
  type E2EPlatform,
} from './harness.js';

/**
 * The scheduler leader SIGKILLed at seeded random moments of `execute`, once per trading day of
 * the crafted market (continued past MARKET_DATES when more days are needed). The trading service
 * alone (3 replicas, Lease election through the launcher's Lease API double); strategies are
 * written straight to the database; every run is triggered through the API (the harness keeps
 * the crons away). The run only observes: judging the facts is the caller's
 * (the suite asserts them, the CLI prints them).
 */

/** The seed the suite runs with. */
export const LEADER_CHAOS_SEED = 20261126;
/** Strategies seeded per day, each buying one code: the orders every execute must send, exactly once. */
export const ORDERS_PER_DAY = 3;
/** Market days kept before the first execute day, so that it has a signal day and some history. */
const HISTORY_DAYS = 3;
const CAPITAL = 10 * PRICE;
/** Shares each strategy buys: its whole capital at the engine's buy limit, the signal close + 5 % (9). */
export const SHARES_PER_ORDER = Math.floor(CAPITAL / (PRICE * 1.05));

export interface LeaderChaosOptions {
  iterations: number;
  seed: number;
  /** progress, one line per event worth knowing during a long run */
  log?: (line: string) => void;
}

export interface KillRecord {
  day: string;
  replica: string;
  /** the fills the run had reached when the kill was due, and the extra delay after them */
  fills: number;
  extraMs: number;
  /** the execute run's status right after the kill: `running` = the kill landed mid-run */
  statusAtKill: string;
  /** from the kill to a replica reporting itself leader (undefined: none within the wait) */
  takeoverMs: number | undefined;
  /** from the kill to the execute run succeeded (re-triggered on a survivor) */
  recoveryMs: number;
}

export interface IntendedOrder {
  strategyId: string;
  day: string;
  code: string;
}

/** (strategy, day) pairs whose order count at the broker differs from the intended one. */
export interface OrderCountMismatch {
  strategyId: string;
  day: string;
  intended: number;
  atBroker: number;
}

export interface LeaderChaosReport {
  seed: number;
  /** iterations asked for */
  iterations: number;
  /** the execute days the iterations ran on (one per completed iteration) */
  days: string[];
  /** the days added after MARKET_DATES for this run */
  addedMarketDays: string[];
  /** the error that stopped an iteration, if one did (the facts below cover what ran until then) */
  failure?: string;
  kills: KillRecord[];
  killsMidRun: number;
  intended: IntendedOrder[];
  ordersIntended: number;
  /** every order the broker holds (trading.paper_orders) */
  ordersAtBroker: number;
  /** orders at the broker per `${strategyId}@${day}` (the intent's trading date) */
  ordersPerStrategyDay: Map<string, number>;
  /** more orders than intended for a (strategy, day): the failure this chaos looks for */
  overOrdered: OrderCountMismatch[];
  /** fewer orders than intended: a run that gave up on an order */
  underOrdered: OrderCountMismatch[];
  /** client order ids the broker received more than once (trading.paper_order_requests) */
  duplicateClientOrderIds: Array<{ clientOrderId: string; requests: number }>;
  positions: Array<{ strategyId: string; code: string; quantity: number }>;
  /** job runs by (job, status), sorted */
  runs: Array<{ job: string; status: string; count: number }>;
  /** occurrences (select or execute of an iteration's day) without a succeeded run */
  unfinishedRuns: number;
  /** trading replicas not running when the iterations were over */
  replicasDown: string[];
  wallMs: number;
}

type Observed = Omit<LeaderChaosReport, 'wallMs'>;

export async function runLeaderChaos(options: LeaderChaosOptions): Promise<LeaderChaosReport> {
  const started = performance.now();
  const log = options.log ?? (() => undefined);
  log(`starting trading x3 (seed ${options.seed}, ${options.iterations} iterations)`);
  const p = await startE2EPlatform({
    services: ['trading'],
    serviceEnv: {
      trading: {
        // The paper broker fills at this day's open, whatever the run's date; the API trigger takes
        // any trading day, before or after it, and select reads the market up to the day before the
        // run's. So the days added after MARKET_DATES run exactly like the others.
        TRADING_AS_OF_DATE: MARKET_DATES.at(-1) ?? '',
        // every broker call takes a while, so that a kill lands between orders
        PAPER_BROKER_LATENCY_MS: '350',
        LEASE_DURATION_SECONDS: '2',
        RENEW_DEADLINE_SECONDS: '1.5',
        RETRY_PERIOD_SECONDS: '0.25',
        CATCH_UP_INTERVAL_SECONDS: '1',
        STALE_RUN_SECONDS: '5',
        SHUTDOWN_DRAIN_MS: '100',
      },
    },
  });
  let observed: Observed;
  try {
    observed = await observeChaos(p, options, log);
  } finally {
    log('stopping the platform');
    await p.stop();
  }
  return { ...observed, wallMs: performance.now() - started };
}

async function observeChaos(
  p: E2EPlatform,
  { iterations, seed }: LeaderChaosOptions,
  log: (line: string) => void,
): Promise<Observed> {
  const admin = p.token(randomUUID(), ['user', 'admin']);
  const missing = HISTORY_DAYS + iterations - MARKET_DATES.length;
  const addedMarketDays = await extendMarket(p.pool, missing);
  if (addedMarketDays.length > 0) {
    log(`market continued with ${addedMarketDays.length} days: ${addedMarketDays[0]} .. ${addedMarketDays.at(-1)}`);
  }
  const days = [...MARKET_DATES, ...addedMarketDays].slice(HISTORY_DAYS, HISTORY_DAYS + iterations);
  const random = prng(seed);
  const intended: IntendedOrder[] = [];
  const kills: KillRecord[] = [];
  const restarts = new Restarts();
  let failure: string | undefined;
  for (const day of days) {
    try {
      const kill = await killDuringExecute(p, admin, day, random, intended, restarts);
      kills.push(kill);
      log(`[${kills.length}/${iterations}] ${describeKill(kill)}`);
    } catch (error) {
      failure = error instanceof Error ? error.message : String(error);
      log(`[${kills.length + 1}/${iterations}] ${day} FAILED: ${failure}`);
      break;
    }
  }
  const notBack = await restarts.settled();
  if (failure === undefined && notBack !== undefined) {
    failure = notBack;
    log(`a killed replica did not come back: ${notBack}`);
  }
  const attempted = days.slice(0, kills.length + (failure === undefined ? 0 : 1));
  const facts = await collectFacts(p.pool, intended, attempted);
  return {
    seed,
    iterations,
    days: kills.map((k) => k.day),
    addedMarketDays,
    ...(failure === undefined ? {} : { failure }),
    kills,
    killsMidRun: kills.filter((k) => k.statusAtKill === 'running').length,
    intended,
    ordersIntended: intended.length,
    ...facts,
    replicasDown: p
      .replicas('trading')
      .filter((r) => !r.running)
      .map((r) => r.name),
  };
}

/** `2026-03-05: trading-1 after 1 fill(s) + 123 ms (running); new leader in 2.5 s, run succeeded 3.6 s after the kill` */
export function describeKill(k: KillRecord): string {
  const takeover = k.takeoverMs === undefined ? 'no leader seen' : `new leader in ${seconds(k.takeoverMs)}`;
  return `${k.day}: ${k.replica} after ${k.fills} fill(s) + ${k.extraMs} ms (${k.statusAtKill}); ${takeover}, run succeeded ${seconds(k.recoveryMs)} after the kill`;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/**
 * The killed replicas being started again. An iteration does not wait for its victim to be back:
 * the next one runs on the others meanwhile (on a loaded machine a start took 8-24 s, most of an
 * iteration), with the starting replica a candidate for the Lease like any other.
 */
class Restarts {
  private readonly pending = new Map<Replica, Promise<void>>();
  private readonly failures: string[] = [];

  add(replica: Replica): void {
    const done = replica.restart().then(
      () => undefined,
      (error: unknown) => {
        this.failures.push(`${replica.name}: ${error instanceof Error ? error.message : String(error)}`);
      },
    );
    this.pending.set(
      replica,
      done.finally(() => this.pending.delete(replica)),
    );
  }

  /** Still starting: not ready, so neither asked nor killed. */
  has(replica: Replica): boolean {
    return this.pending.has(replica);
  }

  /** Waits for every start; the first that failed, if one did. */
  async settled(): Promise<string | undefined> {
    await Promise.all(this.pending.values());
    return this.failures[0];
  }
}

interface SchedulerView {
  role: string;
  identity?: string;
}

/** The replica's scheduler role (`leader`, `follower`) and identity, `HTTP <status>`, or `unreachable`. */
async function schedulerView(replica: Replica, token: string): Promise<SchedulerView> {
  if (!replica.running) {
    return { role: 'down' };
  }
  try {
    const res = await request<{ role?: string; identity?: string }>('GET', `${replica.url}/api/trading/scheduler`, {
      token,
    });
    return res.status === 200
      ? { role: String(res.body.role), identity: res.body.identity }
      : { role: `HTTP ${res.status}` };
  } catch {
    return { role: 'unreachable' };
  }
}

/** The trading replicas running and not starting. */
function ready(p: E2EPlatform, restarts: Restarts): Replica[] {
  return p.replicas('trading').filter((r) => r.running && !restarts.has(r));
}

const LEASE_PATH = '/apis/coordination.k8s.io/v1/namespaces/default/leases/trading-scheduler';

/** The Lease's holder, as the launcher's Lease API double (the election's source of truth) has it. */
async function leaseHolder(p: E2EPlatform): Promise<string> {
  const api = p.platform.leaseApi;
  if (!api) {
    throw new Error('the trading replicas do not elect through a Lease API');
  }
  const res = await request<{ spec?: { holderIdentity?: string } }>('GET', `${api.url}${LEASE_PATH}`);
  return res.status === 200 ? (res.body.spec?.holderIdentity ?? '') : '';
}

/**
 * The leader: the ready replica that holds the Lease and reports itself leader, once it is the
 * only one reporting so. A replica still starting is not asked (it may not listen yet); while it
 * holds the Lease, there is no leader to return and this waits.
 */
async function leader(p: E2EPlatform, token: string, restarts: Restarts): Promise<Replica> {
  let lastSeen = 'no answer yet';
  try {
    return await waitFor(
      'exactly one leader, holding the Lease',
      async () => {
        const up = ready(p, restarts);
        const [holder, views] = await Promise.all([
          leaseHolder(p),
          Promise.all(up.map((r) => schedulerView(r, token))),
        ]);
        lastSeen = `Lease held by ${holder || 'nobody'}; ${up.map((r, i) => `${r.name} ${views[i]?.role}`).join(', ')}`;
        const leading = up.flatMap((replica, i) =>
          views[i]?.role === 'leader' ? [{ replica, identity: views[i]?.identity }] : [],
        );
        const [only] = leading;
        return leading.length === 1 && only?.identity === holder ? only.replica : undefined;
      },
      // a bound, not a measure: a replica that won the Lease while starting is waited for until
      // it is ready, which the replicas allow 90 s
      100_000,
      50,
    );
  } catch (error) {
    throw new Error(`${error instanceof Error ? error.message : String(error)} (last seen: ${lastSeen})`, {
      cause: error,
    });
  }
}

/** Milliseconds from `since` until some replica reports itself leader; undefined if none does in time. */
async function timeToLeader(p: E2EPlatform, token: string, since: number): Promise<number | undefined> {
  try {
    await waitFor(
      'a new leader',
      async () => {
        const views = await Promise.all(p.replicas('trading').map((r) => schedulerView(r, token)));
        return views.some((v) => v.role === 'leader') ? true : undefined;
      },
      20_000,
      50,
    );
    return performance.now() - since;
  } catch {
    return undefined;
  }
}

async function runOf(
  pool: pg.Pool,
  job: string,
  day: string,
): Promise<{ status: string; run_key: string } | undefined> {
  const { rows } = await pool.query<{ status: string; run_key: string }>(
    `SELECT status, run_key FROM trading.job_runs WHERE job = $1 AND trading_date = $2`,
    [job, day],
  );
  return rows[0];
}

/** Triggers `job` for `day` through the admin API; `step` names the call in the error when it is refused. */
async function trigger(
  replica: Replica,
  token: string,
  job: 'select' | 'execute',
  day: string,
  step: string,
): Promise<void> {
  // a 503 with Retry-After (e.g. revocation briefly unverifiable on a starved machine) was refused
  // before anything ran, and a run key runs once whatever the triggers: retrying is the contract
  const res = await requestPatiently<unknown>('POST', `${replica.url}/api/trading/jobs/${job}/runs`, {
    token,
    body: { date: day },
  });
  if (![200, 201].includes(res.status)) {
    throw new Error(`${step} ${day}: ${res.status} ${JSON.stringify(res.body)}`);
  }
}

/**
 * One iteration: seeds the day's strategies, selects on the leader, executes on the leader and
 * SIGKILLs it after 0..ORDERS_PER_DAY-1 fills plus 0-299 ms, starts it again, re-triggers on a
 * survivor (as an external scheduler retrying would) and waits for the run to succeed (not for
 * the victim to be back: see Restarts).
 */
async function killDuringExecute(
  p: E2EPlatform,
  admin: string,
  day: string,
  random: () => number,
  intended: IntendedOrder[],
  restarts: Restarts,
): Promise<KillRecord> {
  const user = randomUUID();
  for (const code of CODES.slice(0, ORDERS_PER_DAY)) {
    intended.push({ strategyId: await seedStrategy(p.pool, user, [code], CAPITAL), day, code });
  }
  const selector = await leader(p, admin, restarts);
  await trigger(selector, admin, 'select', day, 'select');
  await waitFor(
    `select ${day} to succeed`,
    async () => ((await runOf(p.pool, 'select', day))?.status === 'succeeded' ? true : undefined),
    30_000,
  );

  // the run is re-triggered on a replica that is up: on a loaded machine the last two victims
  // can both be starting still, which would leave the victim alone
  await waitFor(
    'two trading replicas ready',
    async () => (ready(p, restarts).length >= 2 ? true : undefined),
    100_000,
    50,
  );
  const victim = await leader(p, admin, restarts);
  const fills = Math.floor(random() * ORDERS_PER_DAY);
  const extraMs = Math.floor(random() * 300);
  // the victim's answer never comes: it dies while running the job
  const call = trigger(victim, admin, 'execute', day, 'execute').catch(() => undefined);
  await waitFor(
    `execute ${day} to reach ${fills} fill(s)`,
    async () => {
      const run = await runOf(p.pool, 'execute', day);
      if (!run) {
        return undefined;
      }
      const { rows } = await p.pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM trading.order_intents WHERE run_key = $1 AND status = 'filled'`,
        [run.run_key],
      );
      return Number(rows[0]?.n) >= fills || run.status !== 'running' ? true : undefined;
    },
    20_000,
    10,
  );
  await sleep(extraMs);
  await victim.kill();
  const killedAt = performance.now();
  const statusAtKill = (await runOf(p.pool, 'execute', day))?.status ?? 'no run';
  await call;

  const takeover = timeToLeader(p, admin, killedAt);
  restarts.add(victim);
  const survivor = ready(p, restarts).find((r) => r !== victim);
  if (!survivor) {
    throw new Error(`no survivor to re-trigger execute ${day} on`);
  }
  await trigger(survivor, admin, 'execute', day, 're-trigger');
  await waitFor(
    `execute ${day} to succeed after the kill`,
    async () => ((await runOf(p.pool, 'execute', day))?.status === 'succeeded' ? true : undefined),
    30_000,
  );
  const recoveryMs = performance.now() - killedAt;
  return { day, replica: victim.name, fills, extraMs, statusAtKill, takeoverMs: await takeover, recoveryMs };
}

const pairKey = (strategyId: string, day: string): string => `${strategyId}@${day}`;

type Facts = Pick<
  LeaderChaosReport,
  | 'ordersAtBroker'
  | 'ordersPerStrategyDay'
  | 'overOrdered'
  | 'underOrdered'
  | 'duplicateClientOrderIds'
  | 'positions'
  | 'runs'
  | 'unfinishedRuns'
>;

/** What the database says happened, read after the last iteration. */
async function collectFacts(pool: pg.Pool, intended: IntendedOrder[], attemptedDays: string[]): Promise<Facts> {
  const { rows: perPair } = await pool.query<{ id: string; day: string; n: string }>(
    `SELECT i.auto_strategy_id AS id, to_char(i.trading_date, 'YYYY-MM-DD') AS day, count(*) AS n
       FROM trading.paper_orders o JOIN trading.order_intents i USING (client_order_id)
      GROUP BY 1, 2`,
  );
  const ordersPerStrategyDay = new Map(perPair.map((r) => [pairKey(r.id, r.day), Number(r.n)]));
  const intendedPerPair = new Map(intended.map((o) => [pairKey(o.strategyId, o.day), 1]));
  const mismatch = (key: string): OrderCountMismatch => {
    const [strategyId = '', day = ''] = key.split('@');
    return {
      strategyId,
      day,
      intended: intendedPerPair.get(key) ?? 0,
      atBroker: ordersPerStrategyDay.get(key) ?? 0,
    };
  };
  const pairs = [...new Set([...ordersPerStrategyDay.keys(), ...intendedPerPair.keys()])].map(mismatch);

  const { rows: total } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM trading.paper_orders`);
  const { rows: repeated } = await pool.query<{ client_order_id: string; n: string }>(
    `SELECT client_order_id, count(*) AS n FROM trading.paper_order_requests GROUP BY client_order_id HAVING count(*) > 1`,
  );
  const { rows: positions } = await pool.query<{ id: string; code: string; quantity: string }>(
    `SELECT auto_strategy_id AS id, code, quantity FROM trading.positions`,
  );
  const { rows: runs } = await pool.query<{ job: string; day: string; status: string }>(
    `SELECT job, to_char(trading_date, 'YYYY-MM-DD') AS day, status FROM trading.job_runs ORDER BY job, status`,
  );
  const succeeded = new Set(runs.filter((r) => r.status === 'succeeded').map((r) => `${r.job}@${r.day}`));
  const runCounts = new Map<string, { job: string; status: string; count: number }>();
  for (const r of runs) {
    const key = `${r.job}/${r.status}`;
    const entry = runCounts.get(key) ?? { job: r.job, status: r.status, count: 0 };
    entry.count += 1;
    runCounts.set(key, entry);
  }
  return {
    ordersAtBroker: Number(total[0]?.n),
    ordersPerStrategyDay,
    overOrdered: pairs.filter((m) => m.atBroker > m.intended),
    underOrdered: pairs.filter((m) => m.atBroker < m.intended),
    duplicateClientOrderIds: repeated.map((r) => ({ clientOrderId: r.client_order_id, requests: Number(r.n) })),
    positions: positions.map((r) => ({ strategyId: r.id, code: r.code, quantity: Number(r.quantity) })),
    runs: [...runCounts.values()],
    unfinishedRuns: attemptedDays.flatMap((day) =>
      ['select', 'execute'].filter((job) => !succeeded.has(`${job}@${day}`)),
    ).length,
  };
}

/** Strategies whose position is not exactly the one order intended for them. */
function positionMismatches(report: LeaderChaosReport): string[] {
  const held = new Map<string, string[]>();
  for (const p of report.positions) {
    held.set(p.strategyId, [...(held.get(p.strategyId) ?? []), `${p.code} x ${p.quantity}`]);
  }
  const out: string[] = [];
  for (const o of report.intended) {
    const expected = `${o.code} x ${SHARES_PER_ORDER}`;
    const actual = held.get(o.strategyId) ?? [];
    if (actual.length !== 1 || actual[0] !== expected) {
      out.push(`${o.strategyId} holds [${actual.join(', ')}], not ${expected}`);
    }
    held.delete(o.strategyId);
  }
  for (const [id, actual] of held) {
    out.push(`${id}, a strategy never seeded, holds [${actual.join(', ')}]`);
  }
  return out;
}

/** Every broken invariant of the run, in words; empty when the run proves what it should. */
export function leaderChaosViolations(report: LeaderChaosReport): string[] {
  const out: string[] = [];
  if (report.failure !== undefined) {
    out.push(`iteration ${report.kills.length + 1} failed: ${report.failure}`);
  }
  if (report.overOrdered.length > 0) {
    out.push(`${report.overOrdered.length} (strategy, day) pair(s) with more orders than intended`);
  }
  if (report.underOrdered.length > 0) {
    out.push(`${report.underOrdered.length} (strategy, day) pair(s) missing their order`);
  }
  if (report.ordersAtBroker !== report.ordersIntended) {
    out.push(`${report.ordersAtBroker} orders at the broker for ${report.ordersIntended} intended`);
  }
  if (report.duplicateClientOrderIds.length > 0) {
    out.push(`${report.duplicateClientOrderIds.length} client order id(s) reached the broker more than once`);
  }
  const positions = positionMismatches(report);
  if (positions.length > 0) {
    out.push(`${positions.length} strateg(ies) with a wrong position, e.g. ${positions[0]}`);
  }
  if (report.unfinishedRuns > 0) {
    out.push(`${report.unfinishedRuns} run(s) not succeeded`);
  }
  if (report.replicasDown.length > 0) {
    out.push(`not back: ${report.replicasDown.join(', ')}`);
  }
  // not a safety invariant, but without it the run proves little: the kills must hit running work
  if (report.killsMidRun < report.kills.length / 2) {
    out.push(`only ${report.killsMidRun} of ${report.kills.length} kills landed while execute was running`);
  }
  return out;
}

function percentile(values: number[], q: number): number | undefined {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? undefined : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const secondsOrDash = (ms: number | undefined): string => (ms === undefined ? '-' : seconds(ms));

/** The run's numbers as a two-column table, then its violations (if any). */
export function formatLeaderChaosSummary(report: LeaderChaosReport): string {
  const takeovers = report.kills.flatMap((k) => (k.takeoverMs === undefined ? [] : [k.takeoverMs]));
  const recoveries = report.kills.map((k) => k.recoveryMs);
  const violations = leaderChaosViolations(report);
  const rows: Array<[string, string]> = [
    ['seed', String(report.seed)],
    ['iterations (completed / asked)', `${report.kills.length} / ${report.iterations}`],
    ['execute days', report.days.length > 0 ? `${report.days[0]} .. ${report.days.at(-1)}` : '-'],
    ['kills landed mid-run', `${report.killsMidRun} / ${report.kills.length}`],
    ['orders intended', String(report.ordersIntended)],
    ['orders at the broker', String(report.ordersAtBroker)],
    ['duplicate client order ids at the broker', String(report.duplicateClientOrderIds.length)],
    ['over-ordered (strategy, day) pairs', String(report.overOrdered.length)],
    ['under-ordered (strategy, day) pairs', String(report.underOrdered.length)],
    ['unfinished runs', String(report.unfinishedRuns)],
    ['replicas not back', String(report.replicasDown.length)],
    [
      'kill -> new leader (p50 / max)',
      `${secondsOrDash(percentile(takeovers, 0.5))} / ${secondsOrDash(percentile(takeovers, 1))}`,
    ],
    [
      'kill -> run succeeded (p50 / max)',
      `${secondsOrDash(percentile(recoveries, 0.5))} / ${secondsOrDash(percentile(recoveries, 1))}`,
    ],
    ['wall time', seconds(report.wallMs)],
    ['result', violations.length === 0 ? 'PASS' : 'FAIL'],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  const valueWidth = Math.max(...rows.map(([, value]) => value.length));
  const rule = `|${'-'.repeat(width + 2)}|${'-'.repeat(valueWidth + 2)}|`;
  const table = [
    `| ${'measure'.padEnd(width)} | ${'value'.padEnd(valueWidth)} |`,
    rule,
    ...rows.map(([name, value]) => `| ${name.padEnd(width)} | ${value.padEnd(valueWidth)} |`),
  ];
  return [...table, ...violations.map((v) => `violation: ${v}`)].join('\n');
}
