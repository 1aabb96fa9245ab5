import type { Market } from '../data/market-data.js';
import { PeriodIndex } from './periods.js';

/** A tick table: ascending price bands, each `[below, tick]` (prices < below use tick). */
export type TickBands = ReadonlyArray<readonly [below: number, tick: number]>;

export interface TickPeriod {
  markets: readonly Market[];
  /** yyyymmdd of the first trading day of the table; it lasts until a later row of the market. */
  from: number;
  bands: TickBands;
  source: string;
}

/** KOSPI (유가증권시장) before 2023-01-25. */
const KOSPI_2010: TickBands = [
  [1_000, 1],
  [5_000, 5],
  [10_000, 10],
  [50_000, 50],
  [100_000, 100],
  [500_000, 500],
  [Number.POSITIVE_INFINITY, 1_000],
];

/** KOSDAQ and KONEX before 2023-01-25: 100 won from 50,000 up. */
const KOSDAQ_2010: TickBands = [
  [1_000, 1],
  [5_000, 5],
  [10_000, 10],
  [50_000, 50],
  [Number.POSITIVE_INFINITY, 100],
];

/** One table for KOSPI, KOSDAQ and KONEX since 2023-01-25. */
const UNIFIED_2023: TickBands = [
  [2_000, 1],
  [5_000, 5],
  [20_000, 10],
  [50_000, 50],
  [200_000, 100],
  [500_000, 500],
  [Number.POSITIVE_INFINITY, 1_000],
];

/**
 * KRX tick sizes (호가가격단위) of stocks by market and date: data, checked by a test. Dates
 * before 2015 use the 2015 rows (the tables have been in force since 2010).
 */
export const TICK_TABLE: readonly TickPeriod[] = [
  {
    markets: ['KOSPI'],
    from: 20150101,
    bands: KOSPI_2010,
    source:
      '유가증권시장 업무규정 시행세칙 (호가가격단위, 2010 revision): <1,000 1; <5,000 5; <10,000 10; <50,000 50; <100,000 100; <500,000 500; >=500,000 1,000 won (as replaced in 2023: 연합뉴스 / 한국거래소 2023-01-17)',
  },
  {
    markets: ['KOSDAQ', 'KONEX'],
    from: 20150101,
    bands: KOSDAQ_2010,
    source:
      '코스닥시장 업무규정 시행세칙 (호가가격단위; KONEX follows it): <1,000 1; <5,000 5; <10,000 10; <50,000 50; >=50,000 100 won (한국경제 2003-05-29 for the 5..100 steps; 1 won below 1,000 since the 2010 revision; unified with KOSPI 2023-01-25)',
  },
  {
    markets: ['KOSPI', 'KOSDAQ', 'KONEX'],
    from: 20230125,
    bands: UNIFIED_2023,
    source:
      '증권시장 업무규정 시행세칙 개정 (한국거래소, 2022-11), effective 2023-01-25 for KOSPI, KOSDAQ and KONEX: <2,000 1; <5,000 5; <20,000 10; <50,000 50; <200,000 100; <500,000 500; >=500,000 1,000 won (이투데이 2023-01-17; 연합뉴스 2023-01-17)',
  },
];

const BANDS = new PeriodIndex(TICK_TABLE.map((row) => ({ from: row.from, markets: row.markets, value: row.bands })));

/** The tick bands in force on `date` (yyyymmdd) for `market`. */
export function tickBands(date: number, market: Market): TickBands {
  return BANDS.at(date, market);
}

/** The tick of a price in a table. */
export function tickOf(price: number, bands: TickBands): number {
  for (let i = 0; i < bands.length; i++) {
    if (price < bands[i][0]) {
      return bands[i][1];
    }
  }
  return bands[bands.length - 1][1];
}

/** The tick size of `price` on `date` for `market`. */
export function tickSize(price: number, date: number, market: Market): number {
  return tickOf(price, tickBands(date, market));
}

/** A quotient within this many ticks of a whole number is on the grid (floating-point noise). */
const GRID_EPS = 1e-9;

/**
 * `price` on the tick grid of `bands`: 'down' to the highest grid price <= price, 'up' to the
 * lowest grid price >= price. A price within 1e-9 ticks of a grid price is that grid price.
 * Every band edge is a multiple of the ticks on both sides, so rounding within the price's own
 * band never lands off the grid.
 */
export function roundToTick(price: number, direction: 'down' | 'up', bands: TickBands): number {
  if (!(price > 0)) {
    return price;
  }
  const tick = tickOf(price, bands);
  const q = price / tick;
  const r = Math.round(q);
  if (Math.abs(q - r) <= GRID_EPS) {
    return r * tick;
  }
  return (direction === 'down' ? Math.floor(q) : Math.ceil(q)) * tick;
}

/** Whether `price` is a price the exchange accepts on `date` for `market`. */
export function isOnTick(price: number, date: number, market: Market): boolean {
  return Number.isInteger(price) && price > 0 && price % tickSize(price, date, market) === 0;
}
