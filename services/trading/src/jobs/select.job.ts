import { Injectable } from '@nestjs/common';
import { isRebalanceDay, parseStrategyDefinition, selectPicks } from '@stocklab/strategy-engine';
import { CalendarService } from '../calendar/calendar.service.js';
import { TradingMetrics } from '../metrics/trading-metrics.js';
import { signalDayOf, StaleMarketDataError } from './data-freshness.js';
import { isoOf, MarketDataService } from '../market/market-data.service.js';
import { strategyLog, type JobBody, type JobContext } from './job-context.js';

/**
 * 07:00: the picks of each active strategy whose signal day (the last market day before the
 * trading date) is a rebalance day, or whose first decision is due, stored per (strategy, trading
 * date) for the user to see before the open. The engine's selection (selectPicks) is the one the
 * 09:00 decision makes on the same data, so these are the picks it will want.
 */
@Injectable()
export class SelectJob implements JobBody {
  constructor(
    private readonly market: MarketDataService,
    private readonly calendar: CalendarService,
    private readonly metrics: TradingMetrics,
  ) {}

  async run(ctx: JobContext): Promise<Record<string, unknown>> {
    const { run } = ctx;
    const snapshot = await this.market.snapshot(run.tradingDate);
    const data = snapshot.data;
    let signalIndex: number;
    try {
      signalIndex = await signalDayOf(data, run.tradingDate, this.calendar);
    } catch (error) {
      if (error instanceof StaleMarketDataError) {
        this.metrics.staleData.inc({ job: 'select' });
      }
      throw error;
    }
    const strategies: Array<{ id: string; rules: unknown; first: boolean }> = await ctx.fenced((m) =>
      m.query(
        `SELECT id, rules, last_signal_date IS NULL AS first FROM trading.auto_strategies WHERE status = 'active' ORDER BY id`,
      ),
    );
    const signalDate = isoOf(data.dates[signalIndex]);
    let picks = 0;
    let selected = 0;
    for (const strategy of strategies) {
      ctx.signal.throwIfAborted();
      const parsed = parseStrategyDefinition(strategy.rules);
      if (!parsed.ok) {
        await ctx.fenced((m) =>
          strategyLog(m, strategy.id, run.runKey, 'error', 'select skipped: stored rules are invalid', {
            errors: parsed.errors.slice(0, 5),
          }),
        );
        continue;
      }
      const def = parsed.value;
      if (!isRebalanceDay(data, def.rebalance, signalIndex, strategy.first)) {
        await ctx.fenced((m) =>
          strategyLog(m, strategy.id, run.runKey, 'info', `no selection: ${signalDate} is not a rebalance day`, {
            rebalance: def.rebalance,
          }),
        );
        continue;
      }
      const selection = selectPicks(def, data, signalIndex);
      const S = data.codes.length;
      await ctx.fenced(async (m) => {
        for (const p of selection.picks) {
          const close = data.close[signalIndex * S + p.stockIndex];
          await m.query(
            `INSERT INTO trading.picks (auto_strategy_id, trading_date, signal_date, rank, code, weight, reference_price, run_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
            [strategy.id, run.tradingDate, signalDate, p.rank, p.code, p.weight.toFixed(10), close, run.runKey],
          );
        }
        await strategyLog(m, strategy.id, run.runKey, 'info', `selected ${selection.picks.length} picks`, {
          tradingDate: run.tradingDate,
          signalDate,
          picks: selection.picks.map((p) => ({ rank: p.rank, code: p.code, weight: p.weight })),
        });
      });
      picks += selection.picks.length;
      selected += 1;
    }
    return { strategies: strategies.length, selected, picks, signalDate };
  }
}
