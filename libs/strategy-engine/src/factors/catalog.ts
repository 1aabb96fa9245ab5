/**
 * The factor catalog: every factor a strategy may reference, with its unit and how much
 * history it needs. Ids are stable API (they are stored inside saved strategy definitions).
 *
 * Conventions (so that user conditions read like the first version's `ROE > 15`):
 * - returns, margins and growth rates are in percent (`mom_3m = 12.5` means +12.5 %);
 * - valuation multiples (PER, PBR, PSR) are plain multiples and are NaN (never selected)
 *   when the denominator is zero or negative (a loss-making company has no meaningful PER);
 * - amounts are KRW.
 */
export const FACTOR_IDS = [
  'mom_1m',
  'mom_3m',
  'mom_6m',
  'mom_12m',
  'volatility_20d',
  'volatility_60d',
  'sma_ratio_5',
  'sma_ratio_20',
  'sma_ratio_60',
  'sma_ratio_120',
  'rsi_14',
  'avg_trading_value_20d',
  'market_cap',
  'close',
  'per',
  'pbr',
  'roe',
  'psr',
  'debt_ratio',
  'operating_margin',
  'revenue_growth',
] as const;

export type FactorId = (typeof FACTOR_IDS)[number];
export type FactorKind = 'price' | 'fundamental';

/** The groups Korean quant tools present factors in (value, quality, growth, momentum, ...). */
export const FACTOR_CATEGORIES = [
  { id: 'value', name: 'Value', nameKo: '가치' },
  { id: 'quality', name: 'Quality', nameKo: '퀄리티' },
  { id: 'growth', name: 'Growth', nameKo: '성장' },
  { id: 'momentum', name: 'Momentum', nameKo: '모멘텀' },
  { id: 'risk', name: 'Risk', nameKo: '위험' },
  { id: 'liquidity_size', name: 'Liquidity and size', nameKo: '유동성·규모' },
  { id: 'technical', name: 'Technical', nameKo: '기술적 지표' },
] as const;

export type FactorCategory = (typeof FACTOR_CATEGORIES)[number]['id'];

/** Every factor's category: a Record over the ids, so a new factor without one does not compile. */
const CATEGORY_OF: Record<FactorId, FactorCategory> = {
  mom_1m: 'momentum',
  mom_3m: 'momentum',
  mom_6m: 'momentum',
  mom_12m: 'momentum',
  volatility_20d: 'risk',
  volatility_60d: 'risk',
  sma_ratio_5: 'technical',
  sma_ratio_20: 'technical',
  sma_ratio_60: 'technical',
  sma_ratio_120: 'technical',
  rsi_14: 'technical',
  avg_trading_value_20d: 'liquidity_size',
  market_cap: 'liquidity_size',
  close: 'technical',
  per: 'value',
  pbr: 'value',
  psr: 'value',
  roe: 'quality',
  debt_ratio: 'quality',
  operating_margin: 'quality',
  revenue_growth: 'growth',
};

export interface FactorInfo {
  id: FactorId;
  name: string;
  description: string;
  unit: '%' | 'ratio' | 'x' | 'KRW' | 'index';
  kind: FactorKind;
  category: FactorCategory;
  /** Trading days of price history needed before the first valid value (0 = same day). */
  lookbackDays: number;
}

const mom = (id: FactorId, months: number, days: number): Omit<FactorInfo, 'category'> => ({
  id,
  name: `${months}-month momentum`,
  description: `Price change over the last ${days} trading days: close(t) / close(t-${days}) - 1, in percent. NaN when either close is missing.`,
  unit: '%',
  kind: 'price',
  lookbackDays: days,
});

const vol = (id: FactorId, days: number): Omit<FactorInfo, 'category'> => ({
  id,
  name: `${days}-day volatility`,
  description: `Annualized volatility: population standard deviation of the last ${days} simple daily returns (close/prev close - 1) x sqrt(252), in percent. NaN unless all ${days + 1} closes are present.`,
  unit: '%',
  kind: 'price',
  lookbackDays: days,
});

const smaRatio = (id: FactorId, days: number): Omit<FactorInfo, 'category'> => ({
  id,
  name: `Close / SMA(${days})`,
  description: `Close divided by the simple moving average of the last ${days} closes (including today). 1.05 means 5 % above the average. NaN unless all ${days} closes are present.`,
  unit: 'ratio',
  kind: 'price',
  lookbackDays: days - 1,
});

const ENTRIES: ReadonlyArray<Omit<FactorInfo, 'category'>> = [
  mom('mom_1m', 1, 21),
  mom('mom_3m', 3, 63),
  mom('mom_6m', 6, 126),
  mom('mom_12m', 12, 252),
  vol('volatility_20d', 20),
  vol('volatility_60d', 60),
  smaRatio('sma_ratio_5', 5),
  smaRatio('sma_ratio_20', 20),
  smaRatio('sma_ratio_60', 60),
  smaRatio('sma_ratio_120', 120),
  {
    id: 'rsi_14',
    name: 'RSI(14)',
    description:
      "Relative strength index over 14 days with Wilder's smoothing (the first average is the simple mean of the first 14 changes). 0..100. Changes are taken between consecutive available closes, so a suspension does not reset it.",
    unit: 'index',
    kind: 'price',
    lookbackDays: 14,
  },
  {
    id: 'avg_trading_value_20d',
    name: 'Average trading value (20 days)',
    description: 'Mean daily trading value over the last 20 trading days, in KRW. NaN unless all 20 days have a bar.',
    unit: 'KRW',
    kind: 'price',
    lookbackDays: 19,
  },
  {
    id: 'market_cap',
    name: 'Market capitalization',
    description: "The day's market capitalization in KRW.",
    unit: 'KRW',
    kind: 'price',
    lookbackDays: 0,
  },
  {
    id: 'close',
    name: 'Close price',
    description: "The day's close in KRW.",
    unit: 'KRW',
    kind: 'price',
    lookbackDays: 0,
  },
  {
    id: 'per',
    name: 'PER',
    description:
      'Price / earnings: market cap / trailing net income of the latest reported statement. NaN when net income <= 0.',
    unit: 'x',
    kind: 'fundamental',
    lookbackDays: 0,
  },
  {
    id: 'pbr',
    name: 'PBR',
    description: 'Price / book: market cap / equity of the latest reported statement. NaN when equity <= 0.',
    unit: 'x',
    kind: 'fundamental',
    lookbackDays: 0,
  },
  {
    id: 'roe',
    name: 'ROE',
    description: 'Return on equity: trailing net income / equity x 100. NaN when equity <= 0.',
    unit: '%',
    kind: 'fundamental',
    lookbackDays: 0,
  },
  {
    id: 'psr',
    name: 'PSR',
    description: 'Price / sales: market cap / trailing revenue. NaN when revenue <= 0.',
    unit: 'x',
    kind: 'fundamental',
    lookbackDays: 0,
  },
  {
    id: 'debt_ratio',
    name: 'Debt ratio',
    description: 'Total liabilities / equity x 100 (the Korean 부채비율). NaN when equity <= 0.',
    unit: '%',
    kind: 'fundamental',
    lookbackDays: 0,
  },
  {
    id: 'operating_margin',
    name: 'Operating margin',
    description: 'Trailing operating income / trailing revenue x 100. NaN when revenue <= 0.',
    unit: '%',
    kind: 'fundamental',
    lookbackDays: 0,
  },
  {
    id: 'revenue_growth',
    name: 'Revenue growth (YoY)',
    description:
      'Trailing revenue / the same figure one year earlier - 1, in percent. NaN when the earlier revenue <= 0.',
    unit: '%',
    kind: 'fundamental',
    lookbackDays: 0,
  },
];

export const FACTOR_CATALOG: readonly FactorInfo[] = ENTRIES.map((f) => ({ ...f, category: CATEGORY_OF[f.id] }));

const FACTOR_ID_SET: ReadonlySet<string> = new Set(FACTOR_IDS);

export function isFactorId(value: unknown): value is FactorId {
  return typeof value === 'string' && FACTOR_ID_SET.has(value);
}

export function getFactorInfo(id: FactorId): FactorInfo {
  const info = FACTOR_CATALOG.find((f) => f.id === id);
  if (!info) {
    throw new Error(`unknown factor ${id}`);
  }
  return info;
}
