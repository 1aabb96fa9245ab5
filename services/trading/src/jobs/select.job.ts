import { Injectable } from '@nestjs/common';
import {
  FactorCache,
  isRebalanceDay,
  parseStrategyDefinition,
  selectPicks,
  type MarketData,
} from '@stocklab/strategy-engine';
import { CalendarService } from '../calendar/calendar.service.js';
import { TradingMetrics } from '../metrics/trading-metrics.js';
import { signalDayOf, StaleMarketDataError } from './data-freshness.js';
import { isoOf, MarketDataService } from '../market/market-data.service.js';
import { forChunks, insertLogs, type LogRow } from './batch-writes.js';
import type { JobBody, JobContext } from './job-context.js';

interface PickRow {
  strategyId: string;
  rank: number;
  code: string;
  /** as stored: 10 decimals */
  weight: string;
  referencePrice: number;
}

/**
 * 07:00: the picks of each active strategy whose signal day (the last market day before the
 * trading date) is a rebalance day, or whose first decision is due, stored per (strategy, trading
 * date) for the user to see before the open. The engine's selection (selectPicks) is the one the
 * 09:00 decision makes on the same data, so these are the picks it will want. The strategies
 * select in one pass sharing the day's factors (FactorCache), and the picks and log lines are
 * written with multi-row statements in one fenced transaction.
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
    // the durations are reported with the run (what the daily-jobs benchmark reads)
    const started = performance.now();
    const snapshot = await this.market.snapshot(run.tradingDate);
    const loaded = performance.now();
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
    const day: SelectDay = {
      data,
      signalIndex,
      signalDate: isoOf(data.dates[signalIndex]),
      tradingDate: run.tradingDate,
      // one cache for the run: every strategy reads the day's factors computed once
      factors: new FactorCache(data),
    };
    let selected = 0;
    let picks = 0;
    let selecting = 0;
    // all or nothing: a resumed run selects again and writes the same picks (never half of them twice);
    // a chunk at a time, so that what is held in memory does not grow with the strategies
    await ctx.fenced(async (m) => {
      for (let i = 0; i < strategies.length; i += SELECT_CHUNK) {
        const t0 = performance.now();
        const chunk = selectChunk(day, strategies.slice(i, i + SELECT_CHUNK), ctx.signal);
        selecting += performance.now() - t0;
        await forChunks(
          m,
          chunk.rows,
          [(p) => p.strategyId, (p) => p.rank, (p) => p.code, (p) => p.weight, (p) => p.referencePrice],
          `INSERT INTO trading.picks (auto_strategy_id, trading_date, signal_date, rank, code, weight, reference_price, run_key)
           SELECT p.id, $6::date, $7::date, p.rank, p.code, p.weight, p.reference_price, $8::text
             FROM unnest($1::uuid[], $2::int[], $3::text[], $4::numeric[], $5::numeric[])
               AS p(id, rank, code, weight, reference_price)
           ON CONFLICT DO NOTHING`,
          [run.tradingDate, day.signalDate, run.runKey],
        );
        await insertLogs(m, run.runKey, chunk.logs);
        selected += chunk.selected;
        picks += chunk.rows.length;
      }
    });
    const ms = {
      market: Math.round(loaded - started),
      select: Math.round(selecting),
      write: Math.round(performance.now() - loaded - selecting),
    };
    return { strategies: strategies.length, selected, picks, signalDate: day.signalDate, ms };
  }
}

/** Strategies selected and written at a time. */
const SELECT_CHUNK = 1_000;

interface SelectDay {
  data: MarketData;
  signalIndex: number;
  signalDate: string;
  tradingDate: string;
  factors: FactorCache;
}

/** The picks and log lines of some strategies, in their order. */
function selectChunk(
  day: SelectDay,
  strategies: ReadonlyArray<{ id: string; rules: unknown; first: boolean }>,
  signal: AbortSignal,
): { rows: PickRow[]; logs: LogRow[]; selected: number } {
  const { data, signalIndex, signalDate } = day;
  const S = data.codes.length;
  const rows: PickRow[] = [];
  const logs: LogRow[] = [];
  let selected = 0;
  for (const strategy of strategies) {
    signal.throwIfAborted();
    const parsed = parseStrategyDefinition(strategy.rules);
    if (!parsed.ok) {
      logs.push({
        strategyId: strategy.id,
        level: 'error',
        message: 'select skipped: stored rules are invalid',
        details: { errors: parsed.errors.slice(0, 5) },
      });
      continue;
    }
    const def = parsed.value;
    if (!isRebalanceDay(data, def.rebalance, signalIndex, strategy.first)) {
      logs.push({
        strategyId: strategy.id,
        level: 'info',
        message: `no selection: ${signalDate} is not a rebalance day`,
        details: { rebalance: def.rebalance },
      });
      continue;
    }
    const selection = selectPicks(def, data, signalIndex, day.factors);
    for (const p of selection.picks) {
      rows.push({
        strategyId: strategy.id,
        rank: p.rank,
        code: p.code,
        weight: p.weight.toFixed(10),
        referencePrice: data.close[signalIndex * S + p.stockIndex],
      });
    }
    logs.push({
      strategyId: strategy.id,
      level: 'info',
      message: `selected ${selection.picks.length} picks`,
      details: {
        tradingDate: day.tradingDate,
        signalDate,
        picks: selection.picks.map((p) => ({ rank: p.rank, code: p.code, weight: p.weight })),
      },
    });
    selected += 1;
  }
  return { rows, logs, selected };
}
