import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { IndicatorsSync } from '@ixjb94/indicators';
import { computeFactor, FACTOR_IDS, type FactorId, type MarketData, type PriceColumn } from '../src/index.js';
import { syntheticMarket } from './synthetic.js';

const ta = new IndicatorsSync();
const DAYS = 400;
const STOCKS = 5;
const data = syntheticMarket({ days: DAYS, stocks: STOCKS, seed: 42 });

function series(m: MarketData, s: number): number[] {
  const out: number[] = [];
  for (let d = 0; d < m.dates.length; d++) {
    out.push(m.close[d * STOCKS + s]);
  }
  return out;
}

/** Compares our factor (all days) with a reference series aligned to the last days. */
function agree(
  id: FactorId,
  ref: (closes: number[]) => number[],
  transform: (ours: number, close: number) => number,
): void {
  const f = computeFactor(data, id);
  let compared = 0;
  for (let s = 0; s < STOCKS; s++) {
    const closes = series(data, s);
    const expected = ref(closes);
    const offset = DAYS - expected.length;
    for (let d = 0; d < DAYS; d++) {
      const ours = f.values[d * STOCKS + s];
      if (d < offset) {
        assert.ok(Number.isNaN(ours), `${id} day ${d} should be warm-up NaN`);
        continue;
      }
      const want = expected[d - offset];
      const got = transform(ours, closes[d]);
      assert.ok(
        Math.abs(got - want) <= 1e-9 * Math.max(1, Math.abs(want)),
        `${id} stock ${s} day ${d}: ${got} vs ${want}`,
      );
      compared++;
    }
  }
  assert.ok(compared > STOCKS * 200);
}

describe('indicators against @ixjb94/indicators', () => {
  it('SMA(20) via sma_ratio_20 matches sma', () => {
    agree(
      'sma_ratio_20',
      (c) => ta.sma(c, 20),
      (ratio, close) => close / ratio,
    );
  });

  it('SMA(60) via sma_ratio_60 matches sma', () => {
    agree(
      'sma_ratio_60',
      (c) => ta.sma(c, 60),
      (ratio, close) => close / ratio,
    );
  });

  it("RSI(14) with Wilder's smoothing matches rsi", () => {
    agree(
      'rsi_14',
      (c) => ta.rsi(c, 14),
      (v) => v,
    );
  });

  it('volatility_60d matches volatility (simple returns, population std, x sqrt(252))', () => {
    agree(
      'volatility_60d',
      (c) => ta.volatility(c, 60),
      (v) => v / 100,
    );
  });

  it('mom_3m matches roc(63)', () => {
    agree(
      'mom_3m',
      (c) => ta.roc(c, 63),
      (v) => v / 100,
    );
  });
});

/** The series of a field for stock s. */
function column(m: MarketData, a: PriceColumn, s: number): number[] {
  return Array.from({ length: m.dates.length }, (_, d) => a[d * STOCKS + s]);
}

/** Our values of `id` (all days) against a reference aligned to the last days, from day `from`. */
function agreeWith(
  id: FactorId,
  from: number,
  ref: (s: number) => number[],
  tolerance: (d: number, s: number) => number,
): void {
  const f = computeFactor(data, id);
  let compared = 0;
  for (let s = 0; s < STOCKS; s++) {
    const expected = ref(s);
    const offset = DAYS - expected.length;
    for (let d = Math.max(from, offset); d < DAYS; d++) {
      const ours = f.values[d * STOCKS + s];
      const want = expected[d - offset];
      assert.ok(Math.abs(ours - want) <= tolerance(d, s), `${id} stock ${s} day ${d}: ${ours} vs ${want}`);
      compared++;
    }
  }
  assert.ok(compared > STOCKS * 100, `${id}: ${compared} values compared`);
}

describe('new indicators against @ixjb94/indicators', () => {
  const high = (s: number): number[] => column(data, data.high, s);
  const low = (s: number): number[] => column(data, data.low, s);
  const close = (s: number): number[] => column(data, data.close, s);

  it('bollinger_pct_b and bollinger_width match bbands(20, 2)', () => {
    const bands = (s: number): number[][] => ta.bbands(close(s), 20, 2);
    agreeWith(
      'bollinger_pct_b',
      19,
      (s) => {
        const [lower, , upper] = bands(s);
        const c = close(s).slice(DAYS - lower.length);
        return lower.map((l, i) => (c[i] - l) / (upper[i] - l));
      },
      () => 1e-7,
    );
    agreeWith(
      'bollinger_width',
      19,
      (s) => {
        const [lower, middle, upper] = bands(s);
        return lower.map((l, i) => ((upper[i] - l) / middle[i]) * 100);
      },
      () => 1e-7,
    );
  });

  it('stoch_k_14 and stoch_d_14 match stoch(14, 1, 3)', () => {
    agreeWith(
      'stoch_k_14',
      0,
      (s) => ta.stoch(high(s), low(s), close(s), 14, 1, 3)[0],
      () => 1e-9,
    );
    agreeWith(
      'stoch_d_14',
      0,
      (s) => ta.stoch(high(s), low(s), close(s), 14, 1, 3)[1],
      () => 1e-9,
    );
  });

  it('cci_20 matches cci(20)', () => {
    agreeWith(
      'cci_20',
      0,
      (s) => ta.cci(high(s), low(s), close(s), 20),
      () => 1e-7,
    );
  });

  it('macd, macd_signal, macd_hist are ema() over their windows, and macd() of the whole history to 1e-6 of the price', () => {
    // the definition: EMAs of the last 200 closes, the signal's EMA of the last 50 lines
    const line = (c: number[], u: number): number => {
      const w = c.slice(u - 199, u + 1);
      return (ta.ema(w, 12).at(-1) as number) - (ta.ema(w, 26).at(-1) as number);
    };
    const lines = (s: number): number[] => {
      const c = close(s);
      return Array.from({ length: DAYS - 199 }, (_, i) => line(c, i + 199));
    };
    const signals = (s: number): number[] => {
      const l = lines(s);
      return Array.from({ length: l.length - 49 }, (_, i) => ta.ema(l.slice(i, i + 50), 9).at(-1) as number);
    };
    const price = (d: number, s: number): number => 1e-9 * data.close[d * STOCKS + s];
    agreeWith('macd', 199, lines, price);
    agreeWith('macd_signal', 248, signals, price);
    agreeWith(
      'macd_hist',
      248,
      (s) => {
        const sig = signals(s);
        const l = lines(s).slice(49);
        return l.map((x, i) => x - sig[i]);
      },
      price,
    );
    // the windows leave a weight below 3e-7 on the closes before them: the infinite-history MACD
    const whole = (d: number, s: number): number => 1e-6 * data.close[d * STOCKS + s];
    agreeWith('macd', 199, (s) => ta.macd(close(s), 12, 26, 9)[0], whole);
    agreeWith('macd_signal', 248, (s) => ta.macd(close(s), 12, 26, 9)[1], whole);
  });
});

describe('computeFactor', () => {
  const gappy = syntheticMarket({ days: 300, stocks: 30, seed: 9, gaps: true });
  const rows = Int32Array.from([0, 5, 19, 20, 61, 150, 151, 299]);
  for (const id of [
    'sma_ratio_20',
    'sma_ratio_120',
    'volatility_20d',
    'volatility_60d',
    'avg_trading_value_20d',
    'rsi_14',
    'mom_1m',
    'per',
    'roe',
    'market_cap',
  ] as const) {
    it(`${id}: selected days equal the all-days computation (rolling and windowed agree, NaN where data is missing)`, () => {
      const full = computeFactor(gappy, id);
      const some = computeFactor(gappy, id, rows);
      const S = gappy.codes.length;
      rows.forEach((d, k) => {
        for (let s = 0; s < S; s++) {
          const a = full.values[d * S + s];
          const b = some.values[k * S + s];
          assert.equal(Number.isNaN(a), Number.isNaN(b), `${id} day ${d} stock ${s}`);
          if (!Number.isNaN(a)) {
            assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a)), `${id} day ${d} stock ${s}: ${a} vs ${b}`);
          }
        }
      });
      assert.equal(some.rowOf[rows[1]], 1);
      assert.equal(some.rowOf[1], -1);
    });
  }

  it('every factor: one requested day equals the all-days computation, on a market with gaps', () => {
    const long = syntheticMarket({ days: 420, stocks: 25, seed: 19, gaps: true });
    const S = long.codes.length;
    const days = [0, 5, 20, 61, 150, 251, 252, 260, 300, 333, 419];
    for (const id of FACTOR_IDS) {
      const full = computeFactor(long, id);
      const some = computeFactor(long, id, days);
      let present = 0;
      days.forEach((d, k) => {
        const one = computeFactor(long, id, [d]);
        for (let s = 0; s < S; s++) {
          const a = full.values[d * S + s];
          for (const b of [some.values[k * S + s], one.values[s]]) {
            assert.equal(Number.isNaN(a), Number.isNaN(b), `${id} day ${d} stock ${s}: ${a} vs ${b}`);
            if (!Number.isNaN(a)) {
              assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a)), `${id} day ${d} stock ${s}: ${a} vs ${b}`);
            }
          }
          present += Number(!Number.isNaN(a));
        }
      });
      assert.ok(present > S, `${id}: ${present} values`);
    }
  });

  it('window extremes and drawdowns are exact: deque and block forms equal the direct scans, to the bit', () => {
    const long = syntheticMarket({ days: 700, stocks: 20, seed: 23, gaps: true });
    const S = long.codes.length;
    for (const id of ['high_52w_distance', 'low_52w_distance', 'max_drawdown_60d', 'max_drawdown_252d'] as const) {
      const full = computeFactor(long, id);
      let present = 0;
      for (let d = 0; d < 700; d += 7) {
        const one = computeFactor(long, id, [d]);
        for (let s = 0; s < S; s++) {
          const a = full.values[d * S + s];
          assert.ok(Object.is(a, one.values[s]), `${id} day ${d} stock ${s}: ${a} vs ${one.values[s]}`);
          present += Number(!Number.isNaN(a));
        }
      }
      assert.ok(present > 500, `${id}: ${present} values`);
    }
  });

  it('makes a moving average NaN while any bar of its window is missing', () => {
    const d = syntheticMarket({ days: 40, stocks: 1, seed: 3 });
    d.close[25] = NaN;
    const f = computeFactor(d, 'sma_ratio_5');
    assert.ok(!Number.isNaN(f.values[24]));
    for (let i = 25; i <= 29; i++) {
      assert.ok(Number.isNaN(f.values[i]), `day ${i}`);
    }
    assert.ok(!Number.isNaN(f.values[30]));
  });

  it('computes fundamentals as known on each day, from the report date on', () => {
    const d = syntheticMarket({ days: 30, stocks: 1, seed: 4 });
    const base = { equity: 1000, revenue: 4000, operatingIncome: 400, liabilities: 1500, revenuePrevYear: 3200 };
    d.fundamentals[0] = [
      { reportDate: d.dates[10], netIncome: 100, ...base },
      { reportDate: d.dates[20] - 0, netIncome: -50, ...base },
    ];
    const roe = computeFactor(d, 'roe').values;
    const per = computeFactor(d, 'per').values;
    const debt = computeFactor(d, 'debt_ratio').values;
    const growth = computeFactor(d, 'revenue_growth').values;
    const margin = computeFactor(d, 'operating_margin').values;
    assert.ok(Number.isNaN(roe[9]), 'nothing reported yet');
    assert.equal(roe[10], 10);
    assert.equal(roe[19], 10);
    assert.equal(roe[20], -5);
    assert.equal(per[15], d.marketCap[15] / 100);
    assert.ok(Number.isNaN(per[20]), 'PER of a loss is NaN');
    assert.equal(debt[12], 150);
    assert.ok(Math.abs(growth[12] - 25) < 1e-12);
    assert.equal(margin[12], 10);
  });
});
