import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { request } from '@stocklab/test-support';
import { generateDemoMarket, type DemoMarketFiles } from '../src/cli/demo-data.js';
import {
  assertErrorBody,
  importDataset,
  startBacktestCluster,
  uploadDataset,
  waitForDataset,
  type BacktestCluster,
} from './support.js';

async function objectKeys(cluster: BacktestCluster): Promise<string[]> {
  const client = new S3Client({
    endpoint: cluster.s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: cluster.s3.accessKeyId, secretAccessKey: cluster.s3.secretAccessKey },
  });
  try {
    const out = await client.send(new ListObjectsV2Command({ Bucket: cluster.s3.bucket, Prefix: 'datasets/' }));
    return (out.Contents ?? []).map((o) => o.Key ?? '');
  } finally {
    client.destroy();
  }
}

async function query<T extends pg.QueryResultRow>(cluster: BacktestCluster, sql: string, params: unknown[] = []) {
  const client = new pg.Client({ connectionString: cluster.db.url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

const dataLines = (csv: string): string[] => csv.trim().split('\n').slice(1);

describe('datasets across replicas', () => {
  let cluster: BacktestCluster;
  let a: string;
  let b: string;
  let admin: string;
  let adminId: string;
  let market: DemoMarketFiles;

  beforeAll(async () => {
    cluster = await startBacktestCluster(2);
    a = cluster.replicas.at(0).url;
    b = cluster.replicas.at(1).url;
    adminId = randomUUID();
    admin = await cluster.tokenFor(adminId, ['user', 'admin']);
    market = generateDemoMarket({ stocks: 12, years: 1, seed: 11, startYear: 2020, delistings: 1 });
    // securities first: bars and statements refer to them
    await importDataset(a, admin, 'securities', market.securities);
  });
  afterAll(() => cluster.close());

  it('imports bars uploaded through A, and B reports the finished import with its counts', async () => {
    const bars = dataLines(market.bars);
    const [{ version: before }] = await query<{ version: string }>(cluster, 'SELECT version FROM market.data_version');
    const upload = await uploadDataset(a, admin, { kind: 'bars', fileName: 'bars 2020.csv', content: market.bars });
    assert.equal(upload.status, 202, JSON.stringify(upload.body));
    assert.equal(upload.body.status, 'queued');
    assert.equal(upload.body.kind, 'bars');
    assert.equal(upload.body.fileName, 'bars 2020.csv');
    assert.equal(upload.body.sizeBytes, Buffer.byteLength(market.bars));
    assert.match(upload.body.sha256, /^[0-9a-f]{64}$/);

    const done = await waitForDataset(b, admin, upload.body.id);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.errors));
    assert.equal(done.rowsTotal, bars.length);
    assert.equal(done.rowsInserted, bars.length);
    assert.equal(done.rowsUpdated, 0);
    assert.equal(done.rowsUnchanged, 0);
    assert.deepEqual(done.errors, []);
    assert.ok(done.startedAt && done.finishedAt);

    const [{ count }] = await query<{ count: string }>(cluster, 'SELECT count(*) FROM market.daily_bars');
    assert.equal(Number(count), bars.length);
    const sample = (bars[bars.length - 1] ?? '').split(',');
    const [row] = await query(
      cluster,
      `SELECT open, high, low, close, volume::text, shares_outstanding::text FROM market.daily_bars WHERE code = $1 AND date = $2`,
      [sample[0], sample[1]],
    );
    assert.deepEqual(row, {
      open: Number(sample[2]),
      high: Number(sample[3]),
      low: Number(sample[4]),
      close: Number(sample[5]),
      volume: sample[6],
      shares_outstanding: sample[9],
    });
    const days = new Set(bars.map((l) => l.split(',')[1]));
    const [{ count: tradingDays }] = await query<{ count: string }>(
      cluster,
      'SELECT count(*) FROM market.trading_days',
    );
    assert.equal(Number(tradingDays), days.size);
    const [{ version: afterVersion }] = await query<{ version: string }>(
      cluster,
      'SELECT version FROM market.data_version',
    );
    assert.equal(Number(afterVersion), Number(before) + 1);
    const [object] = await objectKeys(cluster).then((keys) => keys.filter((k) => k.includes(upload.body.id)));
    assert.equal(object, `datasets/${upload.body.id}/bars_2020.csv`, 'stored in object storage, name sanitized');
  });

  it('loading the same bars file again changes nothing: all unchanged, same data version', async () => {
    const bars = dataLines(market.bars);
    const [{ version: before }] = await query<{ version: string }>(cluster, 'SELECT version FROM market.data_version');
    const done = await importDataset(b, admin, 'bars', market.bars);
    assert.equal(done.rowsTotal, bars.length);
    assert.equal(done.rowsInserted, 0);
    assert.equal(done.rowsUpdated, 0);
    assert.equal(done.rowsUnchanged, bars.length);
    const [{ version: afterVersion }] = await query<{ version: string }>(
      cluster,
      'SELECT version FROM market.data_version',
    );
    assert.equal(afterVersion, before);
  });

  it('imports statements and counts a changed row as updated', async () => {
    const statements = dataLines(market.statements);
    const first = await importDataset(a, admin, 'statements', market.statements);
    assert.equal(first.rowsInserted, statements.length);
    const changed = market.statements.replace(
      /^(Z\d{5},\d{4}Q\d,[\d-]+,)(\d+)/m,
      (_m, head: string, revenue: string) => {
        return `${head}${Number(revenue) + 1}`;
      },
    );
    const second = await importDataset(b, admin, 'statements', changed);
    assert.equal(second.rowsInserted, 0);
    assert.equal(second.rowsUpdated, 1);
    assert.equal(second.rowsUnchanged, statements.length - 1);
  });

  it('rejects a malformed bars file with the lines of its errors, and loads none of it', async () => {
    // 70 new rows (a year with no data yet); line 57 has a bad number, line 63 a low above its high
    const rows = dataLines(market.bars)
      .slice(0, 70)
      .map((l) => l.replace(/,2020-/, ',2031-'));
    const lines = ['code,date,open,high,low,close,volume,trading_value,market_cap,shares_outstanding', ...rows];
    const at = (line: number): string[] => (lines[line - 1] ?? '').split(',');
    const bad57 = at(57);
    bad57[5] = '12x34';
    lines[56] = bad57.join(',');
    const bad63 = at(63);
    bad63[4] = String(Number(bad63[3]) + 10);
    lines[62] = bad63.join(',');
    const upload = await uploadDataset(a, admin, { kind: 'bars', content: `${lines.join('\n')}\n` });
    assert.equal(upload.status, 202);
    const done = await waitForDataset(b, admin, upload.body.id);
    assert.equal(done.status, 'failed');
    assert.deepEqual(
      done.errors.map((e) => e.line),
      [57, 63],
    );
    assert.match(done.errors[0].message, /close must be a number/);
    assert.match(done.errors[1].message, /low .* is above high/);
    assert.equal(done.rowsInserted, 0);
    const [{ count }] = await query<{ count: string }>(
      cluster,
      `SELECT count(*) FROM market.daily_bars WHERE date >= '2031-01-01'`,
    );
    assert.equal(Number(count), 0, 'no row of a rejected file is loaded');
    const [{ count: days }] = await query<{ count: string }>(
      cluster,
      `SELECT count(*) FROM market.trading_days WHERE date >= '2031-01-01'`,
    );
    assert.equal(Number(days), 0);
  });

  it('rejects bars of a code that is not in market.securities, with its line', async () => {
    const rows = dataLines(market.bars)
      .slice(0, 5)
      .map((l) => l.replace(/,2020-/, ',2032-'));
    rows[3] = (rows[3] ?? '').replace(/^Z\d{5}/, 'QQ9999');
    const csv = `code,date,open,high,low,close,volume,trading_value,market_cap,shares_outstanding\n${rows.join('\n')}\n`;
    const upload = await uploadDataset(b, admin, { kind: 'bars', content: csv });
    assert.equal(upload.status, 202);
    const done = await waitForDataset(a, admin, upload.body.id);
    assert.equal(done.status, 'failed');
    assert.deepEqual(done.errors, [{ line: 5, message: 'unknown code QQ9999: load it with a securities file first' }]);
    const [{ count }] = await query<{ count: string }>(
      cluster,
      `SELECT count(*) FROM market.daily_bars WHERE date >= '2032-01-01'`,
    );
    assert.equal(Number(count), 0);
  });

  it('rejects a record over the size limit at its line (an unclosed quote) without reading the rest as one record', async () => {
    const header = 'code,name,market,sector,listed_on,delisted_on';
    const content = `${header}\nA00003,Fine Co,KOSPI,Banks,2001-01-01,\nA00004,"Open quote Co,KOSPI,Banks,2001-01-01,\n${'A00005,Filler,KOSPI,Banks,2001-01-01,\n'.repeat(2000)}`;
    const upload = await uploadDataset(a, admin, { kind: 'securities', content });
    assert.equal(upload.status, 202);
    const done = await waitForDataset(a, admin, upload.body.id);
    assert.equal(done.status, 'failed');
    assert.equal(done.errors.length, 1, JSON.stringify(done.errors));
    assert.ok(done.errors[0].line >= 3, JSON.stringify(done.errors));
    assert.match(done.errors[0].message, /a record longer than 16384 characters/);
    assert.equal((await query(cluster, `SELECT 1 FROM market.securities WHERE code = 'A00003'`)).length, 0);
  });

  it('rejects a wrong header, duplicate keys and a header-only file', async () => {
    const wrongHeader = await uploadDataset(a, admin, { kind: 'securities', content: 'code,name\nA00001,x\n' });
    const wrong = await waitForDataset(a, admin, wrongHeader.body.id);
    assert.equal(wrong.status, 'failed');
    assert.equal(wrong.errors[0].line, 1);
    assert.match(wrong.errors[0].message, /header must be exactly code,name,market,sector,listed_on,delisted_on/);

    const row = 'A00001,Dup Co,KOSPI,Banks,2001-01-01,,false';
    const dup = await uploadDataset(a, admin, {
      kind: 'securities',
      content: `code,name,market,sector,listed_on,delisted_on,synthetic\n${row}\n${row}\n`,
    });
    const dupDone = await waitForDataset(a, admin, dup.body.id);
    assert.equal(dupDone.status, 'failed');
    assert.deepEqual(dupDone.errors, [{ line: 3, message: 'duplicate key A00001: already on line 2' }]);
    const rows = await query(cluster, `SELECT 1 FROM market.securities WHERE code = 'A00001'`);
    assert.equal(rows.length, 0);

    const headerOnly = await uploadDataset(a, admin, {
      kind: 'statements',
      content: `${market.statements.split('\n')[0] ?? ''}\n`,
    });
    const headerOnlyDone = await waitForDataset(a, admin, headerOnly.body.id);
    assert.equal(headerOnlyDone.status, 'failed');
    assert.match(headerOnlyDone.errors[0].message, /no data rows/);
  });

  it('answers 400 to an empty file and stores nothing', async () => {
    const before = await objectKeys(cluster);
    const res = await uploadDataset(a, admin, { kind: 'bars', fileName: 'empty.csv', content: '' });
    assert.equal(res.status, 400);
    assertErrorBody(res.body);
    assert.equal(res.body.code, 'EMPTY_FILE');
    assert.deepEqual(await objectKeys(cluster), before);
    const list = await request<{ items: Array<{ fileName: string }> }>('GET', `${a}/api/backtest/datasets?limit=100`, {
      token: admin,
    });
    assert.equal(list.body.items.filter((d) => d.fileName === 'empty.csv').length, 0, 'no dataset row');
  });

  const badUploads: Array<[string, Parameters<typeof uploadDataset>[2], number, string]> = [
    ['no kind', { content: 'code\n' }, 400, 'KIND_REQUIRED'],
    ['no file', { kind: 'bars' }, 400, 'FILE_REQUIRED'],
    ['an unknown kind', { kind: 'prices', content: 'code\n' }, 400, 'INVALID_KIND'],
    ['the file before the kind', { kind: 'bars', content: 'code\n', fileFirst: true }, 400, 'KIND_REQUIRED'],
    [
      'two files',
      { kind: 'bars', content: 'code\n', extra: [['file', { content: 'code\n', fileName: 'b.csv' }]] },
      400,
      'TOO_MANY_FILES',
    ],
    [
      'a path in the file name',
      { kind: 'bars', content: 'code\n', fileName: '../../etc/x.csv' },
      400,
      'INVALID_FILE_NAME',
    ],
    ['a file that is not .csv', { kind: 'bars', content: 'code\n', fileName: 'data.xlsx' }, 415, 'NOT_CSV'],
    ['an image content type', { kind: 'bars', content: 'code\n', contentType: 'image/png' }, 415, 'NOT_CSV'],
    ['binary content', { kind: 'bars', content: new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0, 0, 0]) }, 415, 'NOT_CSV'],
  ];
  for (const [name, upload, status, code] of badUploads) {
    it(`answers ${status} ${code} to an upload with ${name}, and stores nothing`, async () => {
      const before = await objectKeys(cluster);
      const res = await uploadDataset(a, admin, upload);
      assert.equal(res.status, status, JSON.stringify(res.body));
      assertErrorBody(res.body);
      assert.equal(res.body.code, code);
      assert.deepEqual(await objectKeys(cluster), before);
    });
  }

  for (const [what, encoded] of [
    ['a C0 control and a newline', 'bars%01%0A.csv'],
    ['a C1 control', 'bars%C2%85.csv'],
    ['a bidi override (reads as "barsvsc.exe")', 'bars%E2%80%AEexe.csv'],
    ['a lone surrogate (not UTF-8: it became U+FFFD)', 'bars%ED%A0%80.csv'],
  ]) {
    it(`answers 400 INVALID_FILE_NAME to a file name with ${what} (RFC 5987 encoded)`, async () => {
      const boundary = 'stocklab-test-boundary';
      const body = [
        `--${boundary}`,
        'Content-Disposition: form-data; name="kind"',
        '',
        'bars',
        `--${boundary}`,
        `Content-Disposition: form-data; name="file"; filename*=UTF-8''${encoded}`,
        'Content-Type: text/csv',
        '',
        'code',
        `--${boundary}--`,
        '',
      ].join('\r\n');
      const before = await objectKeys(cluster);
      const res = await request('POST', `${a}/api/backtest/datasets`, {
        token: admin,
        rawBody: body,
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assertErrorBody(res.body);
      assert.equal(res.body.code, 'INVALID_FILE_NAME');
      assert.deepEqual(await objectKeys(cluster), before);
    });
  }

  it('answers 415 to a body that is not multipart', async () => {
    const res = await request('POST', `${a}/api/backtest/datasets`, { token: admin, body: { kind: 'bars' } });
    assert.equal(res.status, 415);
    assertErrorBody(res.body);
  });

  it('refuses an upload without the admin role (403) or without a token (401)', async () => {
    const user = await cluster.tokenFor(randomUUID(), ['user']);
    const forbidden = await uploadDataset(a, user, { kind: 'bars', content: market.bars });
    assert.equal(forbidden.status, 403);
    assertErrorBody(forbidden.body);
    const anonymous = await request('GET', `${a}/api/backtest/datasets`);
    assert.equal(anonymous.status, 401);
    assertErrorBody(anonymous.body);
  });

  it("hides a user's datasets from everyone else (404) and lists only one's own", async () => {
    const mine = await uploadDataset(a, admin, { kind: 'securities', content: market.securities });
    assert.equal(mine.status, 202);
    const otherId = randomUUID();
    const other = await cluster.tokenFor(otherId, ['user', 'admin']);
    const res = await request('GET', `${b}/api/backtest/datasets/${mine.body.id}`, { token: other });
    assert.equal(res.status, 404);
    assertErrorBody(res.body);
    const list = await request('GET', `${b}/api/backtest/datasets`, { token: other });
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.items, []);
    assert.equal(list.body.total, 0);
    const ownList = await request('GET', `${b}/api/backtest/datasets?limit=2`, { token: admin });
    assert.equal(ownList.body.items.length, 2);
    assert.ok(ownList.body.total > 2);
    assert.equal(ownList.body.items[0].id, mine.body.id, 'newest first');
    const badId = await request('GET', `${b}/api/backtest/datasets/not-a-uuid`, { token: admin });
    assert.equal(badId.status, 400);
    await waitForDataset(a, admin, mine.body.id);
  });
});

describe('dataset size limit', () => {
  let cluster: BacktestCluster;

  beforeAll(async () => {
    cluster = await startBacktestCluster(1, { DATASET_MAX_BYTES: String(64 * 1024) });
  });
  afterAll(() => cluster.close());

  it('answers 413 to a file over DATASET_MAX_BYTES and leaves no object and no dataset row', async () => {
    const url = cluster.replicas.at(0).url;
    const admin = await cluster.tokenFor(randomUUID(), ['admin']);
    const row = 'A00001,Big Co,KOSPI,Banks,2001-01-01,,false\n';
    const content = `code,name,market,sector,listed_on,delisted_on,synthetic\n${row.repeat(Math.ceil((100 * 1024) / row.length))}`;
    const res = await uploadDataset(url, admin, { kind: 'securities', content });
    assert.equal(res.status, 413, JSON.stringify(res.body));
    assertErrorBody(res.body);
    assert.equal(res.body.code, 'FILE_TOO_LARGE');
    assert.deepEqual(await objectKeys(cluster), []);
    assert.deepEqual(await query(cluster, 'SELECT id FROM backtest.datasets'), []);
    // and the replica still takes a file under the limit
    const small = await uploadDataset(url, admin, { kind: 'securities', content: content.slice(0, 2000) });
    assert.equal(small.status, 202);
  });
});
