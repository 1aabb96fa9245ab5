import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Which corporate action (market.corporate_actions: a split, reverse split, bonus or rights issue)
 * was applied to which strategy's position, and how: one row per (strategy, code, ex-date), written
 * in the same fenced transaction as the adjustment itself, so that a position is adjusted for an
 * event exactly once however many runs, days or leaders see the event
 * (src/portfolio/corporate-actions.ts).
 */
export class CorporateActionAdjustments1765500000000 implements MigrationInterface {
  name = 'CorporateActionAdjustments1765500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE trading.corporate_action_adjustments (
        auto_strategy_id uuid NOT NULL
          CONSTRAINT fk_corporate_action_adjustments_strategy REFERENCES trading.auto_strategies (id) ON DELETE CASCADE,
        code text NOT NULL,
        ex_date date NOT NULL,
        kind text NOT NULL,
        price_factor double precision NOT NULL,
        share_ratio double precision NOT NULL,
        quantity_before bigint NOT NULL CONSTRAINT ck_corporate_action_adjustments_before CHECK (quantity_before > 0),
        quantity_after bigint NOT NULL CONSTRAINT ck_corporate_action_adjustments_after CHECK (quantity_after >= 0),
        entry_price_before numeric(18, 4) NOT NULL,
        entry_price_after numeric(18, 4) NOT NULL,
        base_price numeric(18, 4) NOT NULL,
        cash bigint NOT NULL CONSTRAINT ck_corporate_action_adjustments_cash CHECK (cash >= 0),
        run_key text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pk_corporate_action_adjustments PRIMARY KEY (auto_strategy_id, code, ex_date)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE trading.corporate_action_adjustments`);
  }
}
