/**
 * The README's example strategy (all stocks, 6-month momentum, PER and ROE filters, 20 positions,
 * monthly rebalance, stop loss and take profit): the benchmarks' standard load.
 */
export const README_EXAMPLE_STRATEGY = {
  schemaVersion: 1,
  universe: { scope: 'all' },
  ranking: { factor: 'mom_6m', order: 'desc' },
  buyConditions: {
    and: [
      { factor: 'per', op: 'between', min: 0, max: 15 },
      { factor: 'roe', op: '>', value: 10 },
    ],
  },
  maxPositions: 20,
  weighting: { method: 'equal' },
  rebalance: 'monthly',
  sell: { stopLossPct: 15, takeProfitPct: 40 },
  costs: { commissionBps: 1.5, sellTaxBps: 23, slippageBps: 10 },
  initialCapital: 100_000_000,
} as const;
