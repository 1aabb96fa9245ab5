/**
 * Engine benchmark on synthetic data (seeded): one core, warm (each case runs several times
 * first), median of repeated runs. Prints bars per second, where bars = days x stocks of the
 * backtest range. Run with `npm run bench`.
 */
import { computeFactor, runBacktest, type MarketData, type StrategyDefinition } from '../src/index.js';
import { syntheticMarket } from '../test/synthetic.js';

const DAYS = 2520; // ~10 years of KRX trading days

function strategy(rebalance: StrategyDefinition['rebalance'], maxPositions: number): StrategyDefinition {
  return {
    schemaVersion: 1,
    universe: { scope: 'all', minMarketCap: 1e9 },
    buyConditions: {
      and: [
        { factor: 'mom_3m', op: '>', value: 0 },
        { factor: 'mom_1m', op: '<', value: 30 },
      ],
    },
    ranking: { factor: 'mom_3m', order: 'desc' },
    maxPositions,
    weighting: { method: 'equal' },
    rebalance,
    sell: { stopLossPct: 10, takeProfitPct: 30 },
    costs: { commissionBps: 1.5, sellTaxBps: 23, slippageBps: 10 },
    initialCapital: 100_000_000,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function time(label: string, runs: number, bars: number, fn: () => unknown): void {
  const warm = Math.max(3, Math.floor(runs / 5));
  for (let i = 0; i < warm; i++) {
    fn();
  }
  const samples: number[] = [];
  let sink = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const r = fn();
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
    sink += r ? 1 : 0;
  }
  const ms = median(samples);
  const rate = bars / (ms / 1000);
  console.log(
    `${label.padEnd(64)} median ${ms.toFixed(3).padStart(9)} ms  min ${Math.min(...samples)
      .toFixed(3)
      .padStart(9)} ms  ${(rate / 1e6).toFixed(1).padStart(8)} M bars/s  (${runs} runs${sink < 0 ? '' : ''})`,
  );
}

function range(data: MarketData): { from: number; to: number } {
  return { from: data.dates[0], to: data.dates[data.dates.length - 1] };
}

const one = syntheticMarket({ days: DAYS, stocks: 1, seed: 1 });
time('1 stock x 10y, monthly, equity curve + trades + metrics', 2000, DAYS, () =>
  runBacktest(strategy('monthly', 1), one, range(one)),
);
time('1 stock x 10y, daily re-rank', 2000, DAYS, () => runBacktest(strategy('daily', 1), one, range(one)));

const full = syntheticMarket({ days: DAYS, stocks: 2500, seed: 2 });
const bars = DAYS * 2500;
time('2,500 stocks x 10y, monthly rebalance, top 20', 30, bars, () =>
  runBacktest(strategy('monthly', 20), full, range(full)),
);
// 250 splits over the universe; a new MarketData object per run, so each run pays for the
// back-adjusted copy the factors read (made once per data object, cached by it)
const splits = Array.from({ length: 250 }, (_, i) => ({
  stock: (i * 10) % 2500,
  exDate: full.dates[200 + ((i * 37) % 2300)] ?? 0,
  kind: 'split' as const,
  priceFactor: 2,
  shareRatio: 2,
})).sort((a, b) => a.exDate - b.exDate || a.stock - b.stock);
time('2,500 stocks x 10y, monthly, 250 splits (adjusted copy each run)', 30, bars, () =>
  runBacktest(strategy('monthly', 20), { ...full, corporateActions: splits }, range(full)),
);
time('2,500 stocks x 10y, weekly rebalance, top 20', 20, bars, () =>
  runBacktest(strategy('weekly', 20), full, range(full)),
);
time('2,500 stocks x 10y, daily re-rank, top 20', 10, bars, () =>
  runBacktest(strategy('daily', 20), full, range(full)),
);
// issue 16: recorded delistings (2 %) and KOSDAQ -> KOSPI transfers (5 %) under a KOSPI universe
const moving: MarketData = {
  ...full,
  stocks: full.stocks.map((info, s) => ({
    ...info,
    ...(s % 50 === 7 ? { delistedOn: full.dates[DAYS / 2 + s] } : {}),
    ...(s % 20 === 3
      ? {
          history: [
            { from: full.dates[0], market: 'KOSDAQ' as const, sector: info.sector },
            { from: full.dates[(s * 7) % DAYS], market: 'KOSPI' as const, sector: info.sector },
          ],
        }
      : {}),
  })),
};
const kospi: StrategyDefinition = { ...strategy('monthly', 20), universe: { scope: 'markets', markets: ['KOSPI'] } };
time('2,500 stocks x 10y, monthly, KOSPI, 2 % delisted, 5 % transferred', 30, bars, () =>
  runBacktest(kospi, moving, range(moving)),
);
time('2,500 stocks x 10y, monthly, KOSPI, no delistings, no transfers', 30, bars, () =>
  runBacktest(kospi, full, range(full)),
);
const rsiStrategy: StrategyDefinition = {
  ...strategy('monthly', 20),
  buyConditions: {
    and: [
      { factor: 'rsi_14', op: '<', value: 70 },
      { factor: 'per', op: 'between', min: 0, max: 15 },
    ],
  },
};
time('2,500 stocks x 10y, monthly, RSI(14) + PER filter (full-pass RSI)', 10, bars, () =>
  runBacktest(rsiStrategy, full, range(full)),
);
time('factor: sma_ratio_20, all days (rolling)', 10, bars, () => computeFactor(full, 'sma_ratio_20'));
time('factor: rsi_14, all days', 10, bars, () => computeFactor(full, 'rsi_14'));
time('factor: volatility_60d, all days (rolling)', 10, bars, () => computeFactor(full, 'volatility_60d'));

// issue 16: composite scores and the new factor families
const scoreStrategy = (rebalance: StrategyDefinition['rebalance']): StrategyDefinition => ({
  ...strategy(rebalance, 20),
  ranking: {
    score: [
      { factor: 'mom_3m', order: 'desc', weight: 1 },
      { factor: 'volatility_60d', order: 'asc', weight: 1 },
      { factor: 'per', order: 'asc', weight: 1 },
    ],
  },
});
time('2,500 stocks x 10y, monthly, 3-factor composite score', 10, bars, () =>
  runBacktest(scoreStrategy('monthly'), full, range(full)),
);
time('2,500 stocks x 10y, daily re-rank, 3-factor composite score', 3, bars, () =>
  runBacktest(scoreStrategy('daily'), full, range(full)),
);
time('factor: macd_signal, all days (sliding)', 5, bars, () => computeFactor(full, 'macd_signal'));
time('factor: beta_252d, all days (rolling)', 5, bars, () => computeFactor(full, 'beta_252d'));
time('factor: high_52w_distance, all days (deque)', 5, bars, () => computeFactor(full, 'high_52w_distance'));
time('factor: max_drawdown_252d, all days (blocks)', 3, bars, () => computeFactor(full, 'max_drawdown_252d'));
time('factor: bollinger_pct_b, all days (direct windows)', 5, bars, () => computeFactor(full, 'bollinger_pct_b'));
