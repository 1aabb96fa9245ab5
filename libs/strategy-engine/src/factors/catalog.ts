/**
 * The factor catalog: every factor a strategy may reference, with its unit and how much
 * history it needs. Ids are stable API (they are stored inside saved strategy definitions).
 *
 * Conventions (so that user conditions read like the first version's `ROE > 15`):
 * - returns, margins, growth rates, yields, volatility, drawdowns and turnover are in percent
 *   (`mom_3m = 12.5` means +12.5 %);
 * - valuation multiples (PER, PBR, PSR, POR) are plain multiples and are NaN (never selected)
 *   when the denominator is zero or negative (a loss-making company has no meaningful PER);
 *   their inverses (earnings yield, book to market) are defined for losses too;
 * - amounts are KRW;
 * - fundamentals are point in time (the latest statement with reportDate <= the day), flows
 *   trailing twelve months (TTM, the sum of the last four quarters) unless a QoQ factor says
 *   "quarter"; a factor whose figure the statement lacks is NaN for the stock, never 0;
 * - growth rates are now / before - 1 in percent, NaN when `before` <= 0 (a turnaround from a
 *   loss has no growth rate); YoY compares TTM figures a year apart, QoQ a quarter with the one
 *   before it (not seasonally adjusted);
 * - lookbackDays is exact (the value on day t reads days t - lookbackDays .. t only), checked by
 *   test/factors.spec.ts (first value) and test/history.spec.ts (a window gives the same value).
 * New factors are appended to FACTOR_IDS; the README lists the definitions' shared rules.
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
  // added with issue 16 (factor breadth); ids are stable API: append, never rename
  'mom_1w',
  'mom_12_1',
  'high_52w_distance',
  'low_52w_distance',
  'volatility_120d',
  'volatility_252d',
  'beta_60d',
  'beta_252d',
  'max_drawdown_60d',
  'max_drawdown_252d',
  'sma_ratio_10',
  'sma_ratio_240',
  'ma_cross_5_20',
  'ma_cross_20_60',
  'macd',
  'macd_signal',
  'macd_hist',
  'bollinger_pct_b',
  'bollinger_width',
  'stoch_k_14',
  'stoch_d_14',
  'cci_20',
  'volume_ratio_1_20',
  'volume_ratio_5_20',
  'volume_ratio_20_60',
  'trading_value',
  'avg_trading_value_5d',
  'avg_trading_value_60d',
  'avg_trading_value_120d',
  'turnover_20d',
  'turnover_60d',
  'earnings_yield',
  'book_to_market',
  'por',
  'roa',
  'net_margin',
  'operating_roa',
  'equity_ratio',
  'asset_turnover',
  // issue 16, the statements' optional fields (libs/market-data derives them point in time)
  'pcr',
  'ev_ebitda',
  'dividend_yield',
  'gp_a',
  'accruals',
  'current_ratio',
  'interest_coverage',
  'revenue_growth_qoq',
  'operating_income_growth_yoy',
  'operating_income_growth_qoq',
  'net_income_growth_yoy',
  'net_income_growth_qoq',
  'eps_growth_yoy',
  'eps_growth_qoq',
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
  mom_1w: 'momentum',
  mom_12_1: 'momentum',
  high_52w_distance: 'momentum',
  low_52w_distance: 'momentum',
  volatility_120d: 'risk',
  volatility_252d: 'risk',
  beta_60d: 'risk',
  beta_252d: 'risk',
  max_drawdown_60d: 'risk',
  max_drawdown_252d: 'risk',
  sma_ratio_10: 'technical',
  sma_ratio_240: 'technical',
  ma_cross_5_20: 'technical',
  ma_cross_20_60: 'technical',
  macd: 'technical',
  macd_signal: 'technical',
  macd_hist: 'technical',
  bollinger_pct_b: 'technical',
  bollinger_width: 'technical',
  stoch_k_14: 'technical',
  stoch_d_14: 'technical',
  cci_20: 'technical',
  volume_ratio_1_20: 'technical',
  volume_ratio_5_20: 'technical',
  volume_ratio_20_60: 'technical',
  trading_value: 'liquidity_size',
  avg_trading_value_5d: 'liquidity_size',
  avg_trading_value_60d: 'liquidity_size',
  avg_trading_value_120d: 'liquidity_size',
  turnover_20d: 'liquidity_size',
  turnover_60d: 'liquidity_size',
  earnings_yield: 'value',
  book_to_market: 'value',
  por: 'value',
  roa: 'quality',
  net_margin: 'quality',
  operating_roa: 'quality',
  equity_ratio: 'quality',
  asset_turnover: 'quality',
  pcr: 'value',
  ev_ebitda: 'value',
  dividend_yield: 'value',
  gp_a: 'quality',
  accruals: 'quality',
  current_ratio: 'quality',
  interest_coverage: 'quality',
  revenue_growth_qoq: 'growth',
  operating_income_growth_yoy: 'growth',
  operating_income_growth_qoq: 'growth',
  net_income_growth_yoy: 'growth',
  net_income_growth_qoq: 'growth',
  eps_growth_yoy: 'growth',
  eps_growth_qoq: 'growth',
};

export interface FactorInfo {
  id: FactorId;
  name: string;
  /** The name Korean quant tools use. */
  nameKo: string;
  description: string;
  unit: '%' | 'ratio' | 'x' | 'KRW' | 'index';
  kind: FactorKind;
  category: FactorCategory;
  /**
   * Trading days of price history needed before the first valid value (0 = same day): the value
   * on day t reads bars of days t - lookbackDays .. t only, so a window of the latest days that
   * long gives it the whole history's value (recursive RSI aside, see MarketData.seeds).
   */
  lookbackDays: number;
}

type Entry = Omit<FactorInfo, 'category'>;

const mom = (id: FactorId, label: string, labelKo: string, days: number): Entry => ({
  id,
  name: `${label} momentum`,
  nameKo: `${labelKo} 수익률`,
  description: `Price change over the last ${days} trading days: close(t) / close(t-${days}) - 1, in percent. NaN when either close is missing.`,
  unit: '%',
  kind: 'price',
  lookbackDays: days,
});

const vol = (id: FactorId, days: number): Entry => ({
  id,
  name: `${days}-day volatility`,
  nameKo: `${days}일 변동성`,
  description: `Annualized volatility: population standard deviation of the last ${days} simple daily returns (close/prev close - 1) x sqrt(252), in percent. NaN unless all ${days + 1} closes are present.`,
  unit: '%',
  kind: 'price',
  lookbackDays: days,
});

const smaRatio = (id: FactorId, days: number): Entry => ({
  id,
  name: `Close / SMA(${days})`,
  nameKo: `${days}일 이동평균 대비 주가`,
  description: `Close divided by the simple moving average of the last ${days} closes (including today). 1.05 means 5 % above the average. NaN unless all ${days} closes are present.`,
  unit: 'ratio',
  kind: 'price',
  lookbackDays: days - 1,
});

const atv = (id: FactorId, days: number): Entry => ({
  id,
  name: `Average trading value (${days} days)`,
  nameKo: `${days}일 평균 거래대금`,
  description: `Mean daily trading value over the last ${days} trading days, in KRW. NaN unless all ${days} days have a bar.`,
  unit: 'KRW',
  kind: 'price',
  lookbackDays: days - 1,
});

const beta = (id: FactorId, days: number): Entry => ({
  id,
  name: `Beta (${days} days)`,
  nameKo: `${days}일 베타`,
  description: `Beta to the market: cov(r, m) / var(m) over the last ${days} daily returns (population form), where r is the stock's simple close-to-close return and m the daily return of the MARKET benchmark (every stock with a bar on both days, weighted by the previous day's market cap: the cap-weighted index libs/market-data serves as benchmark 'MARKET'; 0 on a day without any such stock, as that index does not move). NaN unless all ${days + 1} closes of the stock are present, or when the market did not vary.`,
  unit: 'ratio',
  kind: 'price',
  lookbackDays: days,
});

const mdd = (id: FactorId, days: number): Entry => ({
  id,
  name: `Maximum drawdown (${days} days)`,
  nameKo: `${days}일 최대낙폭`,
  description: `The largest fall from a peak close to a later close within the last ${days + 1} closes (days t-${days} .. t), in percent, as a positive number (12 = a 12 % fall). Missing closes inside the window are skipped; NaN unless the closes at both ends (t-${days} and t) are present.`,
  unit: '%',
  kind: 'price',
  lookbackDays: days,
});

const ratioOfAverages = (
  id: FactorId,
  name: string,
  nameKo: string,
  what: string,
  short: number,
  long: number,
): Entry => ({
  id,
  name,
  nameKo,
  description: `${short === 1 ? `Today's ${what}` : `The ${short}-day average ${what}`} / the ${long}-day average ${what} (simple averages, including today). NaN unless all ${long} days have a bar, or when the denominator is 0.`,
  unit: 'ratio',
  kind: 'price',
  lookbackDays: long - 1,
});

const turnover = (id: FactorId, days: number): Entry => ({
  id,
  name: `Turnover (${days} days)`,
  nameKo: `${days}일 회전율`,
  description: `The ${days}-day average daily trading value / today's market cap x 100: the percentage of the company traded on an average day. NaN unless all ${days} days have a bar, or when the market cap is not positive.`,
  unit: '%',
  kind: 'price',
  lookbackDays: days - 1,
});

/** A ratio of statement figures, point in time (the latest statement reported by the day). */
const statementRatio = (
  id: FactorId,
  name: string,
  nameKo: string,
  description: string,
  unit: FactorInfo['unit'],
): Entry => ({
  id,
  name,
  nameKo,
  description,
  unit,
  kind: 'fundamental',
  lookbackDays: 0,
});

/** MACD's window: the EMAs of the line run over the last MACD_LINE_DAYS closes, the signal over the last MACD_SIGNAL_DAYS lines. */
export const MACD_LINE_DAYS = 200;
export const MACD_SIGNAL_DAYS = 50;
const MACD_DEFINITION = `EMA(n) is the exponential moving average of the last ${MACD_LINE_DAYS} closes with alpha = 2 / (n + 1), started at the first of them (EMA = that close, then EMA += alpha (close - EMA)): a finite window, so the value depends on those closes only and needs no state from earlier days (the weight left on the start is below 3e-7 for EMA(26)). MACD line = EMA(12) - EMA(26), in KRW; NaN unless its ${MACD_LINE_DAYS} closes are present. Signal = the same EMA with n = 9 over the last ${MACD_SIGNAL_DAYS} MACD line values (started at the first of them); NaN unless all ${MACD_LINE_DAYS + MACD_SIGNAL_DAYS - 1} closes are present.`;

const ENTRIES: readonly Entry[] = [
  mom('mom_1m', '1-month', '1개월', 21),
  mom('mom_3m', '3-month', '3개월', 63),
  mom('mom_6m', '6-month', '6개월', 126),
  mom('mom_12m', '12-month', '12개월', 252),
  vol('volatility_20d', 20),
  vol('volatility_60d', 60),
  smaRatio('sma_ratio_5', 5),
  smaRatio('sma_ratio_20', 20),
  smaRatio('sma_ratio_60', 60),
  smaRatio('sma_ratio_120', 120),
  {
    id: 'rsi_14',
    name: 'RSI(14)',
    nameKo: 'RSI(14)',
    description:
      "Relative strength index over 14 days with Wilder's smoothing (the first average is the simple mean of the first 14 changes). 0..100. Changes are taken between consecutive available closes, so a suspension does not reset it.",
    unit: 'index',
    kind: 'price',
    lookbackDays: 14,
  },
  atv('avg_trading_value_20d', 20),
  {
    id: 'market_cap',
    name: 'Market capitalization',
    nameKo: '시가총액',
    description: "The day's market capitalization in KRW.",
    unit: 'KRW',
    kind: 'price',
    lookbackDays: 0,
  },
  {
    id: 'close',
    name: 'Close price',
    nameKo: '종가',
    description: "The day's close in KRW.",
    unit: 'KRW',
    kind: 'price',
    lookbackDays: 0,
  },
  statementRatio(
    'per',
    'PER',
    'PER',
    'Price / earnings: market cap / trailing net income of the latest reported statement. NaN when net income <= 0.',
    'x',
  ),
  statementRatio(
    'pbr',
    'PBR',
    'PBR',
    'Price / book: market cap / equity of the latest reported statement. NaN when equity <= 0.',
    'x',
  ),
  statementRatio(
    'roe',
    'ROE',
    'ROE',
    'Return on equity: trailing net income / equity x 100. NaN when equity <= 0.',
    '%',
  ),
  statementRatio('psr', 'PSR', 'PSR', 'Price / sales: market cap / trailing revenue. NaN when revenue <= 0.', 'x'),
  statementRatio(
    'debt_ratio',
    'Debt ratio',
    '부채비율',
    'Total liabilities / equity x 100 (the Korean 부채비율). NaN when equity <= 0.',
    '%',
  ),
  statementRatio(
    'operating_margin',
    'Operating margin',
    '영업이익률',
    'Trailing operating income / trailing revenue x 100. NaN when revenue <= 0.',
    '%',
  ),
  statementRatio(
    'revenue_growth',
    'Revenue growth (YoY)',
    '매출액 성장률(YoY)',
    'Trailing revenue / the same figure one year earlier - 1, in percent. NaN when the earlier revenue <= 0.',
    '%',
  ),
  // --- issue 16 ---
  mom('mom_1w', '1-week', '1주', 5),
  {
    id: 'mom_12_1',
    name: '12-1 month momentum',
    nameKo: '12-1개월 수익률',
    description:
      'The 12-month return skipping the latest month: close(t-21) / close(t-252) - 1, in percent (the short-term reversal month left out). NaN when either close is missing.',
    unit: '%',
    kind: 'price',
    lookbackDays: 252,
  },
  {
    id: 'high_52w_distance',
    name: 'Distance from the 52-week high',
    nameKo: '52주 최고가 대비',
    description:
      'close(t) / the highest daily high of the last 252 trading days (t-251 .. t) - 1, in percent: 0 at a new high, negative below it. Days without a bar inside the window are skipped; NaN unless the stock has a bar on t and on t-251 (listed for the whole window).',
    unit: '%',
    kind: 'price',
    lookbackDays: 251,
  },
  {
    id: 'low_52w_distance',
    name: 'Distance from the 52-week low',
    nameKo: '52주 최저가 대비',
    description:
      'close(t) / the lowest daily low of the last 252 trading days (t-251 .. t) - 1, in percent: 0 at a new low, positive above it. Days without a bar inside the window are skipped; NaN unless the stock has a bar on t and on t-251.',
    unit: '%',
    kind: 'price',
    lookbackDays: 251,
  },
  vol('volatility_120d', 120),
  vol('volatility_252d', 252),
  beta('beta_60d', 60),
  beta('beta_252d', 252),
  mdd('max_drawdown_60d', 60),
  mdd('max_drawdown_252d', 252),
  smaRatio('sma_ratio_10', 10),
  smaRatio('sma_ratio_240', 240),
  ratioOfAverages('ma_cross_5_20', 'SMA(5) / SMA(20)', '5일/20일 이동평균 비율', 'close', 5, 20),
  ratioOfAverages('ma_cross_20_60', 'SMA(20) / SMA(60)', '20일/60일 이동평균 비율', 'close', 20, 60),
  {
    id: 'macd',
    name: 'MACD line (12, 26)',
    nameKo: 'MACD',
    description: `MACD line = EMA(12) - EMA(26) of the closes, in KRW (compare it with macd_signal or 0; it is not comparable across stocks of different prices). ${MACD_DEFINITION}`,
    unit: 'KRW',
    kind: 'price',
    lookbackDays: MACD_LINE_DAYS - 1,
  },
  {
    id: 'macd_signal',
    name: 'MACD signal (9)',
    nameKo: 'MACD 시그널',
    description: `The MACD signal line: EMA(9) of the MACD line, in KRW. ${MACD_DEFINITION}`,
    unit: 'KRW',
    kind: 'price',
    lookbackDays: MACD_LINE_DAYS + MACD_SIGNAL_DAYS - 2,
  },
  {
    id: 'macd_hist',
    name: 'MACD histogram',
    nameKo: 'MACD 오실레이터',
    description: `MACD line - signal, in KRW (positive: the line is above its signal). ${MACD_DEFINITION}`,
    unit: 'KRW',
    kind: 'price',
    lookbackDays: MACD_LINE_DAYS + MACD_SIGNAL_DAYS - 2,
  },
  {
    id: 'bollinger_pct_b',
    name: 'Bollinger %B (20, 2)',
    nameKo: '볼린저밴드 %B',
    description:
      'Where the close sits in the Bollinger bands of the last 20 closes: (close - lower) / (upper - lower), with middle = their simple mean, upper/lower = middle +- 2 population standard deviations. 0 at the lower band, 1 at the upper, outside 0..1 beyond them. NaN unless all 20 closes are present, or when they are all equal.',
    unit: 'ratio',
    kind: 'price',
    lookbackDays: 19,
  },
  {
    id: 'bollinger_width',
    name: 'Bollinger band width (20, 2)',
    nameKo: '볼린저밴드 폭',
    description:
      '(upper - lower) / middle x 100 = 4 population standard deviations of the last 20 closes / their mean, in percent. NaN unless all 20 closes are present.',
    unit: '%',
    kind: 'price',
    lookbackDays: 19,
  },
  {
    id: 'stoch_k_14',
    name: 'Stochastic %K (14)',
    nameKo: '스토캐스틱 %K(14)',
    description:
      'Fast stochastic: (close - lowest low) / (highest high - lowest low) x 100 over the last 14 bars (t-13 .. t). 0..100. NaN unless all 14 bars are present, or when the high and low of the window are equal.',
    unit: 'index',
    kind: 'price',
    lookbackDays: 13,
  },
  {
    id: 'stoch_d_14',
    name: 'Stochastic %D (14, 3)',
    nameKo: '스토캐스틱 %D(14,3)',
    description:
      'The simple mean of stoch_k_14 over the last 3 days (the slow %K). NaN unless the three %K values are.',
    unit: 'index',
    kind: 'price',
    lookbackDays: 15,
  },
  {
    id: 'cci_20',
    name: 'CCI (20)',
    nameKo: 'CCI(20)',
    description:
      'Commodity channel index: (TP - SMA20(TP)) / (0.015 x mean absolute deviation of the last 20 TP from their SMA), TP = (high + low + close) / 3. NaN unless all 20 bars are present, or when the deviation is 0.',
    unit: 'index',
    kind: 'price',
    lookbackDays: 19,
  },
  ratioOfAverages('volume_ratio_1_20', 'Volume / 20-day average', '거래량 비율(1/20일)', 'volume (shares)', 1, 20),
  ratioOfAverages(
    'volume_ratio_5_20',
    'Volume 5-day / 20-day average',
    '거래량 비율(5/20일)',
    'volume (shares)',
    5,
    20,
  ),
  ratioOfAverages(
    'volume_ratio_20_60',
    'Volume 20-day / 60-day average',
    '거래량 비율(20/60일)',
    'volume (shares)',
    20,
    60,
  ),
  {
    id: 'trading_value',
    name: 'Trading value',
    nameKo: '거래대금',
    description: "The day's trading value in KRW.",
    unit: 'KRW',
    kind: 'price',
    lookbackDays: 0,
  },
  atv('avg_trading_value_5d', 5),
  atv('avg_trading_value_60d', 60),
  atv('avg_trading_value_120d', 120),
  turnover('turnover_20d', 20),
  turnover('turnover_60d', 60),
  statementRatio(
    'earnings_yield',
    'Earnings yield',
    '이익수익률',
    'Trailing net income / market cap x 100 (E/P, the inverse of PER, defined for losses too: negative). NaN without a statement or market cap.',
    '%',
  ),
  statementRatio(
    'book_to_market',
    'Book to market',
    '자본/시가총액(B/P)',
    'Equity of the latest statement / market cap (B/P, the inverse of PBR; negative for a capital-impaired company).',
    'ratio',
  ),
  statementRatio(
    'por',
    'POR',
    'POR',
    'Price / operating income: market cap / trailing operating income. NaN when operating income <= 0.',
    'x',
  ),
  statementRatio(
    'roa',
    'ROA',
    'ROA',
    'Return on assets: trailing net income / total assets x 100, total assets = equity + liabilities of the latest statement (the statements carry no separate asset total). NaN when total assets <= 0.',
    '%',
  ),
  statementRatio(
    'net_margin',
    'Net margin',
    '순이익률',
    'Trailing net income / trailing revenue x 100. NaN when revenue <= 0.',
    '%',
  ),
  statementRatio(
    'operating_roa',
    'Operating income / assets',
    '총자산영업이익률',
    'Trailing operating income / total assets x 100 (total assets = equity + liabilities): operating profitability, defined for every statement (gp_a needs the optional gross profit). NaN when total assets <= 0.',
    '%',
  ),
  statementRatio(
    'equity_ratio',
    'Equity ratio',
    '자기자본비율',
    'Equity / total assets x 100 (total assets = equity + liabilities). NaN when total assets <= 0.',
    '%',
  ),
  statementRatio(
    'asset_turnover',
    'Asset turnover',
    '총자산회전율',
    'Trailing revenue / total assets (equity + liabilities). NaN when total assets <= 0.',
    'x',
  ),
  statementRatio(
    'pcr',
    'PCR',
    'PCR',
    'Price / cash flow: market cap / TTM cash flow from operating activities (영업활동현금흐름). NaN when that cash flow <= 0 or is not reported.',
    'x',
  ),
  statementRatio(
    'ev_ebitda',
    'EV/EBITDA',
    'EV/EBITDA',
    'Enterprise value / EBITDA: EV = market cap + borrowings (interest-bearing debt: 차입금 and 사채, current and non-current) - cash and cash equivalents, both at the latest period end; EBITDA = TTM operating income + TTM depreciation and amortisation (감가상각비 + 무형자산상각비). NaN when EBITDA <= 0 or a figure is not reported; negative when net cash exceeds the market cap.',
    'x',
  ),
  statementRatio(
    'dividend_yield',
    'Dividend yield',
    '배당수익률',
    "TTM cash dividends paid (배당금의 지급, financing cash flow) / market cap x 100: the cash the company paid out over the last four quarters over today's value. 0 for a company that paid none; NaN when the figure is not reported or the market cap is not positive.",
    '%',
  ),
  statementRatio(
    'gp_a',
    'GP/A',
    'GP/A',
    'Gross profitability (Novy-Marx): TTM gross profit (매출총이익 = revenue - cost of sales) / total assets x 100, total assets = equity + liabilities of the latest statement. NaN when total assets <= 0 or gross profit is not reported.',
    '%',
  ),
  statementRatio(
    'accruals',
    'Accruals',
    '발생액',
    'Cash-flow accruals (Sloan): (TTM net income - TTM operating cash flow) / total assets x 100, total assets = equity + liabilities. Lower is better (earnings backed by cash). NaN when total assets <= 0 or the cash flow is not reported.',
    '%',
  ),
  statementRatio(
    'current_ratio',
    'Current ratio',
    '유동비율',
    'Current assets / current liabilities x 100 at the latest period end (the Korean 유동비율, in percent). NaN when current liabilities <= 0 or either is not reported.',
    '%',
  ),
  statementRatio(
    'interest_coverage',
    'Interest coverage',
    '이자보상배율',
    'TTM operating income / TTM interest expense (이자비용): times the interest is earned, negative for an operating loss. NaN when interest expense <= 0 (no debt to cover) or is not reported.',
    'x',
  ),
  statementRatio(
    'revenue_growth_qoq',
    'Revenue growth (QoQ)',
    '매출액 성장률(QoQ)',
    "The latest statement's quarter revenue (three months) / the previous quarter's - 1, in percent (not seasonally adjusted). NaN when the previous quarter's revenue <= 0 or is missing.",
    '%',
  ),
  statementRatio(
    'operating_income_growth_yoy',
    'Operating income growth (YoY)',
    '영업이익 성장률(YoY)',
    'TTM operating income / the TTM operating income of the statement one year earlier - 1, in percent. NaN when the earlier figure <= 0 (a turnaround has no growth rate) or is missing.',
    '%',
  ),
  statementRatio(
    'operating_income_growth_qoq',
    'Operating income growth (QoQ)',
    '영업이익 성장률(QoQ)',
    "The latest quarter's operating income / the previous quarter's - 1, in percent. NaN when the previous quarter's <= 0 or is missing.",
    '%',
  ),
  statementRatio(
    'net_income_growth_yoy',
    'Net income growth (YoY)',
    '순이익 성장률(YoY)',
    'TTM net income / the TTM net income of the statement one year earlier - 1, in percent. NaN when the earlier figure <= 0 or is missing.',
    '%',
  ),
  statementRatio(
    'net_income_growth_qoq',
    'Net income growth (QoQ)',
    '순이익 성장률(QoQ)',
    "The latest quarter's net income / the previous quarter's - 1, in percent. NaN when the previous quarter's <= 0 or is missing.",
    '%',
  ),
  statementRatio(
    'eps_growth_yoy',
    'EPS growth (YoY)',
    'EPS 성장률(YoY)',
    "EPS / the EPS of the statement one year earlier - 1, in percent. EPS = TTM net income / listed shares on the last trading day of the statement's period (the bars' shares_outstanding); the earlier EPS is restated to the later share count by the splits, reverse splits and bonus issues in between (corporate actions), so only real issuance or buybacks make it differ from net income growth. NaN when the earlier EPS <= 0 or a figure is missing.",
    '%',
  ),
  statementRatio(
    'eps_growth_qoq',
    'EPS growth (QoQ)',
    'EPS 성장률(QoQ)',
    "Quarter EPS / the previous quarter's - 1, in percent: quarter EPS = the quarter's net income / listed shares on the last trading day of its period, the previous quarter's restated by the splits and bonus issues in between (as eps_growth_yoy). NaN when the previous quarter's EPS <= 0 or a figure is missing.",
    '%',
  ),
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
