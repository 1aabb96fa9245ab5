import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { KrxOpenApiProvider, OpenDartProvider, type MarketDataProvider } from '@stocklab/market-providers';
import { Redis } from 'ioredis';
import pg from 'pg';
import { DailyIngest, type CorporateEventsSource, type IngestResult } from '../ingest/daily-ingest.js';
import { isIsoDate } from '../market/market-csv.js';

/** Every calendar day from `from` to `to` (yyyy-mm-dd), inclusive. */
export function daysFrom(from: string, to: string): string[] {
  const days: string[] = [];
  for (let d = new Date(`${from}T00:00:00Z`); d.toISOString().slice(0, 10) <= to; d.setUTCDate(d.getUTCDate() + 1)) {
    days.push(d.toISOString().slice(0, 10));
  }
  return days;
}

/**
 * The backfill: ingests each date from `from` to `to` in order with the daily ingest itself (one
 * transaction per date, a record per run, a date already ingested answered as it was). Stops at
 * the first failed date, so that the data never has a gap behind a later day: run it again from
 * there once the provider is back.
 */
export async function ingestRange(
  deps: {
    pool: pg.Pool;
    provider: MarketDataProvider;
    /** OpenDART: bonus and rights issues and delisting notices, as the daily ingest reads them */
    events?: CorporateEventsSource;
    log?: (line: string) => void;
  },
  from: string,
  to: string,
): Promise<{ results: IngestResult[]; failed: IngestResult | undefined }> {
  if (!isIsoDate(from) || !isIsoDate(to) || from > to) {
    throw new Error(`--from and --to must be dates yyyy-mm-dd, from <= to (got ${from} .. ${to})`);
  }
  const ingest = new DailyIngest({
    pool: deps.pool,
    provider: deps.provider,
    ...(deps.events ? { events: deps.events } : {}),
  });
  const results: IngestResult[] = [];
  for (const date of daysFrom(from, to)) {
    const result = await ingest.ingest(date, { trigger: 'cli' });
    results.push(result);
    deps.log?.(
      `${date}: ${result.status}${result.replayed ? ' (already ingested)' : ''}` +
        (result.status === 'succeeded' ? `, ${result.rows} rows, data version ${result.dataVersion}` : '') +
        (result.error ? `: ${result.error}` : ''),
    );
    if (result.status === 'failed') {
      return { results, failed: result };
    }
  }
  return { results, failed: undefined };
}

const USAGE = `usage: node dist/cli/ingest.js --from yyyy-mm-dd --to yyyy-mm-dd
Ingests every date of the range in order from the KRX Open API into DATABASE_URL (migrations must
have run), as POST /api/backtest/market/ingest does, stopping at the first failed date.
Environment: DATABASE_URL, REDIS_URL (the shared rate limit), REDIS_KEY_PREFIX (as the service's),
KRX_API_KEY, KRX_API_URL, KRX_REQUESTS_PER_SECOND, KRX_RETRY_ATTEMPTS, KRX_RETRY_BASE_MS;
OPENDART_API_KEY (optional: bonus and rights issues and delisting notices), OPENDART_API_URL,
OPENDART_REQUESTS_PER_SECOND.
The market snapshot is not published: the next process to need the new version builds it.`;

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') {
    return fallback;
  }
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`${name} must be a whole number >= 1`);
  }
  return n;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { from: { type: 'string' }, to: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const databaseUrl = process.env.DATABASE_URL;
  const authKey = process.env.KRX_API_KEY;
  if (!values.from || !values.to || !databaseUrl || !authKey) {
    throw new Error('--from, --to, DATABASE_URL and KRX_API_KEY are required');
  }
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
    keyPrefix: process.env.REDIS_KEY_PREFIX ?? '',
  });
  const pool = new pg.Pool({ connectionString: databaseUrl, application_name: 'backtest-ingest', max: 2 });
  try {
    const provider = new KrxOpenApiProvider({
      authKey,
      redis,
      host: process.env.KRX_API_URL || 'https://data-dbg.krx.co.kr',
      perSecond: envInt('KRX_REQUESTS_PER_SECOND', 2),
      // the same quota as the service's replicas: a backfill stops at it rather than get the key suspended
      perDay: envInt('KRX_REQUESTS_PER_DAY', 10_000),
      retry: { attempts: envInt('KRX_RETRY_ATTEMPTS', 5), baseDelayMs: envInt('KRX_RETRY_BASE_MS', 500) },
    });
    const dartKey = process.env.OPENDART_API_KEY;
    const events = dartKey
      ? new OpenDartProvider({
          apiKey: dartKey,
          redis,
          host: process.env.OPENDART_API_URL || 'https://opendart.fss.or.kr',
          perSecond: envInt('OPENDART_REQUESTS_PER_SECOND', 5),
          retry: { attempts: envInt('KRX_RETRY_ATTEMPTS', 5), baseDelayMs: envInt('KRX_RETRY_BASE_MS', 500) },
        })
      : undefined;
    const { failed } = await ingestRange(
      { pool, provider, ...(events ? { events } : {}), log: (line) => process.stdout.write(`${line}\n`) },
      values.from,
      values.to,
    );
    return failed ? 1 : 0;
  } finally {
    await pool.end();
    redis.disconnect();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`ingest: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
      process.exit(2);
    },
  );
}
