import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DomainError, idempotencyKeyReused, requestHash } from '@stocklab/platform';
import { parseStrategyDefinition, type StrategyDefinition } from '@stocklab/strategy-engine';
import type { Readable } from 'node:stream';
import { DataSource, In } from 'typeorm';
import type { BacktestConfig } from '../config.js';
import { CONFIG } from '@stocklab/platform';
import { Queues, QUEUE } from '../queue/queues.js';
import { enqueueBacktest } from './backtest-queue.js';
import { ObjectStorage } from '../storage/object-storage.js';
import { StrategiesService } from '../strategies/strategies.service.js';
import { CREATED_AT_CURSOR_SQL, decodeCreatedAtCursor, encodeCreatedAtCursor } from '../common/created-at-cursor.js';
import { Backtest } from './backtest.entity.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import type { StrategyBody } from '../strategies/strategy-body.pipe.js';
import type { BacktestDto, BacktestSummaryDto, CompareDto, CreateBacktestFieldsDto } from './dto/backtest.dto.js';
import { BENCHMARKS } from './market-snapshot.js';

const ACTIVE = ['queued', 'running'];
const EARLIEST = '1980-01-01';

export function toDto(b: Backtest): BacktestDto {
  return {
    id: b.id,
    status: b.status,
    progress: Math.round(b.progress * 10) / 10,
    strategyId: b.strategyId,
    from: b.fromDate,
    to: b.toDate,
    metrics: b.metrics,
    summary: b.summary,
    error: b.error,
    attempts: b.attempts,
    createdAt: b.createdAt.toISOString(),
    startedAt: b.startedAt?.toISOString() ?? null,
    finishedAt: b.finishedAt?.toISOString() ?? null,
  };
}

function validDate(iso: string, field: string): void {
  const d = new Date(`${iso}T00:00:00Z`);
  if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== iso || iso < EARLIEST || iso > '2100-12-31') {
    throw new DomainError(400, 'INVALID_DATE', `${field} is not a valid date`);
  }
}

export const notFound = (): DomainError => new DomainError(404, 'BACKTEST_NOT_FOUND', 'No such backtest');

@Injectable()
export class BacktestsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(CONFIG) private readonly config: BacktestConfig,
    @Inject(Queues) private readonly queues: Queues,
    @Inject(ObjectStorage) private readonly storage: ObjectStorage,
    @Inject(StrategiesService) private readonly strategies: StrategiesService,
  ) {}

  /**
   * Queues a backtest. With an idempotency key, a retry of the same request (after a lost answer)
   * returns the backtest the first attempt created instead of running it again; `replayed` says so.
   */
  async submit(
    ownerId: string,
    dto: StrategyBody<CreateBacktestFieldsDto>,
    idempotencyKey?: string,
  ): Promise<{ backtest: BacktestDto; replayed: boolean }> {
    if ((dto.strategyId === undefined) === (dto.definition === undefined || dto.definition === null)) {
      throw new DomainError(400, 'VALIDATION_FAILED', 'give exactly one of strategyId and definition');
    }
    validDate(dto.from, 'from');
    validDate(dto.to, 'to');
    if (dto.from > dto.to) {
      throw new DomainError(400, 'INVALID_DATE_RANGE', 'from must not be after to');
    }
    let definition: StrategyDefinition;
    if (dto.strategyId !== undefined) {
      definition = (await this.strategies.findOwned(ownerId, dto.strategyId)).definition;
    } else {
      const parsed = parseStrategyDefinition(dto.definition);
      if (!parsed.ok) {
        const first = parsed.errors.slice(0, 5).map((e) => `${e.path}: ${e.message}`);
        throw new DomainError(400, 'INVALID_STRATEGY', first.join('; '));
      }
      definition = parsed.value;
    }
    if (definition.benchmark !== undefined && !(BENCHMARKS as readonly string[]).includes(definition.benchmark)) {
      throw new DomainError(400, 'INVALID_STRATEGY', `benchmark: must be one of ${BENCHMARKS.join(', ')}`);
    }
    await this.requireTradingDays(dto.from, dto.to);

    // The per-user limit holds across replicas: the count and the insert happen under a
    // transaction-scoped advisory lock on the user, so two replicas cannot both see "2 active".
    const hash = idempotencyKey === undefined ? null : requestHash(dto);
    const outcome = await this.dataSource.transaction(async (manager) => {
      await manager.query(`SELECT pg_advisory_xact_lock(hashtext('backtest-limit:' || $1))`, [ownerId]);
      // under the same lock: two attempts with one key cannot both find nothing and insert
      if (idempotencyKey !== undefined && hash !== null) {
        const earlier = await manager
          .getRepository(Backtest)
          .createQueryBuilder('b')
          .addSelect('b.requestHash')
          .where('b.ownerId = :ownerId AND b.idempotencyKey = :idempotencyKey', { ownerId, idempotencyKey })
          .getOne();
        if (earlier) {
          if (!earlier.requestHash?.equals(hash)) {
            throw idempotencyKeyReused();
          }
          return { backtest: earlier, replayed: true };
        }
      }
      const [{ active }] = await manager.query<[{ active: number }]>(
        `SELECT count(*)::int AS active FROM backtest.backtests WHERE owner_id = $1 AND status = ANY($2)`,
        [ownerId, ACTIVE],
      );
      if (active >= this.config.BACKTEST_USER_LIMIT) {
        throw new DomainError(
          429,
          'BACKTEST_LIMIT',
          `at most ${this.config.BACKTEST_USER_LIMIT} backtests may be queued or running at once; wait for one to finish`,
          { 'Retry-After': '10' },
        );
      }
      const created = await manager.save(
        manager.create(Backtest, {
          ownerId,
          strategyId: dto.strategyId ?? null,
          definition,
          fromDate: dto.from,
          toDate: dto.to,
          status: 'queued',
          idempotencyKey: idempotencyKey ?? null,
          requestHash: hash,
        }),
      );
      return { backtest: created, replayed: false };
    });
    if (!outcome.replayed) {
      // The row is the source of truth; if this enqueue is lost (Redis down or flushed), the
      // reconciler enqueues every queued row that has no job.
      await this.enqueue(outcome.backtest.id).catch(() => undefined);
    }
    return { backtest: toDto(outcome.backtest), replayed: outcome.replayed };
  }

  /** A range without a single trading day in the market data cannot run: refused now, not failed later. */
  private async requireTradingDays(from: string, to: string): Promise<void> {
    const [{ found }] = await this.dataSource.query<[{ found: boolean }]>(
      `SELECT EXISTS (SELECT 1 FROM market.trading_days WHERE date BETWEEN $1 AND $2) AS found`,
      [from, to],
    );
    if (!found) {
      throw new DomainError(400, 'NO_TRADING_DAYS', `the market data has no trading day from ${from} to ${to}`);
    }
  }

  enqueue(id: string): Promise<unknown> {
    return enqueueBacktest(this.queues, id);
  }

  async get(ownerId: string, id: string): Promise<BacktestDto> {
    return toDto(await this.owned(ownerId, id));
  }

  private async owned(ownerId: string, id: string): Promise<Backtest> {
    const backtest = await this.dataSource.getRepository(Backtest).findOneBy({ id, ownerId });
    if (!backtest) {
      throw notFound();
    }
    return backtest;
  }

  /** Newest first; keyset pagination on (created_at desc, id), the order of ix_backtests_owner. */
  async list(
    ownerId: string,
    limit = 20,
    cursor?: string,
  ): Promise<{ items: BacktestSummaryDto[]; nextCursor: string | null }> {
    const after = cursor === undefined ? undefined : decodeCreatedAtCursor(cursor);
    const keys = await this.dataSource.query<{ id: string; cursor_at: string }[]>(
      `SELECT id, ${CREATED_AT_CURSOR_SQL} AS cursor_at FROM backtest.backtests
        WHERE owner_id = $1 AND ($3::timestamptz IS NULL OR created_at < $3::timestamptz OR (created_at = $3::timestamptz AND id > $4::uuid))
        ORDER BY created_at DESC, id ASC LIMIT $2`,
      [ownerId, limit + 1, after?.createdAt ?? null, after?.id ?? null],
    );
    const page = keys.slice(0, limit);
    const rows = await this.dataSource.getRepository(Backtest).findBy({ id: In(page.map((k) => k.id)) });
    const byId = new Map(rows.map((r) => [r.id, r]));
    const names = await this.strategyNames(ownerId, rows);
    const last = page[page.length - 1];
    return {
      items: page.flatMap((k) => {
        const row = byId.get(k.id);
        return row ? [{ ...toDto(row), strategyName: names.get(row.strategyId ?? '') ?? null }] : [];
      }),
      nextCursor:
        keys.length > limit && last ? encodeCreatedAtCursor({ createdAt: last.cursor_at, id: last.id }) : null,
    };
  }

  async equity(ownerId: string, id: string, limit = 1000, cursor?: string) {
    // the request is judged before the resource is looked up: a bad cursor is a 400 whatever the id
    const after = decodeCursor<[string]>(cursor, ['day']);
    await this.owned(ownerId, id);
    const rows = await this.dataSource.query<
      {
        day: string;
        value: number;
        cash: number;
        invested: number;
        daily_return: number;
        drawdown: number;
        benchmark: number | null;
      }[]
    >(
      `SELECT to_char(day, 'YYYY-MM-DD') AS day, value, cash, invested, daily_return, drawdown, benchmark
         FROM backtest.backtest_equity WHERE backtest_id = $1 AND ($2::date IS NULL OR day > $2::date)
        ORDER BY day LIMIT $3`,
      [id, after?.[0] ?? null, limit + 1],
    );
    const page = rows.slice(0, limit);
    return {
      items: page.map((r) => ({
        date: r.day,
        value: r.value,
        cash: r.cash,
        invested: r.invested,
        dailyReturn: r.daily_return,
        drawdown: r.drawdown,
        benchmark: r.benchmark,
      })),
      nextCursor: rows.length > limit && page.length > 0 ? encodeCursor([page[page.length - 1]?.day]) : null,
    };
  }

  async trades(ownerId: string, id: string, limit = 100, cursor?: string) {
    const after = decodeCursor<[number]>(cursor, ['seq']);
    await this.owned(ownerId, id);
    const rows = await this.dataSource.query<
      {
        seq: number;
        day: string;
        code: string;
        side: string;
        quantity: number;
        price: number;
        fees: number;
        tax: number;
        pnl: number | null;
        holding_days: number | null;
        reason: string;
      }[]
    >(
      `SELECT seq, to_char(day, 'YYYY-MM-DD') AS day, code, side, quantity, price, fees, tax, pnl, holding_days, reason
         FROM backtest.backtest_trades WHERE backtest_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      [id, after?.[0] ?? -1, limit + 1],
    );
    const page = rows.slice(0, limit);
    return {
      items: page.map((r) => ({
        seq: r.seq,
        date: r.day,
        code: r.code,
        side: r.side,
        quantity: r.quantity,
        price: r.price,
        commission: r.fees,
        tax: r.tax,
        pnl: r.pnl,
        holdingDays: r.holding_days,
        reason: r.reason,
      })),
      nextCursor: rows.length > limit && page.length > 0 ? encodeCursor([page[page.length - 1]?.seq]) : null,
    };
  }

  async export(
    ownerId: string,
    id: string,
    part: 'equity' | 'trades',
  ): Promise<{ body: Readable; fileName: string; contentLength: number | undefined }> {
    const backtest = await this.owned(ownerId, id);
    if (backtest.status !== 'succeeded' || !backtest.exportKey) {
      throw new DomainError(409, 'BACKTEST_NOT_FINISHED', 'The export exists once the backtest has succeeded');
    }
    const object = await this.storage.get(`${backtest.exportKey}/${part}.csv`);
    return { body: object.body, fileName: `backtest-${id}-${part}.csv`, contentLength: object.contentLength };
  }

  /** The account was deleted: its queued and running backtests are cancelled (idempotent). */
  async cancelAllOf(ownerId: string): Promise<number> {
    const [rows] = await this.dataSource.query<[Array<{ id: string }>, number]>(
      `UPDATE backtest.backtests SET status = 'cancelled', finished_at = now()
        WHERE owner_id = $1 AND status IN ('queued', 'running') RETURNING id`,
      [ownerId],
    );
    for (const { id } of rows) {
      await this.queues
        .queue(QUEUE.backtests)
        .remove(id)
        .catch(() => undefined);
    }
    return rows.length;
  }

  /**
   * DELETE: a queued or running backtest is cancelled (the worker running it stops at its next
   * progress report) and kept, answered with its state; a finished one is erased with its results
   * and its export (undefined answered).
   */
  async cancelOrDelete(ownerId: string, id: string): Promise<BacktestDto | undefined> {
    await this.owned(ownerId, id);
    const [rows] = await this.dataSource.query<[Backtest[], number]>(
      `UPDATE backtest.backtests SET status = 'cancelled', finished_at = now() WHERE id = $1 AND status IN ('queued', 'running') RETURNING id`,
      [id],
    );
    if (rows.length === 0) {
      await this.deleteFinished(ownerId, id);
      return undefined;
    }
    await this.queues
      .queue(QUEUE.backtests)
      .remove(id)
      .catch(() => undefined);
    return this.get(ownerId, id);
  }

  /**
   * Erases a finished backtest, as the retention sweep does: the export objects first (deleting
   * one twice is harmless), then the row, whose equity and trades go with it (ON DELETE CASCADE).
   */
  private async deleteFinished(ownerId: string, id: string): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      const [row] = await manager.query<{ export_key: string | null }[]>(
        `SELECT export_key FROM backtest.backtests WHERE id = $1 AND owner_id = $2 AND status NOT IN ('queued', 'running')
          FOR UPDATE`,
        [id, ownerId],
      );
      if (!row) {
        // deleted by a concurrent request, or re-queued since: nothing of ours to erase now
        throw notFound();
      }
      if (row.export_key !== null) {
        await this.storage.delete(`${row.export_key}/equity.csv`);
        await this.storage.delete(`${row.export_key}/trades.csv`);
      }
      await manager.query(`DELETE FROM backtest.backtests WHERE id = $1`, [id]);
    });
  }

  /**
   * Up to MAX_COMPARED succeeded backtests of the owner side by side: their metrics, and their
   * equity curves on one date axis (the union of their days; null where one has no value).
   */
  async compare(ownerId: string, ids: string[]): Promise<CompareDto> {
    const rows = await this.dataSource.getRepository(Backtest).findBy({ id: In(ids), ownerId });
    const byId = new Map(rows.map((r) => [r.id, r]));
    const missing = ids.find((id) => !byId.has(id));
    if (missing !== undefined) {
      throw new DomainError(404, 'BACKTEST_NOT_FOUND', `No such backtest: ${missing}`);
    }
    const unfinished = rows.find((r) => r.status !== 'succeeded');
    if (unfinished) {
      throw new DomainError(
        409,
        'BACKTEST_NOT_SUCCEEDED',
        `Backtest ${unfinished.id} is ${unfinished.status}: only succeeded backtests have results to compare`,
      );
    }
    const points = await this.dataSource.query<{ backtest_id: string; day: string; value: number; drawdown: number }[]>(
      `SELECT backtest_id, to_char(day, 'YYYY-MM-DD') AS day, value, drawdown FROM backtest.backtest_equity
        WHERE backtest_id = ANY($1::uuid[]) ORDER BY day, backtest_id`,
      [ids],
    );
    const dates: string[] = [];
    for (const p of points) {
      if (dates[dates.length - 1] !== p.day) {
        dates.push(p.day);
      }
    }
    const column = new Map(dates.map((d, i) => [d, i]));
    const series = ids.map((backtestId) => ({
      backtestId,
      value: new Array<number | null>(dates.length).fill(null),
      cumulativeReturn: new Array<number | null>(dates.length).fill(null),
      drawdown: new Array<number | null>(dates.length).fill(null),
    }));
    const seriesOf = new Map(series.map((s) => [s.backtestId, s]));
    const firstValue = new Map<string, number>();
    for (const p of points) {
      const s = seriesOf.get(p.backtest_id);
      const i = column.get(p.day);
      if (!s || i === undefined) {
        continue;
      }
      const first = firstValue.get(p.backtest_id) ?? p.value;
      firstValue.set(p.backtest_id, first);
      s.value[i] = p.value;
      s.cumulativeReturn[i] = first > 0 ? p.value / first - 1 : null;
      s.drawdown[i] = p.drawdown;
    }
    const names = await this.strategyNames(ownerId, rows);
    const backtests = ids.map((id) => {
      const row = byId.get(id) as Backtest;
      return { ...toDto(row), strategyName: names.get(row.strategyId ?? '') ?? null };
    });
    return { backtests, dates, series };
  }

  /** The names of the owner's saved strategies these backtests ran (by strategy id). */
  private async strategyNames(ownerId: string, backtests: Backtest[]): Promise<Map<string, string>> {
    const ids = [...new Set(backtests.flatMap((b) => (b.strategyId ? [b.strategyId] : [])))];
    if (ids.length === 0) {
      return new Map();
    }
    const rows = await this.dataSource.query<{ id: string; name: string }[]>(
      `SELECT id, name FROM backtest.strategies WHERE owner_id = $1 AND id = ANY($2::uuid[])`,
      [ownerId, ids],
    );
    return new Map(rows.map((r) => [r.id, r.name]));
  }
}
