import { BrokerAccounts1765000000000 } from './migrations/1765000000000-broker-accounts.js';
import { KiwoomOrders1765100000000 } from './migrations/1765100000000-kiwoom-orders.js';
import { CorporateActionAdjustments1765500000000 } from './migrations/1765500000000-corporate-action-adjustments.js';
import { ClosedAccounts1764900000000 } from './migrations/1764900000000-closed-accounts.js';
import { IngestJob1765400000000 } from './migrations/1765400000000-ingest-job.js';
import { serviceDataSourceOptions } from '@stocklab/platform';
import type { DataSourceOptions } from 'typeorm';
import type { TradingConfig } from './config.js';
import { CreateTradingTables1764160000000 } from './migrations/1764160000000-create-trading-tables.js';
import { AddActivationIdempotencyKey1764400000000 } from './migrations/1764400000000-add-activation-idempotency-key.js';
import { OrdersDecidedByTheEngine1764800000000 } from './migrations/1764800000000-orders-decided-by-the-engine.js';

export const TRADING_SCHEMA = 'trading';

/** The trading service's one data source definition: used by the app and by dist/bundle/migrate.js. */
export function tradingDataSourceOptions(config: TradingConfig): DataSourceOptions {
  return serviceDataSourceOptions({
    schema: TRADING_SCHEMA,
    databaseUrl: config.DATABASE_URL,
    poolSize: config.DB_POOL_SIZE,
    // plain SQL through the EntityManager: every write is fenced, explicit statements read best
    entities: [],
    migrations: [
      CreateTradingTables1764160000000,
      AddActivationIdempotencyKey1764400000000,
      OrdersDecidedByTheEngine1764800000000,
      ClosedAccounts1764900000000,
      BrokerAccounts1765000000000,
      KiwoomOrders1765100000000,
      IngestJob1765400000000,
      CorporateActionAdjustments1765500000000,
    ],
    applicationName: `trading:${config.POD_NAME}`,
  });
}
