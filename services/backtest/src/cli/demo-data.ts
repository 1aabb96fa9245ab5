import { once } from 'node:events';
import { createReadStream, createWriteStream, mkdirSync, statSync, type WriteStream } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { fullHeader, quarterEnd, type MarketKind } from '../market/market-csv.js';
import { loadMarketCsv } from '../market/market-loader.js';

/**
 * A deterministic SYNTHETIC market for demos and tests: correlated geometric random walks
 * (market factor + sector factor + idiosyncratic noise), KRX-like prices, a few delistings (with
 * their recorded dates), a trading halt and a KOSDAQ -> KOSPI transfer (see marketEvents), and
 * quarterly statements published 45-90 days after quarter end. Nothing here is real data: every
 * security is flagged `synthetic` and named "SYNTHETIC Co nnn".
 */
export interface DemoMarketOptions {
  stocks: number;
  years: number;
  seed: number;
  /** first calendar year of bars (default 2014) */
  startYear?: number;
  /** how many securities are delisted during the period (default about 2%, at least 1 when stocks >= 10) */
  delistings?: number;
  /**
   * A bar's trading value: volume x the mean of its four prices (`mean-price`, the default), or
   * volume x a price drawn anywhere between its low and its high (`within-range`), as a real day's
   * VWAP lies, so that what depends on the trading value's noise (the snapshot's size) is not
   * measured on a value that follows from the other columns. The draws come from a stream of their
   * own: every other column is the same either way.
   */
  tradingValue?: 'mean-price' | 'within-range';
}

export interface DemoMarketFiles {
  securities: string;
  bars: string;
  statements: string;
  /** point-in-time market and sector of the stocks that changed (the optional import kind) */
  classifications: string;
}

type DemoFile = keyof DemoMarketFiles;

export const DEMO_SECTORS = [
  'Semiconductors',
  'Automobiles',
  'Chemicals',
  'Banks',
  'Biotech',
  'Internet',
  'Retail',
  'Steel',
  'Construction',
  'Utilities',
  'Telecom',
  'Entertainment',
] as const;

export const SECURITIES_HEADER = fullHeader('securities');
export const BARS_HEADER = fullHeader('bars');
/** The statements file with its optional columns (CSV_FORMATS.md), so that every factor has its figures. */
export const STATEMENTS_HEADER = fullHeader('statements');
export const CLASSIFICATIONS_HEADER = fullHeader('classifications');
/** The halt: this many trading days without a bar, then as many zero-volume bars at the last close. */
const HALT_DAYS = 5;

/**
 * The market events of a demo market of `count` stocks over `days` trading days (none below 10
 * stocks or 60 days), chosen without drawing random numbers so that every other bar stays what
 * it was: one stock halted (거래정지) from 40 % of the period, HALT_DAYS days without a bar, then
 * HALT_DAYS zero-volume bars at its last close; the first KOSDAQ stock from the middle of the list
 * transfers to KOSPI (이전상장) at 60 % of the period. Neither is a delisted stock.
 */
function marketEvents(stocks: readonly Stock[], days: number): { halted?: Stock; haltStart: number } {
  if (stocks.length < 10 || days < 60) {
    return { haltStart: -1 };
  }
  const haltStart = Math.floor(days * 0.4);
  const eligible = (s: Stock): boolean => s.delistedOn === null && s.firstDay < haltStart;
  const halted = stocks.slice(Math.floor(stocks.length / 3)).find(eligible);
  const mover = stocks
    .slice(Math.floor(stocks.length / 2))
    .find((s) => eligible(s) && s !== halted && s.market === 'KOSDAQ');
  if (mover) {
    mover.transferDay = Math.floor(days * 0.6);
  }
  return { ...(halted ? { halted } : {}), haltStart };
}

/** Fixed-date KRX-style holidays (lunar holidays are left out: the market is synthetic). */
const HOLIDAYS = new Set(['01-01', '03-01', '05-05', '06-06', '08-15', '10-03', '10-09', '12-25', '12-31']);
const MIN_PRICE = 1_000;
const MAX_PRICE = 500_000;

/** mulberry32: small, fast, and the same sequence on every platform for a given seed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Random {
  private readonly next: () => number;
  private spare: number | undefined;

  constructor(seed: number) {
    this.next = mulberry32(seed);
  }

  uniform(min = 0, max = 1): number {
    return min + (max - min) * this.next();
  }

  int(min: number, max: number): number {
    return Math.floor(this.uniform(min, max + 1));
  }

  /** standard normal (Box-Muller, both values used) */
  normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    const u = Math.max(this.next(), 1e-12);
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

function isoDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

function addDays(day: string, days: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return isoDay(d);
}

/** Mon-Fri minus the fixed holidays, from Jan 1 of `startYear` for `years` years. */
export function demoTradingDays(startYear: number, years: number): string[] {
  const days: string[] = [];
  const d = new Date(Date.UTC(startYear, 0, 1));
  const end = Date.UTC(startYear + years, 0, 1);
  while (d.getTime() < end) {
    const weekday = d.getUTCDay();
    const day = isoDay(d);
    if (weekday !== 0 && weekday !== 6 && !HOLIDAYS.has(day.slice(5))) {
      days.push(day);
    }
    d.setUTCDate(d.getUTCDate() + 1);
  }
  return days;
}

interface Stock {
  code: string;
  name: string;
  market: 'KOSPI' | 'KOSDAQ';
  sector: number;
  listedOn: string;
  delistedOn: string | null;
  /** index of the first and one past the last trading day with bars */
  firstDay: number;
  endDay: number;
  /** the day it moves from KOSDAQ to KOSPI (its securities row says KOSPI), if it does */
  transferDay?: number;
  price: number;
  shares: number;
  beta: number;
  sectorLoading: number;
  idioVol: number;
  turnover: number;
  // fundamentals, quarterly KRW
  revenue: number;
  margin: number;
  growth: number;
  equity: number;
  debtRatio: number;
}

/**
 * Yields the lines of the three files: securities first, then bars day by day (every stock that
 * trades that day, by code), then statements. Deterministic for given options.
 */
export function* demoMarketLines(options: DemoMarketOptions): Generator<[DemoFile, string]> {
  const { stocks: count, years, seed } = options;
  if (!Number.isInteger(count) || count < 1 || count > 9999) {
    throw new Error('stocks must be between 1 and 9999');
  }
  if (!Number.isInteger(years) || years < 1 || years > 50) {
    throw new Error('years must be between 1 and 50');
  }
  const startYear = options.startYear ?? 2014;
  const rng = new Random(seed);
  const vwapRng = options.tradingValue === 'within-range' ? new Random(seed ^ 0x5f3759df) : undefined;
  const days = demoTradingDays(startYear, years);
  const firstDay = days[0] ?? `${startYear}-01-02`;
  const lastDay = days[days.length - 1] ?? firstDay;
  const delistings = Math.min(count, options.delistings ?? (count >= 10 ? Math.max(1, Math.round(count * 0.02)) : 0));

  const stocks: Stock[] = [];
  for (let i = 0; i < count; i += 1) {
    const number = String(i + 1).padStart(3, '0');
    // a listing date before the period for most, during its first half for about one in ten
    const lateListing = rng.uniform() < 0.1 && days.length > 40;
    const firstIndex = lateListing ? rng.int(1, Math.floor(days.length / 2)) : 0;
    const listedOn = lateListing ? (days[firstIndex] ?? firstDay) : addDays(firstDay, -rng.int(30, 365 * 20));
    const price = Math.exp(rng.uniform(Math.log(3_000), Math.log(200_000)));
    const marketCap = Math.exp(rng.uniform(Math.log(5e10), Math.log(3e13)));
    const totalVol = rng.uniform(0.015, 0.03);
    const beta = rng.uniform(0.6, 1.4);
    const sectorLoading = rng.uniform(0.5, 1.2);
    const systematic = Math.sqrt((beta * 0.009) ** 2 + (sectorLoading * 0.007) ** 2);
    const revenue = (marketCap * rng.uniform(0.3, 2.5)) / 4;
    stocks.push({
      code: `Z${String(i + 1).padStart(5, '0')}`,
      name: `SYNTHETIC Co ${number}`,
      market: rng.uniform() < 0.55 ? 'KOSPI' : 'KOSDAQ',
      sector: i % DEMO_SECTORS.length,
      listedOn,
      delistedOn: null,
      firstDay: firstIndex,
      endDay: days.length,
      price,
      shares: Math.max(100_000, Math.round(marketCap / price)),
      beta,
      sectorLoading,
      idioVol: Math.sqrt(Math.max(totalVol ** 2 - systematic ** 2, 0.006 ** 2)),
      turnover: rng.uniform(0.001, 0.012),
      revenue,
      margin: rng.uniform(-0.02, 0.2),
      growth: rng.uniform(-0.01, 0.04),
      equity: marketCap * rng.uniform(0.3, 1.5),
      debtRatio: rng.uniform(0.2, 2.5),
    });
  }
  // delist a few, spread over the stocks, in the second half of the period
  for (let k = 0; k < delistings; k += 1) {
    const stock = stocks[Math.floor(((k + 0.5) * count) / delistings)];
    if (!stock || days.length < 4) {
      continue;
    }
    const from = Math.max(stock.firstDay + 2, Math.floor(days.length / 2));
    const index = rng.int(Math.min(from, days.length - 1), days.length - 1);
    stock.endDay = index;
    stock.delistedOn = days[index] ?? lastDay;
  }

  const events = marketEvents(stocks, days.length);
  yield ['securities', SECURITIES_HEADER];
  for (const s of stocks) {
    const market = s.transferDay === undefined ? s.market : 'KOSPI';
    yield [
      'securities',
      `${s.code},${s.name},${market},${DEMO_SECTORS[s.sector]},${s.listedOn},${s.delistedOn ?? ''},true`,
    ];
  }
  yield ['classifications', CLASSIFICATIONS_HEADER];
  for (const s of stocks) {
    if (s.transferDay !== undefined) {
      const sector = DEMO_SECTORS[s.sector];
      yield ['classifications', `${s.code},${s.listedOn},KOSDAQ,${sector}`];
      yield ['classifications', `${s.code},${days[s.transferDay] ?? lastDay},KOSPI,${sector}`];
    }
  }

  yield ['bars', BARS_HEADER];
  const sectorShocks = new Array<number>(DEMO_SECTORS.length).fill(0);
  for (let t = 0; t < days.length; t += 1) {
    const day = days[t] ?? firstDay;
    const marketShock = 0.0003 + 0.009 * rng.normal();
    for (let j = 0; j < sectorShocks.length; j += 1) {
      sectorShocks[j] = 0.007 * rng.normal();
    }
    for (const s of stocks) {
      // every stock draws the same numbers every day, listed or not: adding a delisting changes nothing else
      const idio = rng.normal();
      const gap = rng.normal();
      const wickUp = Math.abs(rng.normal());
      const wickDown = Math.abs(rng.normal());
      const volumeNoise = rng.normal();
      if (t < s.firstDay || t >= s.endDay) {
        continue;
      }
      if (s === events.halted && t >= events.haltStart && t < events.haltStart + 2 * HALT_DAYS) {
        if (t >= events.haltStart + HALT_DAYS) {
          const p = Math.round(s.price); // a zero-volume bar at the last close, as KRX reports a halted day
          yield ['bars', `${s.code},${day},${p},${p},${p},${p},0,0,${p * s.shares},${s.shares}`];
        }
        continue;
      }
      let drift = -0.5 * (s.beta * 0.009) ** 2;
      if (s.price < 2 * MIN_PRICE) {
        drift += 0.003;
      } else if (s.price > MAX_PRICE / 2) {
        drift -= 0.003;
      }
      const ret = drift + s.beta * marketShock + s.sectorLoading * (sectorShocks[s.sector] ?? 0) + s.idioVol * idio;
      const prev = s.price;
      const close = Math.min(MAX_PRICE, Math.max(MIN_PRICE, prev * Math.exp(ret)));
      const openRaw = Math.min(MAX_PRICE, Math.max(MIN_PRICE, prev * Math.exp(0.3 * s.idioVol * gap)));
      const o = Math.round(openRaw);
      const c = Math.round(close);
      const h = Math.max(
        o,
        c,
        Math.min(MAX_PRICE, Math.round(Math.max(openRaw, close) * (1 + 0.4 * s.idioVol * wickUp))),
      );
      const l = Math.min(
        o,
        c,
        Math.max(MIN_PRICE, Math.round(Math.min(openRaw, close) * (1 - 0.4 * s.idioVol * wickDown))),
      );
      s.price = close;
      const activity = 1 + 20 * Math.abs(ret);
      const volume = Math.max(0, Math.round(s.shares * s.turnover * activity * Math.exp(0.4 * volumeNoise - 0.08)));
      const tradingValue = vwapRng
        ? Math.round(volume * (l + vwapRng.uniform() * (h - l)))
        : Math.round((volume * (o + h + l + c)) / 4);
      yield ['bars', `${s.code},${day},${o},${h},${l},${c},${volume},${tradingValue},${c * s.shares},${s.shares}`];
    }
  }

  yield ['statements', STATEMENTS_HEADER];
  for (const s of stocks) {
    // quarters from the one before the period (or listing) until reports stop (end of data or delisting)
    const listYear = Number((s.listedOn > firstDay ? s.listedOn : firstDay).slice(0, 4));
    const stop = s.delistedOn ?? lastDay;
    let revenue = s.revenue;
    let equity = s.equity;
    for (let year = listYear - 1; year <= startYear + years; year += 1) {
      for (let q = 1; q <= 4; q += 1) {
        const period = `${year}Q${q}`;
        revenue = Math.max(0, revenue * (1 + s.growth / 4 + 0.05 * rng.normal()));
        const margin = s.margin + 0.03 * rng.normal();
        const operating = revenue * margin;
        const net = operating * rng.uniform(0.55, 0.85);
        equity = Math.max(equity * 0.2, equity + net * 0.7);
        const liabilities = equity * s.debtRatio * rng.uniform(0.9, 1.1);
        const lag = rng.int(45, 90);
        const report = addDays(quarterEnd(period), lag);
        if (report > stop || quarterEnd(period) < addDays(s.listedOn, -365)) {
          continue;
        }
        yield [
          'statements',
          `${s.code},${period},${report},${Math.round(revenue)},${Math.round(operating)},${Math.round(net)},` +
            `${Math.round(equity)},${Math.round(liabilities)},${optionalFigures(s, q, revenue, operating, net, equity, liabilities)}`,
        ];
      }
    }
  }
}

/**
 * A quarter's optional statement columns, derived from its other figures without drawing random
 * numbers (the rest of the market stays what it was), in proportions plausible for a Korean
 * company: gross margin 12-20 points above the operating one, depreciation 3-4.5 % of revenue,
 * operating cash flow = net income + depreciation +- a working-capital swing (accruals), borrowings
 * 45 % of liabilities at 4.5 % a year, the annual dividend (20 % of the quarter's income x 4) paid
 * in the second quarter as Korean year-end dividends are, current liabilities half the liabilities.
 */
function optionalFigures(
  s: Stock,
  q: number,
  revenue: number,
  operating: number,
  net: number,
  equity: number,
  liabilities: number,
): string {
  const depreciation = revenue * (0.03 + 0.005 * (s.sector % 4));
  const borrowings = liabilities * 0.45;
  const cash = equity * 0.15 + revenue * 0.1;
  const figures = [
    revenue * (0.12 + 0.02 * (s.sector % 5)) + operating, // gross profit
    net + depreciation - 0.03 * revenue * ((q % 3) - 1), // operating cash flow
    depreciation,
    (borrowings * 0.045) / 4, // interest expense
    q === 2 ? Math.max(0, net * 4 * 0.2) : 0, // dividends paid
    cash + revenue * 0.9, // current assets
    liabilities * 0.5, // current liabilities
    cash,
    borrowings,
  ];
  return figures.map((x) => Math.round(x)).join(',');
}

/** The three files as strings (for small markets, e.g. tests: 20 stocks x 1 year). */
export function generateDemoMarket(options: DemoMarketOptions): DemoMarketFiles {
  const parts: Record<DemoFile, string[]> = { securities: [], bars: [], statements: [], classifications: [] };
  for (const [file, line] of demoMarketLines(options)) {
    parts[file].push(line);
  }
  return {
    securities: `${parts.securities.join('\n')}\n`,
    bars: `${parts.bars.join('\n')}\n`,
    statements: `${parts.statements.join('\n')}\n`,
    classifications: `${parts.classifications.join('\n')}\n`,
  };
}

/** Streams the files into `dir` (securities.csv, bars.csv, statements.csv, classifications.csv); returns their paths. */
export async function writeDemoMarket(options: DemoMarketOptions, dir: string): Promise<Record<DemoFile, string>> {
  mkdirSync(dir, { recursive: true });
  const paths: Record<DemoFile, string> = {
    securities: join(dir, 'securities.csv'),
    bars: join(dir, 'bars.csv'),
    statements: join(dir, 'statements.csv'),
    classifications: join(dir, 'classifications.csv'),
  };
  const streams: Record<DemoFile, WriteStream> = {
    securities: createWriteStream(paths.securities),
    bars: createWriteStream(paths.bars),
    statements: createWriteStream(paths.statements),
    classifications: createWriteStream(paths.classifications),
  };
  const pending: Record<DemoFile, string[]> = { securities: [], bars: [], statements: [], classifications: [] };
  const flush = async (file: DemoFile): Promise<void> => {
    const chunk = pending[file].join('');
    pending[file] = [];
    if (!streams[file].write(chunk)) {
      await once(streams[file], 'drain');
    }
  };
  for (const [file, line] of demoMarketLines(options)) {
    pending[file].push(`${line}\n`);
    if (pending[file].length >= 5000) {
      await flush(file);
    }
  }
  for (const file of Object.keys(streams) as DemoFile[]) {
    await flush(file);
    const stream = streams[file];
    stream.end();
    await once(stream, 'finish');
  }
  return paths;
}

/** Loads the files into DATABASE_URL with the import job's loader (one transaction per file). */
export async function loadDemoMarket(paths: Record<DemoFile, string>, databaseUrl: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'backtest-demo-data' });
  await client.connect();
  const report: string[] = [];
  try {
    const kinds = ['securities', 'classifications', 'bars', 'statements'] as const satisfies readonly MarketKind[];
    for (const kind of kinds) {
      if (kind === 'classifications' && statSync(paths[kind]).size <= CLASSIFICATIONS_HEADER.length + 1) {
        continue; // no stock changed market or sector: the optional file has no rows
      }
      const outcome = await loadMarketCsv(client, kind, () => createReadStream(paths[kind]), {
        sizeBytes: statSync(paths[kind]).size,
      });
      if (!outcome.succeeded) {
        throw new Error(`${kind}: ${outcome.errors.map((e) => `line ${e.line}: ${e.message}`).join('; ')}`);
      }
      report.push(
        `${kind}: ${outcome.rowsTotal} rows (${outcome.path}), ${outcome.inserted} inserted, ${outcome.updated} updated, ` +
          `${outcome.unchanged} unchanged (data version ${outcome.dataVersion})`,
      );
    }
  } finally {
    await client.end();
  }
  return report;
}

const USAGE = `usage: node dist/cli/demo-data.js [--stocks 400] [--years 12] [--seed 42] [--start-year 2014]
       [--delistings N] [--out ./demo-data] [--load]
Writes a SYNTHETIC market (securities.csv, bars.csv, statements.csv, classifications.csv in the import formats);
--load also loads it into DATABASE_URL (migrations must have run).`;

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) {
    return fallback;
  }
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    throw new Error(`--${name} must be a whole number`);
  }
  return n;
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      stocks: { type: 'string' },
      years: { type: 'string' },
      seed: { type: 'string' },
      'start-year': { type: 'string' },
      delistings: { type: 'string' },
      out: { type: 'string' },
      load: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const options: DemoMarketOptions = {
    stocks: positiveInt('stocks', values.stocks, 400),
    years: positiveInt('years', values.years, 12),
    seed: positiveInt('seed', values.seed, 42),
    startYear: positiveInt('start-year', values['start-year'], 2014),
    delistings: values.delistings === undefined ? undefined : positiveInt('delistings', values.delistings, 0),
  };
  const out = resolve(values.out ?? 'demo-data');
  const paths = await writeDemoMarket(options, out);
  process.stdout.write(
    `wrote a SYNTHETIC market (${options.stocks} stocks, ${options.years} years, seed ${options.seed}) to ${out}\n`,
  );
  if (values.load) {
    const url = process.env.DATABASE_URL;
    if (!url) {
      throw new Error('--load needs DATABASE_URL');
    }
    for (const line of await loadDemoMarket(paths, url)) {
      process.stdout.write(`loaded ${line}\n`);
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`demo-data: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    process.exit(1);
  });
}
