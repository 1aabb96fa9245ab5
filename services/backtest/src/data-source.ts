import { serviceDataSourceOptions } from '@stocklab/platform';
import type { DataSourceOptions } from 'typeorm';
import type { BacktestConfig } from './config.js';
import { BACKTEST_ENTITIES } from './entities.js';
import { CreateMarketAndBacktestTables1764150000000 } from './migrations/1764150000000-create-market-and-backtest-tables.js';
import { AddBacktestIdempotencyKey1764400000000 } from './migrations/1764400000000-add-backtest-idempotency-key.js';
import { DailyBarsRowRulesAndDateFirstKey1764950000000 } from './migrations/1764950000000-daily-bars-row-rules-and-date-first-key.js';
import { DataVersionLog1765100000000 } from './migrations/1765100000000-data-version-log.js';
import { IngestRuns1765300000000 } from './migrations/1765300000000-ingest-runs.js';
import { SecurityClassifications1765500000000 } from './migrations/1765500000000-security-classifications.js';
import { CorporateActions1765600000000 } from './migrations/1765600000000-corporate-actions.js';
import { StatementFields1765700000000 } from './migrations/1765700000000-statement-fields.js';
import { KonexMarket1765800000000 } from './migrations/1765800000000-konex-market.js';

export const BACKTEST_SCHEMA = 'backtest';

/** The backtest service's one data source definition: app, worker and dist/bundle/migrate.js. */
export function backtestDataSourceOptions(config: BacktestConfig, role = 'api'): DataSourceOptions {
  return serviceDataSourceOptions({
    schema: BACKTEST_SCHEMA,
    databaseUrl: config.DATABASE_URL,
    poolSize: config.DB_POOL_SIZE,
    entities: BACKTEST_ENTITIES,
    migrations: [
      CreateMarketAndBacktestTables1764150000000,
      AddBacktestIdempotencyKey1764400000000,
      DailyBarsRowRulesAndDateFirstKey1764950000000,
      DataVersionLog1765100000000,
      IngestRuns1765300000000,
      SecurityClassifications1765500000000,
      CorporateActions1765600000000,
      StatementFields1765700000000,
      KonexMarket1765800000000,
    ],
    applicationName: `backtest-${role}:${config.POD_NAME}`,
  });
}
