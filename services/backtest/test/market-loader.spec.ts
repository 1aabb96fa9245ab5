import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, beforeEach, describe, it } from '@jest/globals';
import pg from 'pg';
import { loadMarketSnapshot } from '@stocklab/market-data';
import { generateDemoMarket } from '../src/cli/demo-data.js';
import { FastPathDeclined, PlainCsvScanner } from '../src/market/csv-fast-scan.js';
import { CSV_FORMATS, type MarketKind } from '../src/market/market-csv.js';
import { loadMarketCsv, type LoadOutcome } from '../src/market/market-loader.js';
import { startInProcessBacktest, type InProcessBacktest } from './support.js';

const HEADER = 'code,date,open,high,low,close,volume,trading_value,market_cap,shares_outstanding';

/** Bytes in pieces of `size`: the scanner must not care where a chunk ends. */
const chunked = (content: string, size: number): Readable => {
  const bytes = Buffer.from(content);
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) {
    parts.push(bytes.subarray(i, i + size));
  }
  return Readable.from(parts);
};

async function scan(content: string, size = 7): Promise<{ rows: number; passed: string } | FastPathDeclined> {
  const scanner = new PlainCsvScanner(CSV_FORMATS.bars.fastFields ?? [], () => undefined);
  const out: Buffer[] = [];
  try {
    await pipeline(
      chunked(content, size),
      scanner,
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          out.push(chunk);
          callback();
        },
      }),
    );
  } catch (error) {
    if (error instanceof FastPathDeclined) {
      return error;
    }
    throw error;
  }
  return { rows: scanner.rows, passed: Buffer.concat(out).toString() };
}

describe('the plain CSV scanner', () => {
  const row = 'A00001,2024-07-01,81000,81900.5,80700,81800,12345678,1005432100000,488328212590000,5969782550';

  it('passes the data rows through unchanged without the header, whatever the chunking', async () => {
    for (const size of [1, 2, 7, 64, 4096]) {
      const result = await scan(`\uFEFF${HEADER}\n${row}\n${row.replace('A00001', '0126Z0')}`, size);
      assert.ok(
        !(result instanceof FastPathDeclined),
        `chunks of ${size}: ${result instanceof FastPathDeclined ? result.message : ''}`,
      );
      assert.equal(result.rows, 2);
      assert.equal(result.passed, `${row}\n${row.replace('A00001', '0126Z0')}`);
    }
  });

  it('takes CRLF files whole, a CR split from its LF by a chunk included', async () => {
    for (const size of [1, 3, 4096]) {
      const result = await scan(`${HEADER}\r\n${row}\r\n${row}\r\n`, size);
      assert.ok(!(result instanceof FastPathDeclined), result instanceof FastPathDeclined ? result.message : '');
      assert.equal(result.rows, 2);
    }
  });

  it('declines, at the line, anything the careful path must judge', async () => {
    const cases: Array<[string, string]> = [
      ['a quoted field', `"A00001",2024-07-01,1,1,1,1,1,1,1,1`],
      ['an exponent', `A00001,2024-07-01,1e5,1,1,1,1,1,1,1`],
      ['a lower-case code', `a00001,2024-07-01,1,1,1,1,1,1,1,1`],
      ['a short code', `A0001,2024-07-01,1,1,1,1,1,1,1,1`],
      ['a date without leading zeros', `A00001,2024-7-01,1,1,1,1,1,1,1,1`],
      ['a word for a date', `A00001,today12345,1,1,1,1,1,1,1,1`],
      ['a fraction in a whole number', `A00001,2024-07-01,1,1,1,1,1.5,1,1,1`],
      ['a sign on a whole number', `A00001,2024-07-01,1,1,1,1,-1,1,1,1`],
      ['a whole number past 15 digits', `A00001,2024-07-01,1,1,1,1,1234567890123456,1,1,1`],
      ['a point without digits', `A00001,2024-07-01,1.,1,1,1,1,1,1,1`],
      ['a lone minus', `A00001,2024-07-01,-,1,1,1,1,1,1,1`],
      ['NaN', `A00001,2024-07-01,NaN,1,1,1,1,1,1,1`],
      ['a space', `A00001,2024-07-01, 1,1,1,1,1,1,1,1`],
      ['too few fields', `A00001,2024-07-01,1,1,1,1,1,1,1`],
      ['too many fields', `A00001,2024-07-01,1,1,1,1,1,1,1,1,1`],
      ['an empty field', `A00001,2024-07-01,,1,1,1,1,1,1,1`],
    ];
    for (const [name, bad] of cases) {
      const result = await scan(`${HEADER}\n${row}\n${bad}\n${row}\n`);
      assert.ok(result instanceof FastPathDeclined, `${name} was taken as plain`);
      assert.equal(result.line, 3, name);
    }
    const emptyLine = await scan(`${HEADER}\n${row}\n\n${row}\n`);
    assert.ok(emptyLine instanceof FastPathDeclined && emptyLine.line === 3, 'an empty line');
    const mixedEndings = await scan(`${HEADER}\r\n${row}\n`);
    assert.ok(mixedEndings instanceof FastPathDeclined, 'line endings that change');
    const loneCr = await scan(`${HEADER}\n${row}\r`);
    assert.ok(loneCr instanceof FastPathDeclined, 'a CR ending an LF file');
  });
});

/**
 * The loader against a real PostgreSQL: plain bars files go straight to COPY (upserted, or written
 * as a new table and swapped in), and every file the fast path declines is read the careful way,
 * whose line-numbered errors are the ones a user sees. Both paths must leave the same rows.
 */
describe('the bars loader, fast and careful paths', () => {
  let svc: InProcessBacktest;
  let pool: pg.Pool;
  const market = generateDemoMarket({ stocks: 5, years: 1, seed: 23, startYear: 2021 });
  const lines = market.bars.trimEnd().split('\n');
  const rows = lines.slice(1);

  beforeAll(async () => {
    svc = await startInProcessBacktest({ BACKTEST_CONCURRENCY: '0' });
    pool = new pg.Pool({ connectionString: svc.db.url, max: 2 });
    const outcome = await load('securities', market.securities);
    assert.ok(outcome.succeeded, JSON.stringify(outcome.errors));
  });
  afterAll(async () => {
    await pool?.end();
    await svc?.close();
  });
  beforeEach(async () => {
    await pool.query('TRUNCATE market.daily_bars, market.trading_days');
  });

  /** `bulk` claims a large file: the size is only a hint of the rows to come. */
  async function load(kind: MarketKind, content: string, bulk = false): Promise<LoadOutcome> {
    const client = await pool.connect();
    try {
      return await loadMarketCsv(client, kind, () => chunked(content, 1000), {
        sizeBytes: bulk ? 1_000_000_000 : Buffer.byteLength(content),
      });
    } finally {
      client.release();
    }
  }

  const bars = async (): Promise<unknown[]> =>
    (await pool.query<Record<string, unknown>>('SELECT * FROM market.daily_bars ORDER BY code, date')).rows;
  const days = async (): Promise<unknown[]> =>
    (await pool.query<{ date: Date }>('SELECT date FROM market.trading_days ORDER BY date')).rows;
  const version = async (): Promise<number> =>
    Number((await pool.query<{ v: string }>('SELECT version AS v FROM market.data_version')).rows[0]?.v);
  /** the file with every code quoted: the same data, for the careful path only */
  const quoted = (text: string[]): string =>
    `${text.map((l, i) => (i === 0 ? l : l.replace(/^(\w+),/, '"$1",'))).join('\n')}\n`;

  /** constraints and indexes of the bars table, as pg_catalog describes them */
  async function schemaOfBars(): Promise<string[]> {
    const res = await pool.query<{ d: string }>(
      `SELECT conname || ' ' || pg_get_constraintdef(oid) AS d FROM pg_constraint
        WHERE conrelid = 'market.daily_bars'::regclass
       UNION ALL
       SELECT indexname || ' ' || regexp_replace(indexdef, 'ON market\\.\\S+', '') FROM pg_indexes
        WHERE schemaname = 'market' AND tablename = 'daily_bars'
       ORDER BY 1`,
    );
    return res.rows.map((r) => r.d);
  }

  it('loads a plain file by either fast path to exactly the rows the careful path loads', async () => {
    const careful = await load('bars', quoted(lines));
    assert.equal(careful.path, 'careful');
    assert.equal(careful.inserted, rows.length);
    const expected = await bars();
    const expectedDays = await days();
    assert.equal(expected.length, rows.length);

    for (const bulk of [false, true]) {
      await pool.query('TRUNCATE market.daily_bars, market.trading_days');
      const before = await version();
      const fast = await load('bars', market.bars, bulk);
      assert.equal(fast.path, bulk ? 'plain-bulk' : 'plain-upsert');
      assert.deepEqual(
        [fast.succeeded, fast.rowsTotal, fast.inserted, fast.updated, fast.unchanged, fast.changed],
        [true, rows.length, rows.length, 0, 0, true],
      );
      assert.equal(fast.dataVersion, before + 1);
      assert.deepEqual(await bars(), expected);
      assert.deepEqual(await days(), expectedDays);
    }
  });

  it('counts inserted, updated and unchanged rows alike on both fast paths, and keeps the rows a file leaves out', async () => {
    for (const bulk of [false, true]) {
      await pool.query('TRUNCATE market.daily_bars, market.trading_days');
      // the first 30 days, then a file of days 21-40 with two of the overlapping rows changed
      const firstPart = [HEADER, ...rows.slice(0, 150)];
      assert.ok((await load('bars', `${firstPart.join('\n')}\n`)).succeeded);
      const second = rows.slice(100, 200);
      const changed = (line: string): string => {
        const f = line.split(',');
        f[6] = String(Number(f[6]) + 1); // volume
        return f.join(',');
      };
      second[0] = changed(second[0] ?? '');
      second[1] = changed(second[1] ?? '');
      const before = await version();
      const outcome = await load('bars', `${[HEADER, ...second].join('\n')}\n`, bulk);
      assert.equal(outcome.path, bulk ? 'plain-bulk' : 'plain-upsert');
      assert.deepEqual(
        [outcome.rowsTotal, outcome.inserted, outcome.updated, outcome.unchanged, outcome.dataVersion],
        [100, 50, 2, 48, before + 1],
      );
      const all = await pool.query<{ n: string; v: string }>(
        `SELECT count(*) AS n, (SELECT volume FROM market.daily_bars WHERE code = $1 AND date = $2) AS v FROM market.daily_bars`,
        (second[0] ?? '').split(',').slice(0, 2),
      );
      assert.equal(Number(all.rows[0]?.n), 200, 'the first 100 rows, outside the second file, are still there');
      assert.equal(all.rows[0]?.v, (second[0] ?? '').split(',')[6]);

      // the same file again: nothing changes, not even the version
      const again = await load('bars', `${[HEADER, ...second].join('\n')}\n`, bulk);
      assert.deepEqual([again.inserted, again.updated, again.unchanged, again.changed], [0, 0, 100, false]);
      assert.equal(again.dataVersion, before + 1);
    }
  });

  it('swaps in a bulk-loaded table with the same constraints and indexes, which the careful path then upserts into', async () => {
    const schema = await schemaOfBars();
    assert.ok(
      schema.some((d) => d.startsWith('daily_bars_pkey PRIMARY KEY (date, code)')),
      schema.join('\n'),
    );
    assert.ok(
      schema.some((d) => d.startsWith('daily_bars_code_fkey FOREIGN KEY (code)')),
      schema.join('\n'),
    );
    assert.ok(
      schema.some((d) => d.startsWith('ck_daily_bars_row_rules CHECK')),
      schema.join('\n'),
    );
    assert.equal((await load('bars', market.bars, true)).path, 'plain-bulk');
    assert.deepEqual(await schemaOfBars(), schema);

    const one = rows[0]?.split(',') ?? [];
    one[6] = '1';
    const careful = await load('bars', `${HEADER}\n"${one[0]}",${one.slice(1).join(',')}\n`);
    assert.deepEqual([careful.path, careful.updated], ['careful', 1]);
    // the check constraint came along: the database refuses a bar the rules refuse
    await assert.rejects(
      pool.query(`UPDATE market.daily_bars SET low = high + 1 WHERE code = $1 AND date = $2`, [one[0], one[1]]),
      /ck_daily_bars_row_rules/,
    );
  });

  it('reads a file the fast path declines the careful way, with its errors by line and nothing loaded', async () => {
    const at = (line: number, edit: (f: string[]) => void): string => {
      const copy = [...lines];
      const fields = (copy[line - 1] ?? '').split(',');
      edit(fields);
      copy[line - 1] = fields.join(',');
      return `${copy.join('\n')}\n`;
    };
    const code = rows[0]?.split(',')[0] ?? '';
    const date = rows[0]?.split(',')[1] ?? '';
    const cases: Array<[string, string, RegExp]> = [
      ['an exponent', at(9, (f) => (f[2] = '1e5')), /^open must be a number, got "1e5"/],
      ['low above high', at(9, (f) => ([f[3], f[4]] = [f[4] ?? '', f[3] ?? ''])), /^low \(.*\) is above high/],
      ['a zero price', at(9, (f) => (f[2] = f[3] = f[4] = f[5] = '0')), /^open must be greater than 0/],
      ['minus zero', at(9, (f) => (f[2] = f[3] = f[4] = f[5] = '-0')), /^open must be greater than 0/],
      ['a day that does not exist', at(9, (f) => (f[1] = '2021-02-30')), /^date must be a date yyyy-mm-dd/],
      ['a year out of range', at(9, (f) => (f[1] = '1899-12-29')), /^date must be a date yyyy-mm-dd/],
      [
        'a volume past 2^53',
        at(9, (f) => (f[6] = '9007199254740993')),
        /^volume must be a whole number|^volume is out of range/,
      ],
      ['zero shares', at(9, (f) => (f[9] = '0')), /^shares_outstanding must be greater than 0/],
      ['an unknown code', at(9, (f) => (f[0] = 'QQ9999')), /^unknown code QQ9999/],
      ['a repeated key', at(9, (f) => ([f[0], f[1]] = [code, date])), /^duplicate key .*: already on line 2/],
      ['a short line', at(9, (f) => f.pop()), /^expected 10 fields, found 9/],
    ];
    for (const bulk of [false, true]) {
      for (const [name, content, message] of cases) {
        const before = await version();
        const outcome = await load('bars', content, bulk);
        assert.equal(outcome.path, 'careful', name);
        assert.equal(outcome.succeeded, false, name);
        assert.equal(outcome.errors.length, 1, `${name}: ${JSON.stringify(outcome.errors)}`);
        assert.equal(outcome.errors[0]?.line, 9, name);
        assert.match(outcome.errors[0]?.message ?? '', message, name);
        assert.deepEqual(await bars(), [], `${name}: nothing loaded`);
        assert.equal(await version(), before, name);
      }
    }
    // an empty line is fine by the format: the careful path loads the file
    const blank = `${[HEADER, ...rows.slice(0, 5), '', ...rows.slice(5)].join('\n')}\n`;
    const outcome = await load('bars', blank, true);
    assert.deepEqual([outcome.path, outcome.succeeded, outcome.inserted], ['careful', true, rows.length]);
  });

  it('loads a corporate actions file all or nothing, its errors by line, and only the changed rows', async () => {
    const [a, b] = [...new Set(rows.map((r) => r.split(',')[0] ?? ''))];
    const header = CSV_FORMATS.corporate_actions.columns.join(',');
    const before = await version();
    const bad = await load(
      'corporate_actions',
      [
        header,
        `${a},2021-03-02,split,50,50`,
        `${b},2021-13-01,split,2,2`,
        `${a},2021-04-01,dividend,1,1`,
        `${b},2021-05-03,split,3,2`,
        `${b},2021-05-04,rights_issue,1.2,1.1`,
        `${b},2021-05-06,reverse_split,0.1,2`,
        `ZZZZZ9,2021-05-04,split,2,2`,
        `${a},2021-03-02,bonus_issue,1.5,1.5`,
      ].join('\n'),
    );
    assert.equal(bad.succeeded, false);
    assert.deepEqual(bad.errors, [
      { line: 3, message: 'ex_date must be a date yyyy-mm-dd, got "2021-13-01"' },
      { line: 4, message: 'kind must be one of split, reverse_split, bonus_issue, rights_issue, got "dividend"' },
      { line: 5, message: 'price_factor (3) of a split must be within 1 % of its share_ratio (2)' },
      { line: 6, message: 'share_ratio of a rights_issue must be 1 (a holder gets no shares without subscribing)' },
      { line: 7, message: 'share_ratio of a reverse_split must be below 1, got 2' },
      { line: 8, message: 'unknown code ZZZZZ9: load it with a securities file first' },
      { line: 9, message: `duplicate key ${a} 2021-03-02: already on line 2` },
    ]);
    const count = async (): Promise<number> =>
      Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM market.corporate_actions')).rows[0]?.n);
    assert.equal(await count(), 0, 'nothing of a refused file');
    assert.equal(await version(), before);

    const good = [
      header,
      `${a},2021-03-02,split,50,50`,
      `${b},2021-05-04,rights_issue,1.2,1`,
      `${b},2021-06-01,reverse_split,0.1,0.1`,
    ].join('\n');
    const first = await load('corporate_actions', good);
    assert.deepEqual([first.succeeded, first.inserted, first.changed], [true, 3, true]);
    assert.equal(await version(), before + 1);
    const log = await pool.query('SELECT appended_after FROM market.data_version_log WHERE version = $1', [before + 1]);
    assert.equal(log.rows[0]?.appended_after, null, 'new events are not an append of days');
    const again = await load('corporate_actions', good);
    assert.deepEqual([again.unchanged, again.changed], [3, false]);
    const fixed = await load('corporate_actions', `${header}\n${a},2021-03-02,bonus_issue,2,2\n`);
    assert.deepEqual([fixed.updated, fixed.unchanged], [1, 0]);
    assert.equal(await count(), 3);
    await pool.query('TRUNCATE market.corporate_actions');
  });

  it('loads statements with or without the optional columns, and the snapshot derives TTM, comparisons and EPS from the quarters', async () => {
    const [a] = [...new Set(rows.map((r) => r.split(',')[0] ?? ''))];
    const base = CSV_FORMATS.statements.columns.join(',');
    const header = [...CSV_FORMATS.statements.columns, ...CSV_FORMATS.statements.optionalColumns].join(',');
    const before = await version();
    const bad = await load(
      'statements',
      [
        header,
        `${a},2021Q1,2021-05-14,100,20,10,1000,500,40,15,5,-2,3,300,200,50,100`,
        `${a},2021Q2,2021-08-14,100,20,10,1000,500,40,15,5,2,3,300,200,50,1e3`,
        `${a},2021Q3,2021-11-14,100,20,10,1000,500,40,15,5,2,3,300,200,50`,
        `${a},2021Q4,2022-02-14,100,20,10,1000,500,-40,-15,5,2,0,300,200,50,100`,
      ].join('\n'),
    );
    assert.deepEqual(bad.errors, [
      { line: 2, message: 'interest_expense must not be negative' },
      { line: 3, message: 'total_borrowings must be a number, got "1e3"' },
      { line: 4, message: 'expected 17 fields, found 16' },
    ]);
    assert.equal(await version(), before, 'nothing of a refused file');
    // quarters k = 1..8 from 2020Q2: revenue 100k, operating income 20k, net income 10k, gross
    // profit 40k, operating cash flow 15k; 2021Q2 (k = 5) has no dividends paid (an empty cell)
    const periods = ['2020Q2', '2020Q3', '2020Q4', '2021Q1', '2021Q2', '2021Q3', '2021Q4', '2022Q1'];
    const reported = ['2020-08-14', '2020-11-14', '2021-03-02', '2021-05-14', '2021-08-14', '2021-11-14', '2022-03-02'];
    const statements = periods.map((p, i) => {
      const k = i + 1;
      const dividends = k === 5 ? '' : '3';
      return `${a},${p},${reported[i] ?? '2022-05-13'},${100 * k},${20 * k},${10 * k},1000,500,${40 * k},${15 * k},5,2,${dividends},300,200,50,${100 + k}`;
    });
    const good = await load('statements', [header, ...statements].join('\n'));
    assert.deepEqual([good.succeeded, good.inserted], [true, 8], JSON.stringify(good.errors));
    // an old file without the optional columns still loads (its row's figures are NULL)
    const old = await load('statements', `${base}\n${a},2019Q4,2020-03-02,1,1,1,1000,500\n`);
    assert.deepEqual([old.succeeded, old.inserted], [true, 1], JSON.stringify(old.errors));
    const nulls = await pool.query(
      `SELECT gross_profit, dividends_paid, total_borrowings FROM market.financial_statements WHERE fiscal_period = '2019Q4'`,
    );
    assert.deepEqual(nulls.rows, [{ gross_profit: null, dividends_paid: null, total_borrowings: null }]);
    // listed shares 1000, then 2000 after a 2:1 split (ex 2021-12-01)
    const bar = (date: string, shares: number): string =>
      `${a},${date},100,100,100,100,10,1000,${100 * shares},${shares}`;
    const bars = await load(
      'bars',
      [HEADER, bar('2021-03-31', 1000), bar('2021-12-30', 2000), bar('2022-03-31', 2000)].join('\n'),
    );
    assert.ok(bars.succeeded, JSON.stringify(bars.errors));
    const split = await load(
      'corporate_actions',
      `code,ex_date,kind,price_factor,share_ratio\n${a},2021-12-01,split,2,2\n`,
    );
    assert.ok(split.succeeded, JSON.stringify(split.errors));

    const client = await pool.connect();
    try {
      const snapshot = await loadMarketSnapshot(client);
      const list = snapshot.data.fundamentals[snapshot.data.codes.indexOf(a ?? '')] ?? [];
      assert.deepEqual(
        list.map((st) => st.reportDate),
        [20200302, 20200814, 20201114, 20210302, 20210514, 20210814, 20211114, 20220302, 20220513],
      );
      const q4 = list[3];
      assert.ok(q4 && Number.isNaN(q4.revenue) && Number.isNaN(q4.netIncome), 'three quarters make no TTM');
      assert.equal(q4?.revenueQuarter, 300);
      assert.ok(Number.isNaN(q4?.grossProfit), 'a figure the quarter lacks is NaN');
      const latest = list[8];
      assert.ok(latest);
      const { reportDate: _date, ...figures } = latest;
      const want: Record<string, number> = {
        revenue: 2600, // 100 x (5 + 6 + 7 + 8)
        operatingIncome: 520,
        netIncome: 260,
        equity: 1000,
        liabilities: 500,
        revenuePrevYear: 1000, // 2021Q1's TTM: 100 x (1 + 2 + 3 + 4)
        operatingIncomePrevYear: 200,
        netIncomePrevYear: 100,
        grossProfit: 1040,
        operatingCashFlow: 390,
        depreciationAmortization: 20,
        interestExpense: 8,
        currentAssets: 300,
        currentLiabilities: 200,
        cash: 50,
        borrowings: 108,
        revenueQuarter: 800,
        operatingIncomeQuarter: 160,
        netIncomeQuarter: 80,
        revenuePrevQuarter: 700,
        operatingIncomePrevQuarter: 140,
        netIncomePrevQuarter: 70,
        eps: 0.13, // 260 / 2000 shares
        epsPrevYear: 0.05, // 100 / (1000 shares x 2, the split)
        epsQuarter: 0.04, // 80 / 2000
        epsPrevQuarter: 0.035, // 70 / 2000 (after the split already)
      };
      const known = Object.entries(figures).filter(([, v]) => !Number.isNaN(v));
      assert.deepEqual(known.map(([k]) => k).sort(), Object.keys(want).sort(), 'dividends paid: 2021Q2 reported none');
      for (const [field, value] of Object.entries(want)) {
        const got = (figures as Record<string, number>)[field] ?? Number.NaN;
        assert.ok(Math.abs(got - value) <= 1e-12 * Math.abs(value), `${field}: ${got} vs ${value}`);
      }
    } finally {
      client.release();
      await pool.query('TRUNCATE market.financial_statements, market.corporate_actions');
    }
  });

  it('leaves the header and empty-file messages to the careful path', async () => {
    const wrongHeader = await load('bars', `code,day\n${rows[0]}\n`, true);
    assert.equal(wrongHeader.path, 'careful');
    assert.match(wrongHeader.errors[0]?.message ?? '', /^the header must be exactly/);
    const headerOnly = await load('bars', `${HEADER}\n`, true);
    assert.deepEqual(headerOnly.errors, [{ line: 1, message: 'the file has a header but no data rows' }]);
  });
});
