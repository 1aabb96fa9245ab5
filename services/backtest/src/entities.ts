import { Backtest } from './backtests/backtest.entity.js';
import { Dataset } from './datasets/dataset.entity.js';
import { Strategy } from './strategies/strategy.entity.js';

/** Every TypeORM entity of the service. Market data and result rows are written with SQL in bulk. */
export const BACKTEST_ENTITIES = [Dataset, Strategy, Backtest];
