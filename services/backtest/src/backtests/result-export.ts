import { isoOf, type BacktestResult } from '@stocklab/strategy-engine';

export { isoOf };

/** The engine's metrics as the API shows them: its yyyymmdd dates as ISO dates, like every other date. */
export function metricsForApi(metrics: BacktestResult['metrics']): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(metrics).map(([key, value]) => [
      key,
      key.endsWith('Date') && typeof value === 'number' ? isoOf(value) : value,
    ]),
  );
}

const num = (v: number | null | undefined): string =>
  v === null || v === undefined || !Number.isFinite(v) ? '' : String(v);

/** The daily equity curve as CSV (one row per trading day). */
export function equityCsv(result: BacktestResult): string {
  const e = result.equityCurve;
  const lines = ['date,value,cash,invested,daily_return,drawdown,benchmark'];
  for (let i = 0; i < e.dates.length; i++) {
    lines.push(
      [
        isoOf(e.dates[i]),
        num(e.value[i]),
        num(e.cash[i]),
        num(e.invested[i]),
        num(e.dailyReturn[i]),
        num(e.drawdown[i]),
        num(result.benchmark?.value[i]),
      ].join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The trade list as CSV, with the reason of each trade. */
export function tradesCsv(result: BacktestResult): string {
  const lines = ['seq,date,code,side,quantity,price,amount,commission,tax,pnl,return_rate,holding_days,reason'];
  result.trades.forEach((t, seq) => {
    lines.push(
      [
        seq,
        isoOf(t.date),
        t.code,
        t.side,
        t.quantity,
        num(t.price),
        num(t.amount),
        num(t.commission),
        num(t.tax),
        num(t.pnl),
        num(t.returnRate),
        num(t.holdingDays),
        t.reason,
      ].join(','),
    );
  });
  return `${lines.join('\n')}\n`;
}
