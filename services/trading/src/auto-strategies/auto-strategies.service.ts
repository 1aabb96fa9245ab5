import { Inject, Injectable } from '@nestjs/common';
import { CONFIG, DomainError, idempotencyKeyReused, requestHash, type AuthenticatedUser } from '@stocklab/platform';
import { parseStrategyDefinition } from '@stocklab/strategy-engine';
import { DataSource, type EntityManager } from 'typeorm';
import type { TradingConfig } from '../config.js';
import { strategyLog } from '../jobs/job-context.js';
import { AccountsService } from '../portfolio/accounts.service.js';
import { TradingClock } from '../scheduler/trading-clock.js';
import { BacktestClient } from './backtest-client.js';
import { KiwoomOrders } from '../broker/kiwoom-orders.js';
import type {
  ActivateAutoStrategyDto,
  AutoStrategyDto,
  OrderDto,
  PerformancePointDto,
  PositionDto,
  StrategyLogDto,
} from './dto/auto-strategy.dto.js';
import { returnedRows } from '../database/returning.js';

interface AutoStrategyRow {
  id: string;
  name: string;
  source_strategy_id: string;
  source_version: number;
  status: string;
  allocated_capital: string;
  cash: string;
  rules: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
  deactivated_at: Date | null;
  broker_account_id: string | null;
}

const COLUMNS = `id, name, source_strategy_id, source_version, status, allocated_capital, cash, rules, created_at, updated_at,
  deactivated_at, broker_account_id`;

function toDto(r: AutoStrategyRow): AutoStrategyDto {
  return {
    id: r.id,
    name: r.name,
    sourceStrategyId: r.source_strategy_id,
    sourceVersion: r.source_version,
    status: r.status,
    allocatedCapital: Number(r.allocated_capital),
    cash: Number(r.cash),
    rules: r.rules,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
    deactivatedAt: r.deactivated_at?.toISOString() ?? null,
    brokerAccountId: r.broker_account_id,
  };
}

@Injectable()
export class AutoStrategiesService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly backtest: BacktestClient,
    private readonly accounts: AccountsService,
    private readonly clock: TradingClock,
    private readonly kiwoom: KiwoomOrders,
    @Inject(CONFIG) private readonly config: TradingConfig,
  ) {}

  /**
   * Activation: the research strategy is read from the backtest service with the caller's token
   * (so only its owner can activate it), validated, and its rules are stored as a snapshot; the
   * capital moves from the paper account to the strategy in the same transaction.
   */
  /**
   * Activates a research strategy with part of the account's cash. With an idempotency key, a
   * retry of the same request (after a lost answer) returns the strategy the first attempt
   * activated instead of allocating the capital again; `replayed` says so.
   */
  async activate(
    user: AuthenticatedUser,
    dto: ActivateAutoStrategyDto,
    idempotencyKey?: string,
  ): Promise<{ strategy: AutoStrategyDto; replayed: boolean }> {
    const hash = idempotencyKey === undefined ? undefined : requestHash({ ...dto });
    if (idempotencyKey !== undefined && hash !== undefined) {
      const earlier = await this.activatedWith(this.dataSource.manager, user.id, idempotencyKey, hash);
      if (earlier) {
        return { strategy: earlier, replayed: true };
      }
    }
    const research = await this.backtest.getStrategy(dto.strategyId, user.token);
    const parsed = parseStrategyDefinition(research.definition);
    if (!parsed.ok) {
      throw new DomainError(
        422,
        'INVALID_STRATEGY',
        `the strategy's rules cannot be traded: ${parsed.errors
          .slice(0, 3)
          .map((e) => `${e.path} ${e.message}`)
          .join('; ')}`,
      );
    }
    if (dto.allocatedCapital < this.config.TRADING_MIN_ALLOCATION) {
      throw new DomainError(
        422,
        'ALLOCATION_TOO_SMALL',
        `allocatedCapital ${dto.allocatedCapital} is below the minimum of ${this.config.TRADING_MIN_ALLOCATION} KRW`,
      );
    }
    const account = await this.accounts.ensure(user.id);
    const brokerCash =
      dto.brokerAccountId === undefined ? undefined : await this.brokerCashOf(user.id, dto.brokerAccountId);
    return this.dataSource.transaction(async (m) => {
      // one activation at a time per account, so that the cap below holds under concurrent requests
      const locked: Array<{ closed_at: Date | null }> = await m.query(
        `SELECT closed_at FROM trading.accounts WHERE id = $1 FOR UPDATE`,
        [account.id],
      );
      if (locked[0]?.closed_at) {
        throw new DomainError(409, 'ACCOUNT_CLOSED', 'the account was deleted: nothing can be activated on it');
      }
      if (idempotencyKey !== undefined && hash !== undefined) {
        // attempts with one key at once: the later ones wait here, then find the first one's row
        await m.query(`SELECT pg_advisory_xact_lock(hashtext('activate:' || $1 || ':' || $2))`, [
          user.id,
          idempotencyKey,
        ]);
        const earlier = await this.activatedWith(m, user.id, idempotencyKey, hash);
        if (earlier) {
          return { strategy: earlier, replayed: true };
        }
      }
      const active: Array<{ n: string }> = await m.query(
        `SELECT count(*) AS n FROM trading.auto_strategies WHERE owner_id = $1 AND status IN ('active', 'liquidating')`,
        [user.id],
      );
      if (Number(active[0]?.n ?? 0) >= this.config.TRADING_MAX_ACTIVE_STRATEGIES) {
        throw new DomainError(
          409,
          'TOO_MANY_ACTIVE_STRATEGIES',
          `at most ${this.config.TRADING_MAX_ACTIVE_STRATEGIES} active auto strategies per user; deactivate one first`,
        );
      }
      if (dto.brokerAccountId !== undefined && brokerCash !== undefined) {
        await this.reserveAtBroker(m, dto.brokerAccountId, brokerCash, dto.allocatedCapital);
      }
      const debited =
        dto.brokerAccountId !== undefined
          ? [account.id]
          : returnedRows<unknown>(
              await m.query(
                `UPDATE trading.accounts SET cash = cash - $2, updated_at = now() WHERE id = $1 AND cash >= $2 RETURNING id`,
                [account.id, dto.allocatedCapital],
              ),
            );
      if (debited.length === 0) {
        const current = await this.accounts.find(m, user.id, false);
        throw new DomainError(
          409,
          'INSUFFICIENT_CASH',
          `allocatedCapital ${dto.allocatedCapital} exceeds the account's free cash ${current.cash}`,
        );
      }
      const rows: AutoStrategyRow[] = await m.query(
        `INSERT INTO trading.auto_strategies (owner_id, account_id, source_strategy_id, source_version, name, rules,
           allocated_capital, cash, status, idempotency_key, request_hash, broker_account_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 'active', $8, $9, $10) RETURNING ${COLUMNS}`,
        [
          user.id,
          account.id,
          research.id,
          research.version,
          dto.name ?? research.name.slice(0, 100),
          JSON.stringify(parsed.value),
          dto.allocatedCapital,
          idempotencyKey ?? null,
          hash ?? null,
          dto.brokerAccountId ?? null,
        ],
      );
      const row = rows[0];
      await strategyLog(m, row.id, null, 'info', `activated with ${dto.allocatedCapital} KRW`, {
        sourceStrategyId: research.id,
        sourceVersion: research.version,
        broker: dto.brokerAccountId === undefined ? 'paper' : 'linked account',
      });
      return { strategy: toDto(row), replayed: false };
    });
  }

  /** The orderable cash of a linked account of the user's, as its broker reports it now. */
  private async brokerCashOf(userId: string, brokerAccountId: string): Promise<number> {
    const owned = await this.dataSource.query<Array<{ id: string }>>(
      `SELECT id FROM trading.broker_accounts WHERE id = $1 AND owner_id = $2`,
      [brokerAccountId, userId],
    );
    if (owned.length === 0) {
      throw new DomainError(404, 'BROKER_ACCOUNT_NOT_FOUND', `broker account ${brokerAccountId} not found`);
    }
    try {
      return await (await this.kiwoom.apiOf(brokerAccountId)).orderableCash();
    } catch {
      throw new DomainError(503, 'BROKER_UNAVAILABLE', 'the broker did not answer, try again later', {
        'Retry-After': '5',
      });
    }
  }

  /**
   * A linked account's capital stays at the broker: a strategy may be given what the account can
   * order with, less what its other strategies on the platform still count on (checked under a
   * lock on the account row, so two activations cannot both count the same cash).
   */
  private async reserveAtBroker(
    m: EntityManager,
    brokerAccountId: string,
    brokerCash: number,
    allocation: number,
  ): Promise<void> {
    await m.query(`SELECT id FROM trading.broker_accounts WHERE id = $1 FOR UPDATE`, [brokerAccountId]);
    const counted: Array<{ cash: string | null }> = await m.query(
      `SELECT sum(cash) AS cash FROM trading.auto_strategies WHERE broker_account_id = $1 AND status <> 'inactive'`,
      [brokerAccountId],
    );
    const free = brokerCash - Number(counted[0]?.cash ?? 0);
    if (allocation > free) {
      throw new DomainError(
        409,
        'INSUFFICIENT_BROKER_CASH',
        `allocatedCapital ${allocation} exceeds what the linked account can still order with (${Math.max(0, free)} KRW)`,
      );
    }
  }

  /** The strategy an earlier attempt with this key activated; the key with another request is a 422. */
  private async activatedWith(
    m: EntityManager,
    ownerId: string,
    idempotencyKey: string,
    hash: Buffer,
  ): Promise<AutoStrategyDto | undefined> {
    const rows: Array<AutoStrategyRow & { request_hash: Buffer }> = await m.query(
      `SELECT ${COLUMNS}, request_hash FROM trading.auto_strategies WHERE owner_id = $1 AND idempotency_key = $2`,
      [ownerId, idempotencyKey],
    );
    const row = rows[0];
    if (!row) {
      return undefined;
    }
    if (!row.request_hash.equals(hash)) {
      throw idempotencyKeyReused();
    }
    return toDto(row);
  }

  async list(userId: string): Promise<AutoStrategyDto[]> {
    const rows: AutoStrategyRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM trading.auto_strategies WHERE owner_id = $1 ORDER BY created_at DESC, id`,
      [userId],
    );
    return rows.map(toDto);
  }

  async get(
    userId: string,
    id: string,
    m: EntityManager = this.dataSource.manager,
    lock = false,
  ): Promise<AutoStrategyDto> {
    const rows: AutoStrategyRow[] = await m.query(
      `SELECT ${COLUMNS} FROM trading.auto_strategies WHERE id = $1 AND owner_id = $2 ${lock ? 'FOR UPDATE' : ''}`,
      [id, userId],
    );
    if (!rows[0]) {
      throw new DomainError(404, 'AUTO_STRATEGY_NOT_FOUND', `auto strategy ${id} not found`);
    }
    return toDto(rows[0]);
  }

  async rename(userId: string, id: string, name: string): Promise<AutoStrategyDto> {
    await this.get(userId, id);
    const rows = returnedRows<AutoStrategyRow>(
      await this.dataSource.query(
        `UPDATE trading.auto_strategies SET name = $3, updated_at = now() WHERE id = $1 AND owner_id = $2 RETURNING ${COLUMNS}`,
        [id, userId, name],
      ),
    );
    return toDto(rows[0]);
  }

  /**
   * immediate: trading stops now; positions stay as they are (sellable one by one, or all with a
   * later liquidate), the strategy's cash returns to the account. liquidate: the next execute run
   * sells every position, then deactivates it; also for a strategy stopped with immediate that
   * still holds positions, so nothing is stranded.
   */
  async deactivate(userId: string, id: string, mode: 'immediate' | 'liquidate'): Promise<AutoStrategyDto> {
    return this.dataSource.transaction((m) => this.deactivateIn(m, userId, id, mode));
  }

  /**
   * The account was deleted (event account.deleted, at least once): in one transaction the
   * account is closed to new activations and every strategy wound down as the user chose:
   * `liquidate` sells every position at the next execute run (stranded ones of stopped
   * strategies included), `stop` stops at once and keeps the positions. Idempotent.
   */
  async closeAccount(
    userId: string,
    strategies: 'liquidate' | 'stop',
  ): Promise<{ closed: boolean; wound: number; erasedBrokerAccounts: number }> {
    return this.dataSource.transaction(async (m) => {
      const rows: Array<{ id: string; closed_at: Date | null }> = await m.query(
        `SELECT id, closed_at FROM trading.accounts WHERE user_id = $1 FOR UPDATE`,
        [userId],
      );
      const released = await this.releaseLinkedAccounts(m, userId);
      // linked broker credentials are erased with the account (again on a repeated event: harmless)
      const [, erased] = await m.query<[unknown, number]>(`DELETE FROM trading.broker_accounts WHERE owner_id = $1`, [
        userId,
      ]);
      if (rows[0]?.closed_at) {
        return { closed: false, wound: 0, erasedBrokerAccounts: erased };
      }
      if (!rows[0]) {
        // never traded: closed all the same, so that a request in flight cannot open it now
        await m.query(
          `INSERT INTO trading.accounts (user_id, cash, initial_cash, closed_at) VALUES ($1, 0, 0, now())
             ON CONFLICT (user_id) DO NOTHING`,
          [userId],
        );
        return { closed: true, wound: 0, erasedBrokerAccounts: erased };
      }
      await m.query(`UPDATE trading.accounts SET closed_at = now(), updated_at = now() WHERE id = $1`, [rows[0].id]);
      const owned: Array<{ id: string; status: string; held: string }> = await m.query(
        `SELECT s.id, s.status, (SELECT count(*) FROM trading.positions p WHERE p.auto_strategy_id = s.id) AS held
           FROM trading.auto_strategies s WHERE s.owner_id = $1 ORDER BY s.created_at`,
        [userId],
      );
      const mode = strategies === 'liquidate' ? 'liquidate' : 'immediate';
      let wound = 0;
      for (const strategy of owned) {
        if (strategy.status === 'inactive' && (mode === 'immediate' || Number(strategy.held) === 0)) {
          continue;
        }
        if (strategy.status === 'liquidating' && mode === 'liquidate') {
          continue;
        }
        await strategyLog(m, strategy.id, null, 'warn', `the account was deleted: strategies ${strategies}`);
        await this.deactivateIn(m, userId, strategy.id, mode);
        wound += 1;
      }
      return { closed: true, wound: wound + released, erasedBrokerAccounts: erased };
    });
  }

  /**
   * Strategies on a user's linked broker accounts when the user deletes the platform account: the
   * credentials go, so the platform can no longer trade there; the strategies stop at once
   * (whatever the requested mode: the shares and cash are the user's, in the user's own broker
   * account) and orders not yet at the broker are dropped. Orders the broker holds stay there,
   * under the user's control. The strategies are detached so the credentials can be erased.
   */
  private async releaseLinkedAccounts(m: EntityManager, userId: string): Promise<number> {
    const linked = returnedRows<{ id: string }>(
      await m.query(
        `UPDATE trading.auto_strategies SET status = 'inactive', cash = 0, broker_account_id = NULL,
                deactivated_at = coalesce(deactivated_at, now()), updated_at = now()
          WHERE owner_id = $1 AND broker_account_id IS NOT NULL RETURNING id`,
        [userId],
      ),
    );
    for (const { id } of linked) {
      await m.query(`DELETE FROM trading.positions WHERE auto_strategy_id = $1`, [id]);
      await m.query(
        `UPDATE trading.order_intents SET status = 'expired', completed_at = now(),
                reject_reason = 'the account was deleted: an order at the broker stays there, under the owner''s control'
          WHERE auto_strategy_id = $1 AND status IN ('pending', 'sending', 'sent', 'accepted', 'needs_review')`,
        [id],
      );
      await strategyLog(
        m,
        id,
        null,
        'warn',
        'the account was deleted: stopped; its shares and cash stay in the linked broker account, whose credentials were erased',
      );
    }
    return linked.length;
  }

  private async deactivateIn(
    m: EntityManager,
    userId: string,
    id: string,
    mode: 'immediate' | 'liquidate',
  ): Promise<AutoStrategyDto> {
    const current = await this.get(userId, id, m, true);
    const held: Array<{ n: string }> = await m.query(
      `SELECT count(*) AS n FROM trading.positions WHERE auto_strategy_id = $1`,
      [id],
    );
    if (current.status === 'inactive') {
      if (mode === 'liquidate' && Number(held[0]?.n ?? 0) > 0) {
        await m.query(`UPDATE trading.auto_strategies SET status = 'liquidating', updated_at = now() WHERE id = $1`, [
          id,
        ]);
        await strategyLog(
          m,
          id,
          null,
          'info',
          'liquidation of the remaining positions requested: sold at the next execute run',
        );
        return this.get(userId, id, m);
      }
      throw new DomainError(409, 'ALREADY_INACTIVE', `auto strategy ${id} is already inactive`);
    }
    if (mode === 'liquidate' && Number(held[0]?.n ?? 0) > 0) {
      if (current.status !== 'liquidating') {
        await m.query(`UPDATE trading.auto_strategies SET status = 'liquidating', updated_at = now() WHERE id = $1`, [
          id,
        ]);
        await strategyLog(m, id, null, 'info', 'liquidation requested: positions are sold at the next execute run');
      }
    } else {
      // a linked account's cash never left the broker: only the paper account is credited
      await m.query(
        `UPDATE trading.accounts a SET cash = a.cash + s.cash, updated_at = now()
             FROM trading.auto_strategies s WHERE s.id = $1 AND a.id = s.account_id AND s.broker_account_id IS NULL`,
        [id],
      );
      await m.query(
        `UPDATE trading.auto_strategies SET status = 'inactive', cash = 0, deactivated_at = now(), updated_at = now() WHERE id = $1`,
        [id],
      );
      await strategyLog(m, id, null, 'info', `deactivated (${mode}); cash returned to the account`);
    }
    return this.get(userId, id, m);
  }

  /** Marks one position to be sold at the next open; answers the position. */
  async sellPosition(userId: string, id: string, code: string): Promise<PositionDto> {
    await this.dataSource.transaction(async (m) => {
      await this.get(userId, id, m, true);
      const marked = returnedRows<{ code: string }>(
        await m.query(
          `UPDATE trading.positions SET pending_sell = coalesce(pending_sell, 'manual'), updated_at = now()
            WHERE auto_strategy_id = $1 AND code = $2 RETURNING code`,
          [id, code],
        ),
      );
      if (marked.length === 0) {
        throw new DomainError(404, 'POSITION_NOT_FOUND', `auto strategy ${id} holds no ${code}`);
      }
      await strategyLog(m, id, null, 'info', `sell of ${code} requested: sold at the next execute run, at the open`);
    });
    const position = (await this.positions(userId, id)).find((p) => p.code === code);
    if (!position) {
      throw new DomainError(404, 'POSITION_NOT_FOUND', `auto strategy ${id} holds no ${code}`);
    }
    return position;
  }

  async positions(userId: string, id: string): Promise<PositionDto[]> {
    await this.get(userId, id);
    const rows: Array<{
      code: string;
      quantity: string;
      entry_price: string;
      entry_date: string;
      cost: string;
      last_price: number | null;
      pending_sell: string | null;
    }> = await this.dataSource.query(
      `SELECT p.code, p.quantity, p.entry_price, to_char(p.entry_date, 'YYYY-MM-DD') AS entry_date, p.cost, p.pending_sell,
              (SELECT b.close FROM market.daily_bars b WHERE b.code = p.code AND b.date <= $2 ORDER BY b.date DESC LIMIT 1) AS last_price
         FROM trading.positions p WHERE p.auto_strategy_id = $1 ORDER BY p.code`,
      [id, this.clock.tradingDate()],
    );
    return rows.map((r) => ({
      code: r.code,
      quantity: Number(r.quantity),
      entryPrice: Number(r.entry_price),
      entryDate: r.entry_date,
      cost: Number(r.cost),
      lastPrice: r.last_price,
      marketValue: r.last_price === null ? null : Math.round(Number(r.quantity) * r.last_price),
      pendingSell: r.pending_sell,
    }));
  }

  async orders(userId: string, id: string, limit: number): Promise<OrderDto[]> {
    await this.get(userId, id);
    const rows: Array<Record<string, unknown>> = await this.dataSource.query(
      `SELECT client_order_id, run_key, to_char(trading_date, 'YYYY-MM-DD') AS trading_date, code, side, kind, quantity,
              level, reason, status, reject_reason, review_reason, fill_price, fill_price_source, fill_amount,
              commission, tax, filled_quantity, broker_order_id, attempt, created_at, completed_at
         FROM trading.order_intents WHERE auto_strategy_id = $1 ORDER BY created_at DESC, seq DESC LIMIT $2`,
      [id, limit],
    );
    return rows.map((r) => ({
      clientOrderId: r.client_order_id as string,
      runKey: r.run_key as string,
      tradingDate: r.trading_date as string,
      code: r.code as string,
      side: r.side as string,
      kind: r.kind as string,
      quantity: Number(r.quantity),
      level: r.level === null ? null : Number(r.level),
      reason: r.reason as string,
      status: r.status as string,
      rejectReason: (r.reject_reason as string | null) ?? null,
      reviewReason: (r.review_reason as string | null) ?? null,
      filledQuantity: r.filled_quantity === null ? null : Number(r.filled_quantity),
      brokerOrderId: (r.broker_order_id as string | null) ?? null,
      attempts: Number(r.attempt),
      fillPrice: r.fill_price === null ? null : Number(r.fill_price),
      fillPriceSource: (r.fill_price_source as string | null) ?? null,
      fillAmount: r.fill_amount === null ? null : Number(r.fill_amount),
      commission: r.commission === null ? null : Number(r.commission),
      tax: r.tax === null ? null : Number(r.tax),
      createdAt: (r.created_at as Date).toISOString(),
      completedAt: (r.completed_at as Date | null)?.toISOString() ?? null,
    }));
  }

  async logs(userId: string, id: string, limit: number): Promise<StrategyLogDto[]> {
    await this.get(userId, id);
    const rows: Array<{
      id: string;
      run_key: string | null;
      level: string;
      message: string;
      details: Record<string, unknown>;
      created_at: Date;
    }> = await this.dataSource.query(
      `SELECT id, run_key, level, message, details, created_at FROM trading.strategy_logs
        WHERE auto_strategy_id = $1 ORDER BY id DESC LIMIT $2`,
      [id, limit],
    );
    return rows.map((r) => ({
      id: Number(r.id),
      runKey: r.run_key,
      level: r.level,
      message: r.message,
      details: r.details,
      createdAt: r.created_at.toISOString(),
    }));
  }

  async performance(userId: string, id: string): Promise<PerformancePointDto[]> {
    await this.get(userId, id);
    const rows: Array<{ date: string; value: string; cash: string; invested: string }> = await this.dataSource.query(
      `SELECT to_char(date, 'YYYY-MM-DD') AS date, value, cash, invested FROM trading.daily_performance
        WHERE auto_strategy_id = $1 ORDER BY date`,
      [id],
    );
    return rows.map((r) => ({
      date: r.date,
      value: Number(r.value),
      cash: Number(r.cash),
      invested: Number(r.invested),
    }));
  }
}
