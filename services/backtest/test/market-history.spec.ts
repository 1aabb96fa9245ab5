import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { loadMarketSnapshot } from '@stocklab/market-data';
import pg from 'pg';
import {
  importDataset,
  startInProcessBacktest,
  uploadDataset,
  waitForDataset,
  type InProcessBacktest,
} from './support.js';

const SECURITIES = `code,name,market,sector,listed_on,delisted_on
A00001,Alpha,KOSPI,Pharmaceuticals,2020-01-02,
A00002,Beta,KOSDAQ,Biotech,2020-01-02,2024-01-05
`;
const BARS = `code,date,open,high,low,close,volume,trading_value,market_cap,shares_outstanding
A00001,2024-01-02,100,100,100,100,10,1000,100000,1000
A00002,2024-01-02,200,200,200,200,10,2000,200000,1000
A00001,2024-01-03,100,100,100,100,10,1000,100000,1000
A00002,2024-01-03,200,200,200,200,10,2000,200000,1000
A00001,2024-01-04,100,100,100,100,10,1000,100000,1000
`;

/**
 * Point in time market and sector through the import (the optional `classifications` kind, all
 * or nothing with line-numbered errors), and the delisting date recorded in `securities`, into
 * the engine's market data as the loader reads it.
 */
describe('market history: classifications and recorded delistings', () => {
  let svc: InProcessBacktest;
  let pool: pg.Pool;
  let admin: string;

  beforeAll(async () => {
    svc = await startInProcessBacktest({ BACKTEST_CONCURRENCY: '0' });
    pool = new pg.Pool({ connectionString: svc.db.url, max: 2 });
    admin = await svc.tokenFor(randomUUID(), ['user', 'admin']);
    await importDataset(svc.url, admin, 'securities', SECURITIES);
    await importDataset(svc.url, admin, 'bars', BARS);
  });
  afterAll(async () => {
    await pool?.end();
    await svc?.close();
  });

  const version = async (): Promise<string> =>
    (await pool.query<{ v: string }>('SELECT version::text AS v FROM market.data_version')).rows[0]?.v ?? '';

  async function upload(content: string) {
    const res = await uploadDataset(svc.url, admin, { kind: 'classifications', content });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return waitForDataset(svc.url, admin, (res.body as { id: string }).id);
  }

  it('refuses a classifications file with errors, by line, loading none of it', async () => {
    const before = await version();
    const done = await upload(
      [
        'code,valid_from,market,sector',
        'A00002,2020-01-02,KOSDAQ,Biotech',
        'A00002,2023-02-30,KOSPI,Pharmaceuticals',
        'A00002,2023-03-02,NASDAQ,Pharmaceuticals',
        'A00002,2020-01-02,KOSPI,Biotech',
        'Z99999,2020-01-02,KOSPI,Banks',
        'A00001,2020-01-02,KOSPI,',
      ].join('\n'),
    );
    assert.equal(done.status, 'failed');
    assert.deepEqual(done.errors, [
      { line: 3, message: 'valid_from must be a date yyyy-mm-dd, got "2023-02-30"' },
      { line: 4, message: 'market must be KOSPI, KOSDAQ or KONEX, got "NASDAQ"' },
      { line: 5, message: 'duplicate key A00002 2020-01-02: already on line 2' },
      { line: 6, message: 'unknown code Z99999: load it with a securities file first' },
      { line: 7, message: 'sector is required' },
    ]);
    assert.equal((await pool.query('SELECT 1 FROM market.security_classifications')).rowCount, 0);
    assert.equal(await version(), before, 'nothing changed');
    const header = await upload('code,from,market,sector\nA00001,2020-01-02,KOSPI,Banks\n');
    assert.equal(header.errors[0]?.line, 1);
    assert.match(header.errors[0]?.message ?? '', /^the header must be exactly code,valid_from,market,sector/);
  });

  it('loads a KOSDAQ -> KOSPI transfer and a recorded delisting into the market data the engine reads', async () => {
    const content = 'code,valid_from,market,sector\nA00002,2020-01-02,KOSDAQ,Biotech\nA00002,2024-01-03,KOSPI,Pharma\n';
    const done = await upload(content);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.errors));
    assert.deepEqual([done.rowsInserted, done.rowsUpdated, done.rowsUnchanged], [2, 0, 0]);
    const again = await upload(content);
    assert.deepEqual([again.rowsInserted, again.rowsUpdated, again.rowsUnchanged], [0, 0, 2], 'idempotent');

    const client = await pool.connect();
    try {
      const { data } = await loadMarketSnapshot(client);
      assert.deepEqual(data.codes, ['A00001', 'A00002']);
      assert.deepEqual(data.stocks, [
        { market: 'KOSPI', sector: 'Pharmaceuticals' },
        {
          market: 'KOSDAQ',
          sector: 'Biotech',
          delistedOn: 20240105,
          history: [
            { from: 20200102, market: 'KOSDAQ', sector: 'Biotech' },
            { from: 20240103, market: 'KOSPI', sector: 'Pharma' },
          ],
        },
      ]);
    } finally {
      client.release();
    }
  });
});
