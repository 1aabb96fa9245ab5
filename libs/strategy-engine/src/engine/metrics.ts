import { epochDay } from '../data/market-data.js';

/**
 * Performance metrics. Conventions (documented because users compare them with other tools):
 * - returns and rates are fractions (0.12 = 12 %);
 * - daily returns are value(i)/value(i-1) - 1 for the days after the first; the first day has
 *   no return (nothing can trade before its close, fills happen at the next open);
 * - annualized volatility = sample std of daily returns x sqrt(252);
 * - Sharpe = mean / std x sqrt(252) with a risk-free rate of 0 (KRW deposit rates vary over the
 *   decade; a 0 rate keeps results comparable and is what the first version showed);
 * - Sortino = mean / downside deviation x sqrt(252), downside deviation = sqrt(mean(min(r,0)^2))
 *   over all days (target 0);
 * - CAGR from calendar time: years = (last date - first date) in days / 365.25, because
 *   trading-day counts differ by year and market holidays;
 * - max drawdown is the most negative value/peak - 1, with the peak and trough dates;
 * - Calmar = CAGR / |max drawdown|;
 * - win rate, profit factor (gross profit / gross loss) and average holding days are over closed
 *   round trips (a sell), net of all costs;
 * - turnover = (bought + sold amount) / 2 / average portfolio value / years (annualized).
 * A metric that is undefined (no trades, zero volatility, no losses) is null, never NaN/Infinity.
 */
export interface BacktestMetrics {
  initialCapital: number;
  finalValue: number;
  totalReturn: number;
  cagr: number | null;
  maxDrawdown: number;
  maxDrawdownPeakDate: number | null;
  maxDrawdownTroughDate: number | null;
  /** First date the value got back to the peak; null if it has not. */
  maxDrawdownRecoveryDate: number | null;
  annualizedVolatility: number | null;
  sharpe: number | null;
  sortino: number | null;
  calmar: number | null;
  winRate: number | null;
  profitFactor: number | null;
  averageHoldingDays: number | null;
  /** Annualized. */
  turnover: number | null;
  /** Buy and sell fills. */
  numberOfTrades: number;
  /** Completed round trips (sells). */
  closedTrades: number;
  tradingDays: number;
}

export interface MetricsInput {
  dates: ArrayLike<number>;
  value: ArrayLike<number>;
  initialCapital: number;
  /** Net P/L of each closed round trip. */
  closedPnl: ArrayLike<number>;
  closedHoldingDays: ArrayLike<number>;
  tradedAmount: number;
  numberOfTrades: number;
}

export function yearsBetween(first: number, last: number): number {
  return (epochDay(last) - epochDay(first)) / 365.25;
}

export function cagrOf(initial: number, final: number, years: number): number | null {
  if (!(years > 0) || !(initial > 0)) {
    return null;
  }
  return final <= 0 ? -1 : Math.pow(final / initial, 1 / years) - 1;
}

export function computeMetrics(input: MetricsInput): BacktestMetrics {
  const { dates, value, initialCapital } = input;
  const n = value.length;
  const finalValue = n > 0 ? value[n - 1] : initialCapital;
  const years = n > 0 ? yearsBetween(dates[0], dates[n - 1]) : 0;

  // One pass: daily return sums (days 1..n-1) and the drawdown.
  let sum = 0;
  let sumSq = 0;
  let downSq = 0;
  let peak = -Infinity;
  let peakDay = 0;
  let mdd = 0;
  let mddPeak = -1;
  let mddTrough = -1;
  let prev = n > 0 ? value[0] : 0;
  for (let i = 0; i < n; i++) {
    const v = value[i];
    if (i > 0) {
      const r = v / prev - 1;
      sum += r;
      sumSq += r * r;
      downSq += r < 0 ? r * r : 0;
      prev = v;
    }
    if (v > peak) {
      peak = v;
      peakDay = i;
    }
    const dd = v / peak - 1;
    if (dd < mdd) {
      mdd = dd;
      mddPeak = peakDay;
      mddTrough = i;
    }
  }
  const m = n - 1;
  const mean = m > 0 ? sum / m : 0;
  // Sample variance from the sums; daily returns have |mean| << std, so this loses nothing.
  const std = m > 1 ? Math.sqrt(Math.max(0, (sumSq - sum * mean) / (m - 1))) : 0;
  const downside = m > 0 ? Math.sqrt(downSq / m) : 0;
  const sqrt252 = Math.sqrt(252);

  let recovery = -1;
  if (mddTrough >= 0) {
    const target = value[mddPeak];
    for (let i = mddTrough + 1; i < n; i++) {
      if (value[i] >= target) {
        recovery = i;
        break;
      }
    }
  }

  // Closed trades.
  let wins = 0;
  let grossProfit = 0;
  let grossLoss = 0;
  let holding = 0;
  const closed = input.closedPnl.length;
  for (let i = 0; i < closed; i++) {
    const p = input.closedPnl[i];
    if (p > 0) {
      wins++;
      grossProfit += p;
    } else {
      grossLoss -= p;
    }
    holding += input.closedHoldingDays[i];
  }
  let avgValue = 0;
  for (let i = 0; i < n; i++) {
    avgValue += value[i];
  }
  avgValue = n > 0 ? avgValue / n : 0;

  const cagr = cagrOf(initialCapital, finalValue, years);
  return {
    initialCapital,
    finalValue,
    totalReturn: finalValue / initialCapital - 1,
    cagr,
    maxDrawdown: mdd,
    maxDrawdownPeakDate: mddPeak >= 0 ? dates[mddPeak] : null,
    maxDrawdownTroughDate: mddTrough >= 0 ? dates[mddTrough] : null,
    maxDrawdownRecoveryDate: recovery >= 0 ? dates[recovery] : null,
    annualizedVolatility: m > 1 ? std * sqrt252 : null,
    sharpe: std > 0 ? (mean / std) * sqrt252 : null,
    sortino: downside > 0 ? (mean / downside) * sqrt252 : null,
    calmar: cagr !== null && mdd < 0 ? cagr / -mdd : null,
    winRate: closed > 0 ? wins / closed : null,
    profitFactor: grossLoss > 0 ? grossProfit / grossLoss : null,
    averageHoldingDays: closed > 0 ? holding / closed : null,
    turnover: years > 0 && avgValue > 0 ? input.tradedAmount / 2 / avgValue / years : null,
    numberOfTrades: input.numberOfTrades,
    closedTrades: closed,
    tradingDays: n,
  };
}
