import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * KONEX joins KOSPI and KOSDAQ in market.securities and market.security_classifications: the
 * daily ingest asks KRX for KONEX too (knx_bydd_trd) and the import accepts it; the strategy
 * engine already knows its rules (tax, ±15 % limits, ticks). Down restores the two-market check,
 * which fails while KONEX rows exist (delete them first: nothing is dropped silently).
 */
export class KonexMarket1765800000000 implements MigrationInterface {
  name = 'KonexMarket1765800000000';

  async up(q: QueryRunner): Promise<void> {
    await this.marketCheck(q, ['KOSPI', 'KOSDAQ', 'KONEX']);
  }

  async down(q: QueryRunner): Promise<void> {
    await this.marketCheck(q, ['KOSPI', 'KOSDAQ']);
  }

  private async marketCheck(q: QueryRunner, markets: string[]): Promise<void> {
    const list = markets.map((m) => `'${m}'`).join(', ');
    for (const table of ['securities', 'security_classifications']) {
      await q.query(`ALTER TABLE market.${table} DROP CONSTRAINT ${table}_market_check`);
      await q.query(`ALTER TABLE market.${table} ADD CONSTRAINT ${table}_market_check CHECK (market IN (${list}))`);
    }
  }
}
