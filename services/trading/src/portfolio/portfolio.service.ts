import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { TradingClock } from '../scheduler/trading-clock.js';
import { AccountsService } from './accounts.service.js';
import type { PortfolioDto } from './portfolio.dto.js';

@Injectable()
export class PortfolioService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly accounts: AccountsService,
    private readonly clock: TradingClock,
  ) {}

  /** The user's paper account: free cash, cash held by strategies, positions at the latest close, P&L. */
  async portfolio(userId: string): Promise<PortfolioDto> {
    const account = await this.accounts.ensure(userId);
    const strategyCash: Array<{ cash: string | null }> = await this.dataSource.query(
      `SELECT sum(cash) AS cash FROM trading.auto_strategies WHERE account_id = $1`,
      [account.id],
    );
    const positions: Array<{ code: string; quantity: string; cost: string; last_price: number | null }> =
      await this.dataSource.query(
        `SELECT p.code, sum(p.quantity) AS quantity, sum(p.cost) AS cost,
                (SELECT b.close FROM market.daily_bars b WHERE b.code = p.code AND b.date <= $2 ORDER BY b.date DESC LIMIT 1) AS last_price
           FROM trading.positions p JOIN trading.auto_strategies s ON s.id = p.auto_strategy_id
          WHERE s.account_id = $1 GROUP BY p.code ORDER BY p.code`,
        [account.id, this.clock.tradingDate()],
      );
    const rows = positions.map((p) => {
      const quantity = Number(p.quantity);
      const cost = Number(p.cost);
      const marketValue = p.last_price === null ? cost : Math.round(quantity * p.last_price);
      return { code: p.code, quantity, cost, lastPrice: p.last_price, marketValue, unrealizedPnl: marketValue - cost };
    });
    const freeCash = Number(account.cash);
    const allocatedCash = Number(strategyCash[0]?.cash ?? 0);
    const marketValue = rows.reduce((sum, r) => sum + r.marketValue, 0);
    const totalValue = freeCash + allocatedCash + marketValue;
    const initialCash = Number(account.initial_cash);
    return {
      accountId: account.id,
      asOf: this.clock.tradingDate(),
      cash: freeCash + allocatedCash,
      freeCash,
      strategyCash: allocatedCash,
      marketValue,
      totalValue,
      initialCash,
      pnl: totalValue - initialCash,
      pnlRate: initialCash > 0 ? (totalValue - initialCash) / initialCash : 0,
      positions: rows,
    };
  }
}
