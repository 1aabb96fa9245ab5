import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import {
  blankStatement,
  buildMarketData,
  computeFactor,
  FACTOR_CATALOG,
  FACTOR_CATEGORIES,
  FACTOR_IDS,
  type FactorId,
  type MarketData,
  OPTIONAL_STATEMENT_FIELDS,
  type PriceRow,
  REQUIRED_STATEMENT_FIELDS,
  type StatementRow,
} from '../src/index.js';
import { syntheticMarket, weekdayDates } from './synthetic.js';

/**
 * Every family of factors on a few bars whose values are computed by hand in the comments.
 * Each value is read twice, from the all-days computation and from a one-day request (the two
 * code paths of most factors: rolling and direct), which must agree.
 */

interface Series {
  close: number[];
  high?: number[];
  low?: number[];
  volume?: number[];
  tradingValue?: number[];
  marketCap?: number[];
}

/** Stocks 'A', 'B', ... from per-day series; a NaN close is a day without a bar. */
function market(stocks: Series[], statements: StatementRow[] = []): MarketData {
  const days = Math.max(...stocks.map((s) => s.close.length));
  const dates = weekdayDates(days);
  const rows: PriceRow[] = [];
  stocks.forEach((st, i) => {
    const code = String.fromCharCode(65 + i);
    st.close.forEach((close, d) => {
      if (Number.isNaN(close)) {
        return;
      }
      rows.push({
        date: dates[d],
        code,
        open: close,
        high: st.high?.[d] ?? close,
        low: st.low?.[d] ?? close,
        close,
        volume: st.volume?.[d] ?? 1000,
        tradingValue: st.tradingValue?.[d] ?? close * 1000,
        marketCap: st.marketCap?.[d] ?? close * 1e6,
      });
    });
  });
  return buildMarketData({ rows, dates: Array.from(dates), statements });
}

/** The value of `id` for stock s on day d: all days and the one-day request agree. */
function value(data: MarketData, id: FactorId, d: number, s = 0): number {
  const S = data.codes.length;
  const all = computeFactor(data, id).values[d * S + s];
  const one = computeFactor(data, id, [d]).values[s];
  assert.equal(Number.isNaN(all), Number.isNaN(one), `${id} day ${d}: ${all} (all days) vs ${one} (one day)`);
  if (!Number.isNaN(all)) {
    assert.ok(Math.abs(all - one) <= 1e-9 * Math.max(1, Math.abs(all)), `${id} day ${d}: ${all} vs ${one}`);
  }
  return all;
}

function near(got: number, want: number, tolerance = 1e-9): void {
  assert.ok(Math.abs(got - want) <= tolerance * Math.max(1, Math.abs(want)), `${got} vs ${want}`);
}

const range = (n: number, f: (d: number) => number): number[] => Array.from({ length: n }, (_, d) => f(d));

describe('factor catalog', () => {
  it('has at least 60 factors, each with a category, a Korean name and a lookback', () => {
    assert.ok(FACTOR_IDS.length >= 60, `${FACTOR_IDS.length} factors`);
    assert.deepEqual(
      FACTOR_CATALOG.map((f) => f.id),
      [...FACTOR_IDS],
    );
    const categories = new Set<string>(FACTOR_CATEGORIES.map((c) => c.id));
    for (const f of FACTOR_CATALOG) {
      assert.ok(categories.has(f.category), f.id);
      assert.ok(f.name && f.nameKo && f.description, f.id);
      assert.ok(Number.isInteger(f.lookbackDays) && f.lookbackDays >= 0, f.id);
    }
    for (const c of FACTOR_CATEGORIES) {
      assert.ok(
        FACTOR_CATALOG.some((f) => f.category === c.id),
        `category ${c.id} has factors`,
      );
    }
  });

  it('keeps the ids of the first version of the catalog, in their order (stable API)', () => {
    assert.deepEqual(FACTOR_IDS.slice(0, 21), [
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
    ]);
  });
});

describe('lookbacks', () => {
  it('every price factor has its first value exactly lookbackDays days into a market without gaps', () => {
    const data = syntheticMarket({ days: 300, stocks: 6, seed: 31 });
    const S = data.codes.length;
    for (const f of FACTOR_CATALOG.filter((x) => x.kind === 'price')) {
      const values = computeFactor(data, f.id).values;
      const first = Array.from({ length: 300 }, (_, d) => d).find((d) =>
        Array.from({ length: S }, (_, s) => values[d * S + s]).every((x) => !Number.isNaN(x)),
      );
      assert.equal(first, f.lookbackDays, f.id);
    }
  });
});

describe('momentum family', () => {
  it('mom_1w: close(t) / close(t-5) - 1', () => {
    const data = market([{ close: [100, 101, 102, 103, 104, 110] }]);
    assert.ok(Number.isNaN(value(data, 'mom_1w', 4)));
    near(value(data, 'mom_1w', 5), 10); // 110 / 100 - 1
  });

  it('mom_12_1: close(t-21) / close(t-252) - 1', () => {
    const data = market([{ close: range(260, (d) => 100 + d) }]);
    assert.ok(Number.isNaN(value(data, 'mom_12_1', 251)));
    near(value(data, 'mom_12_1', 252), 231); // close(231) = 331, close(0) = 100: +231 %
    near(value(data, 'mom_12_1', 259), ((100 + 238) / (100 + 7) - 1) * 100);
  });

  it('52-week high and low distances: the extreme of the highs / lows of t-251 .. t', () => {
    // close 100 every day; high 200 on day 5, 150 on day 10; low 50 on day 7; no bar on day 100
    const close = range(360, () => 100);
    const high = range(360, (d) => (d === 5 ? 200 : d === 10 ? 150 : 100));
    const low = range(360, (d) => (d === 7 ? 50 : 100));
    close[100] = NaN;
    const data = market([{ close, high, low }]);
    assert.ok(Number.isNaN(value(data, 'high_52w_distance', 250)), 'less than 252 days');
    near(value(data, 'high_52w_distance', 256), -50); // window 5..256: 100 / 200 - 1
    near(value(data, 'high_52w_distance', 257), (100 / 150 - 1) * 100); // window 6..257
    near(value(data, 'high_52w_distance', 262), 0); // window 11..262: the high is 100
    near(value(data, 'low_52w_distance', 258), 100); // window 7..258: 100 / 50 - 1
    near(value(data, 'low_52w_distance', 259), 0);
    // the missing bar of day 100 is skipped inside the window, but a window starting on it is NaN
    assert.ok(Number.isNaN(value(data, 'high_52w_distance', 100 + 251)));
    near(value(data, 'high_52w_distance', 101 + 251), 0);
  });
});

describe('risk family', () => {
  it('volatility_120d / 252d: returns alternating +10 % and -10 % have a population std of 0.1', () => {
    const close = [100];
    for (let d = 1; d < 300; d++) {
      close.push(close[d - 1] * (d % 2 === 1 ? 1.1 : 0.9));
    }
    const data = market([{ close }]);
    const annual = 0.1 * Math.sqrt(252) * 100; // 158.745...
    near(value(data, 'volatility_120d', 120), annual);
    near(value(data, 'volatility_252d', 252), annual);
    assert.ok(Number.isNaN(value(data, 'volatility_252d', 251)));
  });

  it('beta to the cap-weighted market of every stock with a positive market cap', () => {
    // A moves r(d), B 2 r(d), with constant caps 3e9 and 1e9: the market moves
    // (3 r + 1 x 2 r) / 4 = 1.25 r, so beta(A) = 1 / 1.25 = 0.8 and beta(B) = 2 / 1.25 = 1.6.
    // C moves -r(d) but has no market cap: outside the market, beta(C) = -0.8.
    const r = range(80, (d) => (d === 0 ? 0 : 0.01 * Math.sin(d * 1.7)));
    const path = (k: number): number[] => {
      const out = [100];
      for (let d = 1; d < 80; d++) {
        out.push(out[d - 1] * (1 + k * r[d]));
      }
      return out;
    };
    const data = market([
      { close: path(1), marketCap: range(80, () => 3e9) },
      { close: path(2), marketCap: range(80, () => 1e9) },
      { close: path(-1), marketCap: range(80, () => NaN) },
    ]);
    assert.ok(Number.isNaN(value(data, 'beta_60d', 59)));
    near(value(data, 'beta_60d', 60, 0), 0.8);
    near(value(data, 'beta_60d', 70, 1), 1.6);
    near(value(data, 'beta_60d', 79, 2), -0.8);
  });

  it('max drawdown: the largest fall from a running peak within the window', () => {
    // 100 every day but 120 on day 10, 90 on day 20, 130 on day 30, 117 on day 40:
    // falls 120 -> 90 = 25 %, 130 -> 100 = 23.08 %, 130 -> 117 = 10 %: the maximum is 25 %
    const spikes: Record<number, number> = { 10: 120, 20: 90, 30: 130, 40: 117 };
    const close = range(300, (d) => spikes[d % 250] ?? 100);
    close[280] = NaN;
    close[200] = NaN;
    const data = market([{ close }]);
    assert.ok(Number.isNaN(value(data, 'max_drawdown_60d', 59)));
    assert.ok(Number.isNaN(value(data, 'max_drawdown_60d', 260)), 'the window starts on day 200: no close');
    near(value(data, 'max_drawdown_60d', 261), (1 - 100 / 120) * 100); // closes 201..261: 120 (day 260) -> 100
    near(value(data, 'max_drawdown_60d', 60), 25); // closes 0..60
    near(value(data, 'max_drawdown_60d', 75), (1 - 100 / 130) * 100); // closes 15..75: from 130
    near(value(data, 'max_drawdown_60d', 100), (1 - 100 / 117) * 100); // closes 40..100: 117 -> 100
    near(value(data, 'max_drawdown_60d', 101), 0); // closes 41..101: all 100
    near(value(data, 'max_drawdown_252d', 252), 25); // closes 0..252
    // closes 47..299: 120 (day 260) -> 90 (day 270) = 25 %; the missing day 280 is skipped
    near(value(data, 'max_drawdown_252d', 299), 25);
    assert.ok(Number.isNaN(value(data, 'max_drawdown_252d', 280)), 'no close on t');
  });
});

describe('technical family', () => {
  // closes 1, 2, 3, ... (close(d) = d + 1)
  const linear = market([{ close: range(260, (d) => d + 1) }]);

  it('moving-average ratios', () => {
    near(value(linear, 'sma_ratio_10', 9), 10 / 5.5); // mean of 1..10 = 5.5
    assert.ok(Number.isNaN(value(linear, 'sma_ratio_240', 238)));
    near(value(linear, 'sma_ratio_240', 239), 240 / 120.5); // mean of 1..240
    near(value(linear, 'ma_cross_5_20', 19), 18 / 10.5); // mean(16..20) / mean(1..20)
    near(value(linear, 'ma_cross_20_60', 59), 50.5 / 30.5); // mean(41..60) / mean(1..60)
  });

  it('MACD (12, 26, 9) over its finite windows: a step of +10 on the last day', () => {
    // 100 for 249 days, then 110 (day 249). Every EMA window before day 249 is flat: lines 0.
    // Day 249: EMA12 = 100 + 10 x 2/13, EMA26 = 100 + 10 x 2/27, line = 10 (2/13 - 2/27) = 280/351;
    // the signal's window of 50 lines is 49 zeros then 280/351: EMA9 = 0 + 0.2 x 280/351 = 56/351.
    const close = range(250, (d) => (d === 249 ? 110 : 100));
    const data = market([{ close }]);
    assert.ok(Number.isNaN(value(data, 'macd', 198)), 'a line needs 200 closes');
    near(value(data, 'macd', 199), 0);
    assert.ok(Number.isNaN(value(data, 'macd_signal', 247)), 'a signal needs 249 closes');
    near(value(data, 'macd_signal', 248), 0);
    near(value(data, 'macd', 249), 280 / 351, 1e-12);
    near(value(data, 'macd_signal', 249), 56 / 351, 1e-12);
    near(value(data, 'macd_hist', 249), 224 / 351, 1e-12);
  });

  it('MACD is NaN while a missing close is in its window', () => {
    const close = range(300, (d) => 100 + Math.sin(d));
    close[20] = NaN;
    const data = market([{ close }]);
    assert.ok(Number.isNaN(value(data, 'macd', 219)), 'line window 20..219');
    assert.ok(!Number.isNaN(value(data, 'macd', 220)));
    assert.ok(Number.isNaN(value(data, 'macd_signal', 268)), 'signal window 20..268');
    assert.ok(!Number.isNaN(value(data, 'macd_signal', 269)));
  });

  it('Bollinger %B and width: ten closes of 90 then ten of 110 (mean 100, sd 10)', () => {
    const data = market([{ close: range(21, (d) => (d < 10 ? 90 : d < 20 ? 110 : 100)) }]);
    near(value(data, 'bollinger_pct_b', 19), 0.75); // (110 - 80) / (120 - 80)
    near(value(data, 'bollinger_width', 19), 40); // 4 x 10 / 100
    assert.ok(Number.isNaN(value(data, 'bollinger_pct_b', 18)));
    const flat = market([{ close: range(20, () => 100) }]);
    assert.ok(Number.isNaN(value(flat, 'bollinger_pct_b', 19)), 'no band');
    near(value(flat, 'bollinger_width', 19), 0);
  });

  it('stochastic %K (14) and %D (3)', () => {
    // closes 10..23 on days 0..13, then 20, 15; high = close + 1, low = close - 1
    const close = [...range(14, (d) => d + 10), 20, 15];
    const data = market([{ close, high: close.map((c) => c + 1), low: close.map((c) => c - 1) }]);
    // day 13: window 0..13, highest 24, lowest 9: (23 - 9) / 15
    near(value(data, 'stoch_k_14', 13), (14 / 15) * 100);
    // day 14: window 1..14, highest 24, lowest 10: (20 - 10) / 14
    near(value(data, 'stoch_k_14', 14), (10 / 14) * 100);
    // day 15: window 2..15, highest 24, lowest 11: (15 - 11) / 13
    near(value(data, 'stoch_k_14', 15), (4 / 13) * 100);
    near(value(data, 'stoch_d_14', 15), ((14 / 15 + 10 / 14 + 4 / 13) / 3) * 100);
    assert.ok(Number.isNaN(value(data, 'stoch_d_14', 14)));
  });

  it('CCI (20): typical prices ten 90 then ten 110 (mean 100, mean deviation 10)', () => {
    const data = market([{ close: range(20, (d) => (d < 10 ? 90 : 110)) }]);
    near(value(data, 'cci_20', 19), 10 / (0.015 * 10));
  });

  it('volume ratios', () => {
    // volume 100 a day, 200 on the last three of 60 days
    const data = market([{ close: range(60, () => 100), volume: range(60, (d) => (d >= 57 ? 200 : 100)) }]);
    // 20-day mean (17 x 100 + 3 x 200) / 20 = 115; 5-day (2 x 100 + 3 x 200) / 5 = 160; 60-day 6300 / 60 = 105
    near(value(data, 'volume_ratio_1_20', 59), 200 / 115);
    near(value(data, 'volume_ratio_5_20', 59), 160 / 115);
    near(value(data, 'volume_ratio_20_60', 59), 115 / 105);
    const idle = market([{ close: range(25, () => 100), volume: range(25, () => 0) }]);
    assert.ok(Number.isNaN(value(idle, 'volume_ratio_1_20', 24)), 'no volume: no ratio');
  });
});

describe('liquidity and size family', () => {
  // trading value 1000 x (d + 1), market cap 1e6
  const data = market([
    {
      close: range(130, () => 100),
      tradingValue: range(130, (d) => 1000 * (d + 1)),
      marketCap: range(130, () => 1e6),
    },
  ]);

  it('trading value and its averages', () => {
    near(value(data, 'trading_value', 7), 8000);
    near(value(data, 'avg_trading_value_5d', 4), 3000); // mean of 1000..5000
    assert.ok(Number.isNaN(value(data, 'avg_trading_value_5d', 3)));
    near(value(data, 'avg_trading_value_60d', 59), 30_500);
    near(value(data, 'avg_trading_value_120d', 119), 60_500);
  });

  it('turnover: average trading value / market cap x 100', () => {
    near(value(data, 'turnover_20d', 19), 1.05); // 10,500 / 1e6
    near(value(data, 'turnover_60d', 59), 3.05); // 30,500 / 1e6
  });
});

describe('value and quality families (statements, point in time)', () => {
  const base = { revenuePrevYear: 3000 };
  const statements: StatementRow[] = [
    // assets = 1000 + 1500 = 2500
    {
      code: 'A',
      reportDate: 0,
      netIncome: 100,
      equity: 1000,
      liabilities: 1500,
      revenue: 4000,
      operatingIncome: 400,
      ...base,
    },
    // a loss, an operating loss, negative equity: assets = -100 + 50 = -50
    {
      code: 'A',
      reportDate: 0,
      netIncome: -50,
      equity: -100,
      liabilities: 50,
      revenue: 4000,
      operatingIncome: -10,
      ...base,
    },
  ];
  const close = range(10, () => 50);
  const data = (): MarketData => {
    const dates = weekdayDates(10);
    statements[0].reportDate = dates[2];
    statements[1].reportDate = dates[6];
    return market([{ close, marketCap: range(10, () => 5000) }], statements);
  };
  const m = data();

  it('value: earnings yield, book to market, POR', () => {
    assert.ok(Number.isNaN(value(m, 'earnings_yield', 1)), 'nothing reported yet');
    near(value(m, 'earnings_yield', 2), 2); // 100 / 5000 x 100
    near(value(m, 'book_to_market', 2), 0.2); // 1000 / 5000
    near(value(m, 'por', 2), 12.5); // 5000 / 400
    near(value(m, 'earnings_yield', 6), -1); // -50 / 5000 x 100: a loss has a yield
    near(value(m, 'book_to_market', 6), -0.02);
    assert.ok(Number.isNaN(value(m, 'por', 6)), 'operating loss');
  });

  it('quality: ROA, margins, equity ratio, asset turnover over assets = equity + liabilities', () => {
    near(value(m, 'roa', 3), 4); // 100 / 2500
    near(value(m, 'net_margin', 3), 2.5); // 100 / 4000
    near(value(m, 'operating_roa', 3), 16); // 400 / 2500
    near(value(m, 'equity_ratio', 3), 40); // 1000 / 2500
    near(value(m, 'asset_turnover', 3), 1.6); // 4000 / 2500
    for (const id of ['roa', 'operating_roa', 'equity_ratio', 'asset_turnover'] as const) {
      assert.ok(Number.isNaN(value(m, id, 7)), `${id}: assets <= 0`);
    }
    near(value(m, 'net_margin', 7), -1.25);
  });
});

describe("the statements' optional figures (issue 16: PCR, EV/EBITDA, yields, quality, YoY and QoQ growth)", () => {
  // total assets = equity 3000 + liabilities 2000 = 5000; market cap 10,000 every day
  const full: StatementRow = {
    code: 'A',
    reportDate: 0,
    netIncome: 600,
    equity: 3000,
    liabilities: 2000,
    revenue: 8000,
    operatingIncome: 900,
    revenuePrevYear: 6400,
    grossProfit: 2500,
    operatingCashFlow: 800,
    depreciationAmortization: 350,
    interestExpense: 150,
    dividendsPaid: 300,
    currentAssets: 1800,
    currentLiabilities: 1200,
    cash: 700,
    borrowings: 1200,
    operatingIncomePrevYear: 750,
    netIncomePrevYear: 480,
    revenueQuarter: 2100,
    operatingIncomeQuarter: 240,
    netIncomeQuarter: 150,
    revenuePrevQuarter: 2000,
    operatingIncomePrevQuarter: 200,
    netIncomePrevQuarter: 160,
    eps: 60,
    epsPrevYear: 50,
    epsQuarter: 15,
    epsPrevQuarter: 12,
  };
  // the next statement: an old-format one (no optional figure), then one with losses and no debt
  const bare: StatementRow = {
    code: 'A',
    reportDate: 0,
    netIncome: 700,
    equity: 3200,
    liabilities: 1800,
    revenue: 8200,
    operatingIncome: 950,
    revenuePrevYear: 8000,
  };
  const weak: StatementRow = {
    ...full,
    operatingCashFlow: -100,
    operatingIncome: -50,
    depreciationAmortization: 20,
    interestExpense: 0,
    dividendsPaid: 0,
    currentLiabilities: 0,
    operatingIncomePrevYear: -30,
    netIncomePrevYear: 0,
    revenuePrevQuarter: 0,
    operatingIncomePrevQuarter: -10,
    netIncomePrevQuarter: -5,
    epsPrevYear: -1,
    epsPrevQuarter: 0,
  };
  const dates = weekdayDates(12);
  const m = market(
    [{ close: range(12, () => 100), marketCap: range(12, () => 10_000) }],
    [
      { ...full, reportDate: dates[2] },
      { ...bare, reportDate: dates[5] },
      { ...weak, reportDate: dates[8] },
    ],
  );
  // the factors of the optional figures: the catalog's last ones, from pcr on
  const NEW = FACTOR_IDS.slice(FACTOR_IDS.indexOf('pcr'));

  it('every new factor is NaN before the first report and on a statement without its figures', () => {
    assert.equal(NEW.length, 14);
    for (const id of NEW) {
      assert.ok(Number.isNaN(value(m, id, 1)), `${id}: nothing reported yet`);
      assert.ok(Number.isNaN(value(m, id, 6)), `${id}: the statement lacks the figure (NaN, not 0)`);
    }
  });

  it("reads a blank statement's NaN figures as absent ones: the loaders' compact statements change no factor", () => {
    const blank = blankStatement(20240102);
    assert.deepEqual(Object.keys(blank), ['reportDate', ...REQUIRED_STATEMENT_FIELDS, ...OPTIONAL_STATEMENT_FIELDS]);
    assert.ok(Object.entries(blank).every(([k, v]) => (k === 'reportDate' ? v === 20240102 : Number.isNaN(v))));
    blank.eps = 1;
    assert.ok(Number.isNaN(blankStatement(20240102).eps ?? 0), 'each blank statement is its own object');
    const filled: MarketData = {
      ...m,
      fundamentals: m.fundamentals.map((list) => list.map((st) => ({ ...blankStatement(st.reportDate), ...st }))),
    };
    assert.ok(filled.fundamentals[0]?.[1] && 'grossProfit' in filled.fundamentals[0][1]);
    for (const id of FACTOR_IDS) {
      const rows = range(12, (d) => d);
      assert.deepEqual([...computeFactor(filled, id, rows).values], [...computeFactor(m, id, rows).values], id);
    }
  });

  it('value: PCR, EV/EBITDA and dividend yield on the market cap of the day', () => {
    near(value(m, 'pcr', 2), 12.5); // 10,000 / 800
    // EV = 10,000 + 1,200 - 700 = 10,500; EBITDA = 900 + 350 = 1,250
    near(value(m, 'ev_ebitda', 3), 8.4);
    near(value(m, 'dividend_yield', 4), 3); // 300 / 10,000 x 100
    assert.ok(Number.isNaN(value(m, 'pcr', 9)), 'negative operating cash flow');
    assert.ok(Number.isNaN(value(m, 'ev_ebitda', 9)), 'EBITDA = -50 + 20 <= 0');
    near(value(m, 'dividend_yield', 9), 0); // a reported 0 is a real 0
  });

  it('quality: GP/A, accruals, current ratio, interest coverage', () => {
    near(value(m, 'gp_a', 2), 50); // 2,500 / 5,000 x 100
    near(value(m, 'accruals', 2), -4); // (600 - 800) / 5,000 x 100
    near(value(m, 'current_ratio', 2), 150); // 1,800 / 1,200 x 100
    near(value(m, 'interest_coverage', 2), 6); // 900 / 150
    near(value(m, 'accruals', 10), 14); // (600 - -100) / 5,000 x 100
    assert.ok(Number.isNaN(value(m, 'current_ratio', 10)), 'no current liabilities');
    assert.ok(Number.isNaN(value(m, 'interest_coverage', 10)), 'no interest expense');
  });

  it('growth: YoY on TTM figures, QoQ on quarters, NaN from a base <= 0', () => {
    near(value(m, 'revenue_growth_qoq', 2), 5); // 2,100 / 2,000
    near(value(m, 'operating_income_growth_yoy', 2), 20); // 900 / 750
    near(value(m, 'operating_income_growth_qoq', 2), 20); // 240 / 200
    near(value(m, 'net_income_growth_yoy', 2), 25); // 600 / 480
    near(value(m, 'net_income_growth_qoq', 2), -6.25); // 150 / 160
    near(value(m, 'eps_growth_yoy', 2), 20); // 60 / 50
    near(value(m, 'eps_growth_qoq', 2), 25); // 15 / 12
    near(value(m, 'revenue_growth', 6), 2.5); // 8,200 / 8,000: the old figures still work
    for (const id of NEW.filter((x) => x.includes('growth'))) {
      assert.ok(Number.isNaN(value(m, id, 11)), `${id}: the earlier figure is <= 0`);
    }
  });
});
