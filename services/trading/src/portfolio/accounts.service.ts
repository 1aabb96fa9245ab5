import { Inject, Injectable } from '@nestjs/common';
import { CONFIG } from '@stocklab/platform';
import { DataSource, type EntityManager } from 'typeorm';
import { BROKER, type Broker } from '../broker/broker.js';
import type { TradingConfig } from '../config.js';

export interface AccountRow {
  id: string;
  user_id: string;
  cash: string;
  initial_cash: string;
}

/** One paper account per user, opened lazily (here and at the broker) with the configured cash. */
@Injectable()
export class AccountsService {
  constructor(
    private readonly dataSource: DataSource,
    @Inject(BROKER) private readonly broker: Broker,
    @Inject(CONFIG) private readonly config: TradingConfig,
  ) {}

  async ensure(userId: string): Promise<AccountRow> {
    const initial = this.config.PAPER_ACCOUNT_INITIAL_CASH;
    await this.dataSource.query(
      `INSERT INTO trading.accounts (user_id, cash, initial_cash) VALUES ($1, $2, $2) ON CONFLICT (user_id) DO NOTHING`,
      [userId, initial],
    );
    const account = await this.find(this.dataSource.manager, userId, false);
    await this.broker.openAccount(account.id, Number(account.initial_cash));
    return account;
  }

  async find(m: EntityManager, userId: string, forUpdate: boolean): Promise<AccountRow> {
    const rows: AccountRow[] = await m.query(
      `SELECT id, user_id, cash, initial_cash FROM trading.accounts WHERE user_id = $1 ${forUpdate ? 'FOR UPDATE' : ''}`,
      [userId],
    );
    if (!rows[0]) {
      throw new Error(`no account for user ${userId}`);
    }
    return rows[0];
  }
}
