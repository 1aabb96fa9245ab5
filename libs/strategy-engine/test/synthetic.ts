import type { FundamentalStatement, MarketData, Market } from '../src/index.js';

/** mulberry32: a small seeded PRNG so tests and benchmarks are reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Weekday dates from 2014-01-02 (holidays are not modelled), as yyyymmdd. */
export function weekdayDates(count: number, start = Date.UTC(2014, 0, 2)): Int32Array {
  const out = new Int32Array(count);
  let t = start;
  for (let i = 0; i < count;) {
    const dt = new Date(t);
    const wd = dt.getUTCDay();
    if (wd !== 0 && wd !== 6) {
      out[i++] = dt.getUTCFullYear() * 10000 + (dt.getUTCMonth() + 1) * 100 + dt.getUTCDate();
    }
    t += 86_400_000;
  }
  return out;
}

export interface SyntheticOptions {
  days: number;
  stocks: number;
  seed: number;
  /** Fraction of stocks that list late or delist early, and of bars missing (suspensions). */
  gaps?: boolean;
}

/** Random-walk OHLC bars, market caps and quarterly point-in-time statements. */
export function syntheticMarket(opts: SyntheticOptions): MarketData {
  const { days: D, stocks: S } = opts;
  const rnd = prng(opts.seed);
  const gauss = (): number => (rnd() + rnd() + rnd() + rnd() - 2) * 1.7320508;
  const n = D * S;
  const open = new Float64Array(n);
  const high = new Float64Array(n);
  const low = new Float64Array(n);
  const close = new Float64Array(n);
  const volume = new Float64Array(n);
  const tradingValue = new Float64Array(n);
  const marketCap = new Float64Array(n);
  const dates = weekdayDates(D);
  const codes: string[] = [];
  const stocks: { market: Market; sector: string }[] = [];
  const fundamentals: FundamentalStatement[][] = [];
  const prev = new Float64Array(S);
  const shares = new Float64Array(S);
  const first = new Int32Array(S);
  const last = new Int32Array(S);
  const drift = new Float64Array(S);
  const sigma = new Float64Array(S);
  for (let s = 0; s < S; s++) {
    codes.push(String(100000 + s * 7).padStart(6, '0'));
    stocks.push({ market: s % 3 === 0 ? 'KOSDAQ' : 'KOSPI', sector: `S${s % 10}` });
    prev[s] = 1000 + Math.floor(rnd() * 90000);
    shares[s] = 1e6 + Math.floor(rnd() * 1e8);
    drift[s] = (rnd() - 0.45) * 0.002;
    sigma[s] = 0.01 + rnd() * 0.03;
    const late = opts.gaps && rnd() < 0.1;
    const early = opts.gaps && rnd() < 0.1;
    first[s] = late ? Math.floor(rnd() * D * 0.5) : 0;
    last[s] = early ? Math.floor(D * 0.5 + rnd() * D * 0.5) : D - 1;
    const list: FundamentalStatement[] = [];
    let revenue = shares[s] * prev[s] * (0.2 + rnd());
    for (let q = 0; q * 63 < D; q++) {
      const prevYear = revenue;
      revenue *= 1 + (rnd() - 0.4) * 0.2;
      const equity = revenue * (0.3 + rnd());
      const statement: FundamentalStatement = {
        reportDate: dates[Math.min(D - 1, q * 63 + Math.floor(rnd() * 40))],
        netIncome: revenue * (rnd() - 0.2) * 0.2,
        equity,
        revenue,
        operatingIncome: revenue * (rnd() - 0.2) * 0.3,
        liabilities: equity * rnd() * 2,
        revenuePrevYear: prevYear,
      };
      // the optional figures, derived without drawing (the random sequence stays what it was);
      // every third statement lacks them, as an old-format file's rows do
      if (q % 3 !== 2) {
        const { netIncome: ni, operatingIncome: oi, liabilities } = statement;
        const sh = shares[s];
        Object.assign(statement, {
          grossProfit: revenue * 0.3 + oi * 0.5,
          operatingCashFlow: ni * 1.2 + revenue * 0.01 * ((q % 4) - 1),
          depreciationAmortization: revenue * 0.04,
          interestExpense: liabilities * 0.01 * (q % 4),
          dividendsPaid: Math.max(0, ni * 0.25),
          currentAssets: equity * 0.8,
          currentLiabilities: liabilities * 0.5,
          cash: equity * 0.2,
          borrowings: liabilities * 0.4,
          operatingIncomePrevYear: oi * 0.9 + prevYear * 0.01,
          netIncomePrevYear: ni * 0.8 + prevYear * 0.01,
          revenueQuarter: revenue / 4,
          operatingIncomeQuarter: oi / 4,
          netIncomeQuarter: ni / 4,
          revenuePrevQuarter: prevYear / 4,
          operatingIncomePrevQuarter: oi / 5,
          netIncomePrevQuarter: ni / 3,
          eps: ni / sh,
          epsPrevYear: (ni * 0.8 + prevYear * 0.01) / sh,
          epsQuarter: ni / 4 / sh,
          epsPrevQuarter: ni / 3 / sh,
        } satisfies Partial<FundamentalStatement>);
      }
      list.push(statement);
    }
    fundamentals.push(list.sort((a, b) => a.reportDate - b.reportDate));
  }
  for (let d = 0; d < D; d++) {
    const b = d * S;
    for (let s = 0; s < S; s++) {
      const i = b + s;
      if (d < first[s] || d > last[s] || (opts.gaps && rnd() < 0.002)) {
        open[i] = high[i] = low[i] = close[i] = volume[i] = tradingValue[i] = marketCap[i] = NaN;
        continue;
      }
      const p = prev[s];
      const sg = sigma[s];
      const o = p * Math.exp(sg * 0.3 * gauss());
      const c = p * Math.exp(drift[s] + sg * gauss());
      const h = Math.max(o, c) * (1 + Math.abs(sg * 0.5 * gauss()));
      const l = Math.min(o, c) * (1 - Math.abs(sg * 0.5 * gauss()));
      open[i] = o;
      close[i] = c;
      high[i] = h;
      low[i] = l;
      volume[i] = 1000 + Math.floor(rnd() * 1e6);
      tradingValue[i] = c * volume[i];
      marketCap[i] = c * shares[s];
      prev[s] = c;
    }
  }
  return { dates, codes, stocks, open, high, low, close, volume, tradingValue, marketCap, fundamentals };
}
