import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { CONFIG, DomainError } from '@stocklab/platform';
import { isoOf, parseStrategyDefinition, universeDefinition } from '@stocklab/strategy-engine';
import type { DataSource } from 'typeorm';
import { PREVIEW_DAY_MISSING, type PreviewAnswer, type PreviewJob } from '../backtests/universe-preview.worker.js';
import type { BacktestConfig } from '../config.js';
import { Queues, QUEUE } from '../queue/queues.js';
import type { UniversePreviewDto, UniversePreviewRequestDto } from './dto/universe-preview.dto.js';

const MAX_LISTED_ERRORS = 5;
const DEFAULT_LIMIT = 100;

/**
 * "How many stocks does this universe pass, and which?" for a strategy builder: validated here,
 * computed by a process that holds the market data (UniversePreviewWorker) with the engine's own
 * filters, awaited for PREVIEW_TIMEOUT_MS. Nothing is stored: a preview job is removed once read.
 */
@Injectable()
export class UniversePreviewService {
  constructor(
    @Inject(CONFIG) private readonly config: BacktestConfig,
    @Inject(Queues) private readonly queues: Queues,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  async preview(request: UniversePreviewRequestDto): Promise<UniversePreviewDto> {
    const parsed = parseStrategyDefinition(universeDefinition(request.universe, request.buyConditions));
    if (!parsed.ok) {
      const listed = parsed.errors.slice(0, MAX_LISTED_ERRORS).map((e) => `${e.path}: ${e.message}`);
      throw new DomainError(
        400,
        'INVALID_UNIVERSE',
        `The universe or buy conditions are not valid: ${listed.join('; ')}`,
      );
    }
    const date = await this.tradingDay(request.date);
    const job: PreviewJob = {
      universe: parsed.value.universe,
      ...(parsed.value.buyConditions ? { buyConditions: parsed.value.buyConditions } : {}),
      date: Number(date.replaceAll('-', '')),
      limit: request.limit ?? DEFAULT_LIMIT,
    };
    const queued = await this.queues
      .queue(QUEUE.previews)
      .add('preview', job, { attempts: 1, removeOnComplete: { age: 60 }, removeOnFail: { age: 60 } });
    let answer: PreviewAnswer;
    try {
      answer = (await queued.waitUntilFinished(
        this.queues.queueEvents(QUEUE.previews),
        this.config.PREVIEW_TIMEOUT_MS,
      )) as PreviewAnswer;
    } catch (error) {
      await queued.remove().catch(() => undefined);
      const message = error instanceof Error ? error.message : String(error);
      throw new DomainError(
        503,
        'PREVIEW_UNAVAILABLE',
        message.includes(PREVIEW_DAY_MISSING)
          ? `the market data of ${date} is still loading; try again in a moment`
          : 'no backtest worker answered the preview in time; try again later',
        { 'Retry-After': '5' },
      );
    }
    return {
      date: isoOf(answer.date),
      dataVersion: answer.dataVersion,
      count: answer.count,
      stocks: await this.named(answer),
    };
  }

  /** The date asked for if it is a trading day of the data, else the last one; 400 otherwise. */
  private async tradingDay(date: string | undefined): Promise<string> {
    const t = date === undefined ? 0 : Date.parse(`${date}T00:00:00Z`);
    if (date !== undefined && (Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== date)) {
      throw new DomainError(400, 'INVALID_DATE', 'date is not a valid date');
    }
    const [row] = await this.dataSource.query<Array<{ day: string | null }>>(
      date === undefined
        ? `SELECT to_char(max(date), 'YYYY-MM-DD') AS day FROM market.trading_days`
        : `SELECT to_char(date, 'YYYY-MM-DD') AS day FROM market.trading_days WHERE date = $1::date`,
      date === undefined ? [] : [date],
    );
    if (!row?.day) {
      throw date === undefined
        ? new DomainError(409, 'NO_MARKET_DATA', 'there is no market data to preview on yet')
        : new DomainError(400, 'NOT_A_TRADING_DAY', `${date} is not a trading day of the market data`);
    }
    return row.day;
  }

  private async named(answer: PreviewAnswer): Promise<UniversePreviewDto['stocks']> {
    const codes = answer.stocks.map((s) => s.code);
    const rows = await this.dataSource.query<Array<{ code: string; name: string }>>(
      `SELECT code, name FROM market.securities WHERE code = ANY($1::text[])`,
      [codes],
    );
    const names = new Map(rows.map((r) => [r.code, r.name]));
    return answer.stocks.map((s) => ({ ...s, name: names.get(s.code) ?? s.code }));
  }
}
