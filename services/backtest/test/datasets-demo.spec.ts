import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from '@jest/globals';
import { generateDemoMarket, writeDemoMarket } from '../src/cli/demo-data.js';
import { CSV_FORMATS, checkHeader, quarterEnd } from '../src/market/market-csv.js';

const rowsOf = (csv: string): string[][] =>
  csv
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(','));

describe('demo market generator', () => {
  const options = { stocks: 20, years: 1, seed: 42, delistings: 2 };

  it('is deterministic: the same seed gives byte-identical files, another seed different ones', async () => {
    const first = generateDemoMarket(options);
    const second = generateDemoMarket(options);
    assert.deepEqual(second, first);
    assert.notEqual(generateDemoMarket({ ...options, seed: 43 }).bars, first.bars);
    const dir = mkdtempSync(join(tmpdir(), 'demo-market-'));
    try {
      const paths = await writeDemoMarket(options, dir);
      assert.equal(readFileSync(paths.securities, 'utf8'), first.securities);
      assert.equal(readFileSync(paths.bars, 'utf8'), first.bars);
      assert.equal(readFileSync(paths.statements, 'utf8'), first.statements);
      assert.equal(readFileSync(paths.classifications, 'utf8'), first.classifications);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes the import formats, with every row valid for its kind', () => {
    const market = generateDemoMarket(options);
    for (const kind of ['securities', 'bars', 'statements', 'classifications'] as const) {
      const format = CSV_FORMATS[kind];
      const [header, ...lines] = market[kind].trim().split('\n');
      const checked = checkHeader(format, (header ?? '').split(','));
      assert.notEqual(typeof checked, 'string', `${kind} header`);
      const hasOptional = typeof checked === 'string' ? false : checked.hasOptional;
      for (const line of lines) {
        const parsed = format.parse(line.split(','), hasOptional);
        assert.notEqual(typeof parsed, 'string', `${kind}: ${line}: ${String(parsed)}`);
      }
    }
  });

  it('labels every security synthetic and keeps prices, bars and statements consistent', () => {
    const market = generateDemoMarket(options);
    const securities = rowsOf(market.securities);
    assert.equal(securities.length, 20);
    for (const s of securities) {
      assert.match(s[1] ?? '', /SYNTHETIC/);
      assert.equal(s[6], 'true');
    }
    const delisted = new Map(securities.filter((s) => s[5] !== '').map((s) => [s[0], s[5] ?? '']));
    assert.equal(delisted.size, 2, 'the asked-for delistings');

    const bars = rowsOf(market.bars);
    assert.ok(bars.length > 20 * 200, 'about a year of trading days per stock');
    for (const [code, date, o, h, l, c, volume, value, cap, shares] of bars) {
      const [open, high, low, close] = [o, h, l, c].map(Number) as [number, number, number, number];
      assert.ok(low <= Math.min(open, close) && Math.max(open, close) <= high, `${code} ${date}`);
      assert.ok(low >= 1000 && high <= 500_000 * 1.2, `KRX-like price range: ${code} ${date}`);
      assert.ok(Number(volume) >= 0 && Number(value) >= 0);
      assert.equal(Number(cap), close * Number(shares));
      const delistedOn = delisted.get(code);
      assert.ok(delistedOn === undefined || (date ?? '') < delistedOn, `no bar of ${code} on or after delisting`);
      const weekday = new Date(`${date}T00:00:00Z`).getUTCDay();
      assert.ok(weekday >= 1 && weekday <= 5, `${date} is a weekday`);
    }
    for (const code of delisted.keys()) {
      assert.ok(
        bars.some((b) => b[0] === code),
        `${code} traded before its delisting`,
      );
    }

    const statements = rowsOf(market.statements);
    assert.ok(statements.length >= 20 * 4);
    for (const [code, period, report] of statements) {
      const end = quarterEnd(period ?? '');
      const lagDays = (Date.parse(report ?? '') - Date.parse(end)) / 86_400_000;
      assert.ok(lagDays >= 45 && lagDays <= 90, `${code} ${period} reported ${lagDays} days after quarter end`);
    }
  });

  it('exercises the market rules: a halt, a recorded delisting and a KOSDAQ -> KOSPI transfer', () => {
    const market = generateDemoMarket(options);
    const days = [...new Set(rowsOf(market.bars).map((b) => b[1] ?? ''))].sort();
    const barsOf = (code: string): string[][] => rowsOf(market.bars).filter((b) => b[0] === code);
    // the halt: from 40 % of the period, 5 trading days without a bar, then 5 zero-volume bars at the last close
    const haltStart = days[Math.floor(days.length * 0.4)] ?? '';
    const zero = rowsOf(market.bars).filter((b) => b[6] === '0');
    assert.equal(new Set(zero.map((b) => b[0])).size, 1, 'one halted stock');
    const halted = barsOf(zero[0]?.[0] ?? '');
    const at = halted.findIndex((b) => (b[1] ?? '') >= haltStart);
    const [before, after] = [halted[at - 1], halted[at]];
    assert.equal(days.indexOf(after?.[1] ?? '') - days.indexOf(before?.[1] ?? ''), 6, 'five days without a bar');
    assert.deepEqual(
      halted.slice(at, at + 5).map((b) => [b[2], b[3], b[4], b[5], b[6], b[7]]),
      Array.from({ length: 5 }, () => [...Array<string>(4).fill(before?.[5] ?? ''), '0', '0']),
      'then five zero-volume bars at the last close',
    );
    assert.notEqual(halted[at + 5]?.[6], '0', 'then it trades again');
    // the transfer: the classifications file moves a KOSDAQ stock to KOSPI at 60 % of the period
    const moves = rowsOf(market.classifications);
    assert.equal(moves.length, 2);
    const [code, listedFrom, firstMarket, sector] = moves[0] ?? [];
    const security = rowsOf(market.securities).find((r) => r[0] === code);
    assert.deepEqual([listedFrom, firstMarket, sector], [security?.[4], 'KOSDAQ', security?.[3]]);
    assert.deepEqual(moves[1], [code, days[Math.floor(days.length * 0.6)], 'KOSPI', security?.[3]]);
    assert.equal(security?.[2], 'KOSPI', 'securities holds the current market');
    assert.equal(security?.[5], '', 'not a delisted stock');
    assert.ok(barsOf(code ?? '').length > 200, 'it trades all year');
  });

  it('makes the daily moves of stocks in one sector correlated', () => {
    const market = generateDemoMarket({ stocks: 24, years: 2, seed: 5, delistings: 0 });
    const closes = new Map<string, number[]>();
    for (const [code, , , , , close] of rowsOf(market.bars)) {
      const list = closes.get(code ?? '') ?? [];
      list.push(Number(close));
      closes.set(code ?? '', list);
    }
    const returns = [...closes.values()].map((c) => c.slice(1).map((v, i) => Math.log(v / (c[i] ?? v))));
    const corr = (x: number[], y: number[]): number => {
      const n = Math.min(x.length, y.length);
      const mx = x.slice(0, n).reduce((s, v) => s + v, 0) / n;
      const my = y.slice(0, n).reduce((s, v) => s + v, 0) / n;
      let sxy = 0;
      let sxx = 0;
      let syy = 0;
      for (let i = 0; i < n; i += 1) {
        sxy += ((x[i] ?? 0) - mx) * ((y[i] ?? 0) - my);
        sxx += ((x[i] ?? 0) - mx) ** 2;
        syy += ((y[i] ?? 0) - my) ** 2;
      }
      return sxy / Math.sqrt(sxx * syy);
    };
    // stocks i and i+12 share a sector (sectors are assigned round-robin over 12)
    const sameSector = corr(returns[0] ?? [], returns[12] ?? []);
    assert.ok(sameSector > 0.2, `same-sector correlation ${sameSector}`);
  });

  it('draws trading values within the range of each bar when asked, leaving every other column as it was', () => {
    const plain = rowsOf(generateDemoMarket(options).bars);
    const drawn = rowsOf(generateDemoMarket({ ...options, tradingValue: 'within-range' }).bars);
    assert.equal(drawn.length, plain.length);
    let offMean = 0;
    drawn.forEach((row, i) => {
      const before = plain[i] ?? [];
      // code, date, open, high, low, close, volume | trading value | market cap, shares
      assert.deepEqual([...row.slice(0, 7), ...row.slice(8)], [...before.slice(0, 7), ...before.slice(8)], `bar ${i}`);
      const [low, high, volume, value] = [row[4], row[3], row[6], row[7]].map(Number) as [
        number,
        number,
        number,
        number,
      ];
      assert.ok(value >= Math.round(volume * low) && value <= Math.round(volume * high), `bar ${i}: ${row.join(',')}`);
      if (value !== Number(before[7])) {
        offMean += 1;
      }
    });
    assert.ok(
      offMean > drawn.length / 2,
      `${offMean} of ${drawn.length} trading values differ from volume x mean price`,
    );
  });
});
