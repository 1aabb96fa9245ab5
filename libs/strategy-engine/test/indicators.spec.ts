import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { IndicatorsSync } from '@ixjb94/indicators';
import { computeFactor, type FactorId, type MarketData } from '../src/index.js';
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
