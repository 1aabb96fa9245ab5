import type { Market } from '../data/market-data.js';
import { PeriodIndex } from './periods.js';
import { tickBands, tickOf } from './ticks.js';

export interface PriceLimitPeriod {
  markets: readonly Market[];
  /** yyyymmdd of the first trading day of the limit. */
  from: number;
  /** The daily limit, percent of the base price (the previous close). */
  pct: number;
  source: string;
}

/** KRX daily price limits (가격제한폭) by market and date since 2015 (earlier dates use the first row): data, checked by a test. */
export const PRICE_LIMIT_TABLE: readonly PriceLimitPeriod[] = [
  {
    markets: ['KOSPI', 'KOSDAQ'],
    from: 20150101,
    pct: 15,
    source:
      '±15 % until 2015-06-12, the limit the 2015-06-15 change widened (한국거래소 보도자료 2015-06-14; 이투데이 2015-06-14)',
  },
  {
    markets: ['KOSPI', 'KOSDAQ'],
    from: 20150615,
    pct: 30,
    source:
      '유가증권시장 / 코스닥시장 업무규정 개정: ±30 % from 2015-06-15 (한국거래소 보도자료 2015-06-14; 이투데이 2015-06-14)',
  },
  {
    markets: ['KONEX'],
    from: 20150101,
    pct: 15,
    source: 'KONEX keeps ±15 % (not widened on 2015-06-15: 한국거래소 보도자료 2015-06-14; 이투데이 2015-06-14)',
  },
];

const PCT = new PeriodIndex(PRICE_LIMIT_TABLE.map((row) => ({ from: row.from, markets: row.markets, value: row.pct })));

/** The daily limit in percent on `date` (yyyymmdd) for `market`. */
export function priceLimitPct(date: number, market: Market): number {
  return PCT.at(date, market);
}

export interface PriceLimits {
  /** 하한가: the lowest price the day may trade at. */
  lower: number;
  /** 상한가: the highest. */
  upper: number;
}

/**
 * The day's price limits from its base price (the previous close): base x (1 +- pct), the upper
 * rounded down and the lower rounded up to the day's tick grid, so both lie on the grid inside the
 * band. Computed in integer tenths of a won for whole-won bases (no floating-point noise). A base
 * that is not > 0 (unknown: a first listing day, or no earlier bar in the data) has no limits:
 * { lower: 0, upper: Infinity }.
 */
export function priceLimits(base: number, date: number, market: Market): PriceLimits {
  if (!(base > 0)) {
    return { lower: 0, upper: Number.POSITIVE_INFINITY };
  }
  const pct = priceLimitPct(date, market);
  const bands = tickBands(date, market);
  // base x (100 +- pct) / 100, exactly: a whole-won base times a whole percent is a whole number
  const upperRaw = (base * (100 + pct)) / 100;
  const lowerRaw = (base * (100 - pct)) / 100;
  const upTick = tickOf(upperRaw, bands);
  const upper = Math.floor((base * (100 + pct)) / (100 * upTick) + 1e-9) * upTick;
  const lowTick = tickOf(lowerRaw, bands);
  const lower = Math.ceil((base * (100 - pct)) / (100 * lowTick) - 1e-9) * lowTick;
  return { lower, upper };
}
