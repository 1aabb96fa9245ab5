import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Daily bars shaped for bulk loads (plain-bars-load.ts):
 * - the bars format's row rules as a CHECK constraint, so that PostgreSQL itself refuses a bar
 *   the CSV rules refuse, and COPY validates every row without a line of JavaScript per row;
 * - the primary key ordered (date, code): bars arrive day by day, so a bulk load's keys come
 *   presorted and the index builds in a third of the time, and it serves the date-range reads
 *   (a trading window, a day's bars) that needed a second index on date before.
 */
export class DailyBarsRowRulesAndDateFirstKey1764950000000 implements MigrationInterface {
  name = 'DailyBarsRowRulesAndDateFirstKey1764950000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE market.daily_bars ADD CONSTRAINT ck_daily_bars_row_rules CHECK (${DAILY_BARS_ROW_RULES})`,
    );
    await q.query(`DROP INDEX market.ix_daily_bars_date`);
    await q.query(`ALTER TABLE market.daily_bars DROP CONSTRAINT daily_bars_pkey`);
    await q.query(`ALTER TABLE market.daily_bars ADD CONSTRAINT daily_bars_pkey PRIMARY KEY (date, code)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE market.daily_bars DROP CONSTRAINT daily_bars_pkey`);
    await q.query(`ALTER TABLE market.daily_bars ADD CONSTRAINT daily_bars_pkey PRIMARY KEY (code, date)`);
    await q.query(`CREATE INDEX ix_daily_bars_date ON market.daily_bars (date)`);
    await q.query(`ALTER TABLE market.daily_bars DROP CONSTRAINT ck_daily_bars_row_rules`);
  }
}

/**
 * CSV_FORMATS.md's rules for one bar, as the JavaScript parser (market-csv.ts) checks them: every
 * price > 0 follows from low > 0 and the ordering, and the upper bounds refuse NaN as well as
 * infinities (PostgreSQL orders NaN above every number). The code's shape needs no rule here:
 * the foreign key admits only codes of market.securities, whose loader checks them.
 */
export const DAILY_BARS_ROW_RULES = [
  `low > 0 AND low <= high AND high < 'Infinity'`,
  `open BETWEEN low AND high AND close BETWEEN low AND high`,
  `volume >= 0 AND volume <= 9007199254740991 AND shares_outstanding > 0 AND shares_outstanding <= 9007199254740991`,
  `trading_value >= 0 AND trading_value < 'Infinity' AND market_cap >= 0 AND market_cap < 'Infinity'`,
  `date BETWEEN DATE '1900-01-01' AND DATE '2100-12-31'`,
].join(' AND ');
