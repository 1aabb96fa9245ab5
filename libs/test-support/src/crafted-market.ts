import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import type pg from 'pg';

/**
 * The crafted market the trading and end-to-end tests share: four stocks whose every price is
 * 10,000 KRW on KRX trading days, so that a strategy's orders can be computed by hand (a weight w
 * of cash C buys floor(C x w / 10,000) shares), and the fixtures written straight to the database
 * around it. The market schema comes with the backtest migrations, the trading one with trading's.
 */

/** The crafted market: four stocks, every open and close 10,000 KRW, on weekdays that are KRX trading days. */
export const CODES = ['000010', '000020', '000030', '000040'] as const;
export const PRICE = 10_000;
/** 2026-03-02 is a holiday (substitute for March 1st); every other date here is a trading day. */
export const MARKET_DATES: readonly string[] = [
  '2026-02-26',
  '2026-02-27',
  '2026-03-03',
  '2026-03-04',
  '2026-03-05',
  '2026-03-06',
  '2026-03-09',
  '2026-03-10',
  '2026-03-11',
  '2026-03-12',
  '2026-03-13',
  '2026-03-16',
  '2026-03-17',
  '2026-03-18',
  '2026-03-19',
  '2026-03-20',
  '2026-03-23',
  '2026-03-24',
  '2026-03-25',
  '2026-03-26',
  '2026-03-27',
  '2026-03-30',
  '2026-03-31',
  '2026-04-01',
  '2026-04-02',
  '2026-04-03',
  '2026-04-06',
  '2026-04-07',
  '2026-04-08',
  '2026-04-09',
  '2026-04-10',
];

/** A strategy definition over `codes` that picks all of them, equal weight, no costs. */
export function definition(
  codes: readonly string[],
  maxPositions = codes.length,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    schemaVersion: 1,
    universe: { scope: 'codes', codes: [...codes] },
    ranking: { factor: 'close', order: 'desc' },
    maxPositions,
    weighting: { method: 'equal' },
    rebalance: 'daily',
    costs: { commissionBps: 0, sellTaxBps: 0, slippageBps: 0 },
    initialCapital: 1_000_000,
    ...overrides,
  };
}

/** Asia/Seoul keeps no daylight saving time: always UTC+9. */
const SEOUL_OFFSET_MS = 9 * 3600_000;

/** A cron expression (with seconds) that fires once a day at `at`'s wall-clock time in Asia/Seoul. */
export function cronAt(at: Date): string {
  const seoul = new Date(at.getTime() + SEOUL_OFFSET_MS);
  return `${seoul.getUTCSeconds()} ${seoul.getUTCMinutes()} ${seoul.getUTCHours()} * * *`;
}

const DAY_MS = 86_400_000;

/**
 * How long to wait, at `now`, until the wall clock in Asia/Seoul is at least `sinceMidnightMs` past
 * midnight and at least `beforeMidnightMs` before the next one (0 when it already is).
 */
export function msUntilAwayFromSeoulMidnight(now: number, sinceMidnightMs: number, beforeMidnightMs: number): number {
  const ofDay = (now + SEOUL_OFFSET_MS) % DAY_MS;
  if (ofDay < sinceMidnightMs) {
    return sinceMidnightMs - ofDay;
  }
  return ofDay > DAY_MS - beforeMidnightMs ? DAY_MS - ofDay + sinceMidnightMs : 0;
}

/**
 * Waits as msUntilAwayFromSeoulMidnight says. A test whose cron lies `sinceMidnightMs` in the past
 * (cronAt) needs it on the same Seoul day as the sweeps that judge it over the next
 * `beforeMidnightMs`: across midnight the occurrence would be tomorrow's, not yet due.
 */
export async function awayFromSeoulMidnight(sinceMidnightMs: number, beforeMidnightMs: number): Promise<void> {
  await sleep(msUntilAwayFromSeoulMidnight(Date.now(), sinceMidnightMs, beforeMidnightMs));
}

/** A cron whose occurrence today lies hours ahead (it does not fire during a test). */
export function cronLater(): string {
  return cronAt(new Date(Date.now() + 6 * 3600_000));
}

/**
 * Every trading cron hours away: no job fires because of the hour a test happens to run at (the
 * default reconcile at 15:40 Seoul time, with its catch-up grace, once ran on a replayed trading
 * day in a suite started at 15:50). A test wanting a job's cron sets that one after these.
 */
export function tradingCronsLater(): Record<string, string> {
  const later = cronLater();
  return {
    TRADING_SELECT_CRON: later,
    TRADING_EXECUTE_CRON: later,
    TRADING_RECONCILE_CRON: later,
    TRADING_INGEST_CRON: later,
  };
}

/** Inserts the crafted market on `dates` (after the backtest migrations created the market schema). */
export async function seedMarket(pool: pg.Pool, dates: readonly string[] = MARKET_DATES): Promise<void> {
  for (const code of CODES) {
    await pool.query(
      `INSERT INTO market.securities (code, name, market, sector, listed_on) VALUES ($1, $2, 'KOSPI', 'test', '2020-01-01')`,
      [code, `stock ${code}`],
    );
  }
  await seedMarketDays(pool, dates);
}

/**
 * Adds `dates` to the crafted market: a bar at PRICE for every one of CODES and a trading day each,
 * then bumps market.data_version so that every replica's market snapshot reloads.
 */
export async function seedMarketDays(pool: pg.Pool, dates: readonly string[]): Promise<void> {
  for (const code of CODES) {
    for (const date of dates) {
      await pool.query(
        `INSERT INTO market.daily_bars (code, date, open, high, low, close, volume, trading_value, market_cap, shares_outstanding)
         VALUES ($1, $2, $3, $3, $3, $3, 1000, $4, $5, 1000000)`,
        [code, date, PRICE, PRICE * 1000, PRICE * 1_000_000],
      );
    }
  }
  for (const date of dates) {
    await pool.query(`INSERT INTO market.trading_days (date) VALUES ($1)`, [date]);
  }
  await pool.query(`UPDATE market.data_version SET version = version + 1`);
}

/** 2026-04-10 -> 2026-04-11 (calendar arithmetic on the date alone, no time zone involved). */
function nextCalendarDay(isoDate: string): string {
  return new Date(Date.parse(`${isoDate}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
}

/**
 * Continues the crafted market past MARKET_DATES with `count` further trading days, as trading's
 * own calendar defines them (weekdays not in trading.holidays): a run the trading service refuses
 * as a holiday could not be a chaos iteration. Needs the trading migrations (they create and fill
 * trading.holidays); call it once. Returns the added days, in order.
 */
export async function extendMarket(pool: pg.Pool, count: number): Promise<string[]> {
  if (count <= 0) {
    return [];
  }
  const { rows } = await pool.query<{ date: string }>(
    `SELECT to_char(date, 'YYYY-MM-DD') AS date FROM trading.holidays`,
  );
  const holidays = new Set(rows.map((r) => r.date));
  const added: string[] = [];
  let day = MARKET_DATES.at(-1) ?? '';
  while (added.length < count) {
    day = nextCalendarDay(day);
    const weekday = new Date(`${day}T00:00:00Z`).getUTCDay();
    if (weekday !== 0 && weekday !== 6 && !holidays.has(day)) {
      added.push(day);
    }
  }
  await seedMarketDays(pool, added);
  return added;
}

/** Fixture: a user's paper account and an active auto strategy on `codes`, written straight to the database. */
export async function seedStrategy(
  pool: pg.Pool,
  userId: string,
  codes: readonly string[],
  capital: number,
  rules: Record<string, unknown> = definition(codes),
): Promise<string> {
  const account = await pool.query<{ id: string }>(
    `INSERT INTO trading.accounts (user_id, cash, initial_cash) VALUES ($1, 100000000 - $2::bigint, 100000000)
     ON CONFLICT (user_id) DO UPDATE SET cash = accounts.cash - $2::bigint RETURNING id`,
    [userId, capital],
  );
  const accountId = account.rows[0]?.id;
  await pool.query(
    `INSERT INTO trading.paper_accounts (account_id, cash) VALUES ($1, 100000000) ON CONFLICT DO NOTHING`,
    [accountId],
  );
  const row = await pool.query<{ id: string }>(
    `INSERT INTO trading.auto_strategies (owner_id, account_id, source_strategy_id, source_version, name, rules, allocated_capital, cash, status)
     VALUES ($1, $2, $3, 1, 'seeded', $4, $5, $5, 'active') RETURNING id`,
    [userId, accountId, randomUUID(), JSON.stringify(rules), capital],
  );
  return row.rows[0]?.id;
}
