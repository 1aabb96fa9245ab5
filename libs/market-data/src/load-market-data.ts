import type { FundamentalStatement, Market, MarketData, StockInfo } from '@stocklab/strategy-engine';
import type { ClientBase } from 'pg';
import { to as copyTo } from 'pg-copy-streams';

/** Benchmarks computed from the loaded market itself: the market-cap-weighted total of each market. */
export const BENCHMARKS = ['KOSPI', 'KOSDAQ', 'MARKET'] as const;
export type BenchmarkId = (typeof BENCHMARKS)[number];

export interface MarketSnapshot {
  /** market.data_version when loaded */
  version: string;
  data: MarketData;
  benchmarks: Record<BenchmarkId, Float64Array>;
  loadedInMs: number;
}

interface StatementRow {
  code: string;
  report_date: string;
  revenue: number;
  operating_income: number;
  net_income: number;
  total_equity: number;
  total_liabilities: number;
  revenue_prev_year: number | null;
}

const FIELDS = ['open', 'high', 'low', 'close', 'volume', 'tradingValue', 'marketCap'] as const;
type PriceArrays = Record<(typeof FIELDS)[number], Float64Array>;

/** Shared memory, so worker threads can read the arrays without a copy. */
function sharedFloat64(length: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(length * Float64Array.BYTES_PER_ELEMENT)).fill(Number.NaN);
}

const yyyymmdd = (isoDate: string): number => Number(isoDate.slice(0, 4) + isoDate.slice(5, 7) + isoDate.slice(8, 10));

export async function currentDataVersion(client: Pick<ClientBase, 'query'>): Promise<string> {
  const { rows } = await client.query<{ version: string }>(
    `SELECT version::text AS version FROM market.data_version WHERE id = 1`,
  );
  return rows[0]?.version ?? '0';
}

/**
 * Reads the whole `market` schema in one REPEATABLE READ transaction on `client` (a dedicated
 * connection) into the engine's layout: bars through COPY, straight into typed arrays.
 */
export async function loadMarketSnapshot(client: ClientBase): Promise<MarketSnapshot> {
  const started = performance.now();
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    const version = await currentDataVersion(client);
    const securities = (
      await client.query<{ code: string; market: Market; sector: string }>(
        `SELECT code, market, sector FROM market.securities ORDER BY code`,
      )
    ).rows;
    const days = (
      await client.query<{ d: string }>(`SELECT to_char(date, 'YYYYMMDD') AS d FROM market.trading_days ORDER BY date`)
    ).rows;
    const codes = securities.map((s) => s.code);
    const stocks: StockInfo[] = securities.map((s) => ({ market: s.market, sector: s.sector }));
    const stockIndex = new Map(codes.map((c, i) => [c, i]));
    const dates = Int32Array.from(days.map((d) => Number(d.d)));
    const dayIndex = new Map<number, number>();
    dates.forEach((d, i) => dayIndex.set(d, i));
    const S = codes.length;
    const arrays = Object.fromEntries(FIELDS.map((f) => [f, sharedFloat64(dates.length * S)])) as PriceArrays;
    await copyBars(client, stockIndex, dayIndex, S, arrays);
    const statements = (
      await client.query<StatementRow>(
        `SELECT s.code, to_char(s.report_date, 'YYYY-MM-DD') AS report_date, s.revenue, s.operating_income, s.net_income,
                s.total_equity, s.total_liabilities, p.revenue AS revenue_prev_year
           FROM market.financial_statements s
           LEFT JOIN market.financial_statements p
             ON p.code = s.code AND p.fiscal_period = (left(s.fiscal_period, 4)::int - 1)::text || right(s.fiscal_period, 2)
          ORDER BY s.code, s.report_date, s.fiscal_period`,
      )
    ).rows;
    await client.query('COMMIT');
    const fundamentals: FundamentalStatement[][] = codes.map(() => []);
    for (const st of statements) {
      const s = stockIndex.get(st.code);
      if (s !== undefined) {
        fundamentals[s]?.push({
          reportDate: yyyymmdd(st.report_date),
          revenue: st.revenue,
          operatingIncome: st.operating_income,
          netIncome: st.net_income,
          equity: st.total_equity,
          liabilities: st.total_liabilities,
          revenuePrevYear: st.revenue_prev_year ?? Number.NaN,
        });
      }
    }
    const data: MarketData = { dates, codes, stocks, ...arrays, fundamentals };
    return {
      version,
      data,
      benchmarks: {
        KOSPI: capWeightedIndex(data, (s) => s.market === 'KOSPI'),
        KOSDAQ: capWeightedIndex(data, (s) => s.market === 'KOSDAQ'),
        MARKET: capWeightedIndex(data, () => true),
      },
      loadedInMs: Math.round(performance.now() - started),
    };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

async function copyBars(
  client: ClientBase,
  stockIndex: Map<string, number>,
  dayIndex: Map<number, number>,
  S: number,
  arrays: PriceArrays,
): Promise<void> {
  const stream = client.query(
    copyTo(
      `COPY (SELECT code, to_char(date, 'YYYYMMDD'), open, high, low, close, volume, trading_value, market_cap FROM market.daily_bars) TO STDOUT`,
    ),
  );
  const { open, high, low, close, volume, tradingValue, marketCap } = arrays;
  let rest = '';
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const lines = (rest + chunk.toString('latin1')).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      const f = line.split('\t');
      const s = stockIndex.get(f[0]);
      const d = dayIndex.get(Number(f[1]));
      if (s === undefined || d === undefined) {
        continue;
      }
      const i = d * S + s;
      open[i] = Number(f[2]);
      high[i] = Number(f[3]);
      low[i] = Number(f[4]);
      close[i] = Number(f[5]);
      volume[i] = Number(f[6]);
      tradingValue[i] = Number(f[7]);
      marketCap[i] = Number(f[8]);
    }
  }
}

/**
 * A market-cap-weighted total index (base 1000) of the stocks `include` selects: each day's
 * return is the cap-weighted mean of its members' close-to-close returns, weighted by the
 * previous day's market cap. Computed from the data the strategies trade, never random.
 */
export function capWeightedIndex(data: MarketData, include: (stock: StockInfo) => boolean): Float64Array {
  const D = data.dates.length;
  const S = data.codes.length;
  const members = data.stocks.map(include);
  const index = new Float64Array(D);
  let level = 1000;
  for (let d = 0; d < D; d++) {
    if (d > 0) {
      let weighted = 0;
      let weights = 0;
      const prev = (d - 1) * S;
      const cur = d * S;
      for (let s = 0; s < S; s++) {
        const w = data.marketCap[prev + s];
        const c0 = data.close[prev + s];
        const c1 = data.close[cur + s];
        if (members[s] && w > 0 && c0 > 0 && c1 > 0) {
          weighted += w * (c1 / c0 - 1);
          weights += w;
        }
      }
      if (weights > 0) {
        level *= 1 + weighted / weights;
      }
    }
    index[d] = level;
  }
  return index;
}
