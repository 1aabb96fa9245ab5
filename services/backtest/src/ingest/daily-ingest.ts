import { Readable } from 'node:stream';
import {
  ProviderError,
  ProviderUnavailable,
  isDelistingNotice,
  type CorpCode,
  type DailyBar,
  type Filing,
  type Market,
  type MarketDataProvider,
  type MarketDay,
  type ShareIssue,
} from '@stocklab/market-providers';
import type pg from 'pg';
import { CSV_FORMATS, fullHeader, isIsoDate, SHARE_EVENT_TOLERANCE, type MarketKind } from '../market/market-csv.js';
import { loadMarketCsv, type LoadOutcome } from '../market/market-loader.js';

/** The markets the daily ingest asks for: all three KRX stock markets (market.securities admits them). */
export const INGEST_MARKETS: readonly Market[] = ['KOSPI', 'KOSDAQ', 'KONEX'];

/**
 * The sector of a security first seen in the daily data: KRX's daily trading data has no industry
 * (its `SECT_TP_NM` is the KOSDAQ "소속부" division, "-" on KOSPI), so a new listing gets this
 * placeholder until an administrator's securities CSV sets the real one (the ingest never
 * overwrites a sector).
 */
export const UNCLASSIFIED_SECTOR = 'Unclassified';

/**
 * KRX's daily price limit (±30 % of the base price since 2015-06-15; KONEX's ±15 % is inside it): a close
 * further than this from the previous close means the base price was adjusted (an event).
 */
const FALLBACK_MAX_MOVE = 0.3;
/** How long the ingest keeps OpenDART's company codes (corpCode.xml) before reading them again. */
export const CORP_CODES_TTL_MS = 12 * 3600_000;

/** pg_advisory_lock(INGEST_LOCK_CLASS, yyyymmdd): one ingest of a date at a time, across replicas. */
export const INGEST_LOCK_CLASS = 73_055_120;

export type IngestStatus = 'running' | 'succeeded' | 'no_trading' | 'failed';

/** What the provider said about the day, kept with the run. */
export interface IngestDetails {
  /** rows per market as the provider answered them */
  counts?: Partial<Record<Market, number>>;
  /** codes never seen before: loaded as new securities, listed on this date */
  listed?: string[];
  /**
   * codes with a bar on the previous trading day and none on this one (in a market whose list
   * today is not empty). KRX's daily data has no delisting flag (a delisted stock just stops
   * appearing, as would one whose row is missing): only those under `delisted` got a delisting date
   */
  disappeared?: string[];
  /**
   * disappeared codes whose company filed a delisting notice on OpenDART (isDelistingNotice, the
   * DELISTING_NOTICE_LOOKBACK_DAYS up to this date): market.securities.delisted_on set to this
   * date, the first trading day without the stock (an administrator's date is left as it is)
   */
  delisted?: Array<{ code: string; delistedOn: string; receiptNo: string; reportName: string }>;
  /** securities whose market changed (the provider's MKT_NM differs from market.securities) */
  transferred?: Array<{ code: string; from: string; to: string }>;
  /** rows without a trade (halted or no match): stored as a flat bar at the carried close, volume 0 */
  untraded?: string[];
  /**
   * corporate actions derived from the day's base prices and listed shares (derivedCorporateAction),
   * loaded as market.corporate_actions rows (an event an administrator already recorded for the
   * code and date is left as it is)
   */
  corporateActions?: Array<{
    code: string;
    kind: string;
    priceFactor: number;
    shareRatio: number;
    /** bonus and rights issues: the OpenDART filing (rcept_no) that dates and sizes the event */
    receiptNo?: string;
  }>;
  /**
   * base prices that differ from the previous close without a matching change of listed shares
   * and without an OpenDART share issue whose ex-rights day this is (exRightsAction; none asked
   * when OpenDART is not configured): a merger, a capital reduction, an issue not filed where
   * the ingest looks... Not turned into events (the daily data cannot tell which): record them
   * with a corporate_actions CSV
   */
  basePriceChanges?: Array<{
    code: string;
    previousClose: number;
    basePrice: number;
    sharesBefore: number;
    sharesAfter: number;
  }>;
  /**
   * The day came from the per-stock fallback (the broker's daily chart) because the provider was
   * unavailable on a day the caller's calendar says traded: why, the stocks asked for (the previous
   * trading day's) and those without a bar in the chart (no bar stored: a halt to the engine).
   * Listed shares are the previous day's; new listings and market transfers are not seen.
   */
  fallback?: { provider: string; reason: string; asked: number; absent: string[] };
  /** bars rows inserted/updated/unchanged by the load */
  inserted?: number;
  updated?: number;
  unchanged?: number;
  /** the import rules refused the day's files (never expected: the ingest writes them itself) */
  errors?: Array<{ file: string; line: number; message: string }>;
}

export interface IngestRun {
  /** yyyy-mm-dd */
  date: string;
  attempt: number;
  status: IngestStatus;
  provider: string;
  trigger: string;
  rows: number | null;
  dataVersion: string | null;
  changed: boolean | null;
  error: string | null;
  details: IngestDetails;
  startedAt: string;
  finishedAt: string | null;
}

export interface IngestResult extends IngestRun {
  /** true: the date had already been ingested by an earlier run, which this answers; nothing was done */
  replayed: boolean;
}

export interface IngestOptions {
  /** what asked: `api`, `cli` (kept with the run) */
  trigger: string;
  /**
   * The caller's calendar (the trading service's KRX calendar) says the date is a trading day: an
   * empty answer is then "not published yet" (a failed run, to retry), not "no trading".
   */
  tradingDay?: boolean;
  signal?: AbortSignal;
}

/** A provider asked stock by stock for one day (the broker's chart: KiwoomDailyChartProvider). */
export interface PerStockDailyProvider {
  readonly name: string;
  dailyBarsOf(
    date: string,
    universe: ReadonlyArray<{ code: string; market: Market }>,
    options?: { signal?: AbortSignal },
  ): Promise<MarketDay>;
}

/**
 * What the ingest reads from OpenDART (OpenDartProvider): company codes, share issues (for the
 * ex-rights days of bonus and rights issues) and the disclosure search (delisting notices).
 */
export interface CorporateEventsSource {
  readonly name: string;
  corpCodes(options?: { signal?: AbortSignal }): Promise<CorpCode[]>;
  shareIssues(corpCode: string, from: string, to: string, options?: { signal?: AbortSignal }): Promise<ShareIssue[]>;
  filings(from: string, to: string, options?: { corpCode?: string; signal?: AbortSignal }): Promise<Filing[]>;
}

/**
 * The delisting notice that confirms a disappearance, or null: the latest filing whose title
 * announces a delisting decided or under way (isDelistingNotice: 상장폐지결정, 상장폐지(…),
 * 정리매매…; not the warnings before a decision), received on or before the day.
 */
export function delistingNotice(filings: readonly Filing[], date: string): Filing | null {
  const notices = filings
    .filter((f) => f.receiptDate <= ymd(date) && isDelistingNotice(f.reportName))
    .sort((a, b) => b.receiptNo.localeCompare(a.receiptNo));
  return notices[0] ?? null;
}

/**
 * How far back the ingest looks for the delisting notice of a stock that disappeared: a decision
 * precedes the liquidation trading (정리매매) and the delisting by weeks, or by months when it is
 * contested in court.
 */
export const DELISTING_NOTICE_LOOKBACK_DAYS = 365;

/** How far back the ingest looks for the filing of a share issue: a decision precedes its record date by weeks. */
export const SHARE_ISSUE_LOOKBACK_DAYS = 400;

export interface DailyIngestDeps {
  pool: pg.Pool;
  provider: MarketDataProvider;
  /**
   * Asked when `provider` is unavailable (an outage past its retries, or the day not published)
   * on a day the caller's calendar says traded; absent: such a day's run fails, to be retried.
   */
  fallback?: PerStockDailyProvider;
  /**
   * OpenDART (when OPENDART_API_KEY is set): a base price change without a share change is
   * matched against the company's bonus and rights issues. Absent: such changes are only listed.
   */
  events?: CorporateEventsSource;
  /** after a load that made a new data version: publish the market snapshot (best effort) */
  onNewVersion?: (dataVersion: number) => Promise<void>;
  log?: (message: string) => void;
}

interface RunRow {
  date: string;
  attempt: number;
  status: IngestStatus;
  provider: string;
  trigger: string;
  rows: number | null;
  data_version: string | null;
  changed: boolean | null;
  error: string | null;
  details: IngestDetails;
  started_at: Date;
  finished_at: Date | null;
}

const RUN_COLUMNS = `to_char(date, 'YYYY-MM-DD') AS date, attempt, status, provider, trigger, rows,
  data_version::text AS data_version, changed, error, details, started_at, finished_at`;

export function toIngestRun(r: RunRow): IngestRun {
  return {
    date: r.date,
    attempt: r.attempt,
    status: r.status,
    provider: r.provider,
    trigger: r.trigger,
    rows: r.rows,
    dataVersion: r.data_version,
    changed: r.changed,
    error: r.error,
    details: r.details,
    startedAt: r.started_at.toISOString(),
    finishedAt: r.finished_at?.toISOString() ?? null,
  };
}

/** The newest run of any date (what the status page shows), or null. */
export async function lastIngestRun(query: pg.ClientBase | pg.Pool): Promise<IngestRun | null> {
  const { rows } = await query.query<RunRow>(
    `SELECT ${RUN_COLUMNS} FROM market.ingest_runs ORDER BY started_at DESC, id DESC LIMIT 1`,
  );
  return rows[0] ? toIngestRun(rows[0]) : null;
}

/** A load the import rules refused: the day's transaction is rolled back, the run recorded failed. */
class DayRefused extends Error {
  constructor(readonly errors: NonNullable<IngestDetails['errors']>) {
    super(
      `the day's data failed the import rules: ${errors
        .slice(0, 3)
        .map((e) => `${e.file} line ${e.line}: ${e.message}`)
        .join('; ')}`,
    );
  }
}

const ymd = (iso: string): string => iso.replaceAll('-', '');

/** A CSV field: quoted when it holds a comma, quote or line break. */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** A number as the CSV formats write it: plain digits, never an exponent. */
function csvNumber(n: number): string {
  if (!Number.isFinite(n)) {
    throw new Error(`not a finite number: ${n}`);
  }
  return Number.isInteger(n) ? BigInt(n).toString() : String(n);
}

/** A KRX row as a bars CSV line: an untraded row (open/high/low 0) becomes a flat bar at its close. */
export function barLine(bar: DailyBar, isoDate: string): string {
  const flat = bar.open <= 0 || bar.high <= 0 || bar.low <= 0;
  const [open, high, low] = flat ? [bar.close, bar.close, bar.close] : [bar.open, bar.high, bar.low];
  const shares = bar.listedShares;
  if (shares === null) {
    throw new DayRefused([{ file: 'bars', line: 0, message: `${bar.code} has no listed shares` }]);
  }
  const cap = bar.marketCap ?? bar.close * shares;
  return [
    bar.code,
    isoDate,
    csvNumber(open),
    csvNumber(high),
    csvNumber(low),
    csvNumber(bar.close),
    csvNumber(bar.volume),
    csvNumber(bar.tradingValue),
    csvNumber(cap),
    csvNumber(shares),
  ].join(',');
}

/** A split or reverse split the daily data shows (see derivedCorporateAction). */
export interface DerivedCorporateAction {
  kind: 'split' | 'reverse_split';
  priceFactor: number;
  shareRatio: number;
}

/**
 * What one stock's day says about a corporate action, from KRX's daily data alone
 * (libs/market-providers REFERENCE.md §1.7): the base price (close - CMPPREVDD_PRC) is the previous
 * close unless the exchange adjusted it for an event. When it differs and the listed shares changed
 * by a ratio within SHARE_EVENT_TOLERANCE (1 %) of previous close / base price, the day is the
 * first of the new shares of a split (ratio > 1) or reverse split (< 1): priceFactor = previous
 * close / base price, shareRatio = listed shares / the previous day's. A differing base price
 * without such a share change is 'unexplained' (an ex-rights day of a bonus or rights issue, whose
 * new shares list later; a merger); an equal one, or a day without a base price or an earlier
 * bar, is null. A split and a bonus issue whose new shares list on the ex-date look the same in
 * this data (both adjust the same way); the derivation calls them splits.
 */
export function derivedCorporateAction(
  previous: { close: number; shares: number },
  day: { basePrice?: number | null; listedShares: number | null },
): DerivedCorporateAction | 'unexplained' | null {
  const base = day.basePrice;
  if (base === null || base === undefined || !(base > 0) || !(previous.close > 0) || base === previous.close) {
    return null;
  }
  const shares = day.listedShares;
  if (shares === null || !(shares > 0) || !(previous.shares > 0) || shares === previous.shares) {
    return 'unexplained';
  }
  const priceFactor = previous.close / base;
  const shareRatio = shares / previous.shares;
  if (Math.abs(priceFactor / shareRatio - 1) > SHARE_EVENT_TOLERANCE) {
    return 'unexplained';
  }
  return { kind: shareRatio > 1 ? 'split' : 'reverse_split', priceFactor, shareRatio };
}

/** `days` calendar days before an ISO date, yyyymmdd. */
function ymdDaysBefore(isoDate: string, days: number): string {
  const d = new Date(`${isoDate}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - days);
  return d.toISOString().slice(0, 10).replaceAll('-', '');
}

/**
 * Whether a trading date (yyyy-mm-dd) is the ex-rights day (권리락) of a record date (yyyymmdd):
 * the trading day before it under T+2 settlement (REFERENCE.md §1.7). The ingest of the ex-rights
 * day runs before the record date is traded, so "the trading day before" is read conservatively:
 * the date is before the record date and every day between them is a Saturday or Sunday. A KRX
 * holiday in between makes it false (the change stays listed for an administrator), never a
 * wrong date.
 */
export function isExRightsDay(date: string, recordDate: string): boolean {
  const day = (ymdText: string) =>
    Date.UTC(Number(ymdText.slice(0, 4)), Number(ymdText.slice(4, 6)) - 1, Number(ymdText.slice(6, 8)));
  const from = day(ymd(date));
  const to = day(recordDate);
  if (!(to > from)) {
    return false;
  }
  for (let t = from + 86_400_000; t < to; t += 86_400_000) {
    const weekday = new Date(t).getUTCDay();
    if (weekday !== 0 && weekday !== 6) {
      return false;
    }
  }
  return true;
}

/** A bonus or rights issue whose ex-rights day a stock's day is (see exRightsAction). */
export interface ExRightsAction {
  kind: 'bonus_issue' | 'rights_issue';
  priceFactor: number;
  shareRatio: number;
  receiptNo: string;
}

/**
 * The bonus or rights issue that explains a base price off the previous close on `date`, from the
 * company's filings (OpenDART, REFERENCE.md §2.7), or null:
 * - candidates are the filings received up to `date` whose record date has `date` as its
 *   ex-rights day (isExRightsDay);
 * - a bonus issue of r new shares per share: KRX's base is the previous close / (1 + r) on the
 *   tick grid, so previous close / base must be within SHARE_EVENT_TOLERANCE (1 %) of 1 + r:
 *   priceFactor = previous close / base (KRX's own adjusted base), shareRatio = 1 + r;
 * - a rights issue to the shareholders: the base is below the previous close (an issue priced
 *   under the market dilutes): priceFactor = previous close / base, shareRatio = 1 (the engine
 *   does not subscribe);
 * - anything else (no candidate, a bonus issue whose ratio the base contradicts, a bonus and a
 *   rights issue on one record date whose combined base this cannot check) is null: the change
 *   stays listed, never guessed.
 */
export function exRightsAction(
  date: string,
  previousClose: number,
  basePrice: number,
  issues: readonly ShareIssue[],
): ExRightsAction | null {
  if (!(previousClose > 0) || !(basePrice > 0) || basePrice === previousClose) {
    return null;
  }
  const candidates = issues.filter(
    (i) => i.recordDate !== null && i.receiptDate <= ymd(date) && isExRightsDay(date, i.recordDate),
  );
  const bonus = candidates.filter((i) => i.kind === 'bonus');
  const rights = candidates.filter((i) => i.kind === 'rights');
  const priceFactor = previousClose / basePrice;
  if (bonus.length > 0) {
    const fits = bonus.filter(
      (i) => i.sharesPerShare !== null && Math.abs(priceFactor / (1 + i.sharesPerShare) - 1) <= SHARE_EVENT_TOLERANCE,
    );
    const match = fits[0];
    if (rights.length > 0 || !match || fits.some((f) => f.sharesPerShare !== match.sharesPerShare)) {
      return null;
    }
    return {
      kind: 'bonus_issue',
      priceFactor,
      shareRatio: 1 + (match.sharesPerShare as number),
      receiptNo: match.receiptNo,
    };
  }
  const offer = rights[0];
  if (!offer || !(basePrice < previousClose)) {
    return null;
  }
  return { kind: 'rights_issue', priceFactor, shareRatio: 1, receiptNo: offer.receiptNo };
}

interface SecurityRow {
  code: string;
  name: string;
  market: string;
  sector: string;
  listed_on: string;
  delisted_on: string | null;
  synthetic: boolean;
}

/** The day's files (securities and corporate actions only when there are some) and what they mean. */
interface DayPlan {
  securities: string | null;
  /** point-in-time market rows of the day's market transfers */
  classifications: string | null;
  bars: string;
  corporateActions: string | null;
  details: IngestDetails;
}

const CORPORATE_ACTIONS_HEADER = CSV_FORMATS.corporate_actions.columns.join(',');
const CLASSIFICATIONS_HEADER = CSV_FORMATS.classifications.columns.join(',');

/**
 * The daily market ingest: one trading date from the market-data provider (KRX), turned into the
 * import formats (CSV_FORMATS.md) and loaded through the import path (loadMarketCsv), the day's
 * securities and bars in ONE transaction: all of the day or nothing, a new data version only when
 * something changed. Every attempt is a row of market.ingest_runs; a date is ingested by one
 * process at a time (an advisory lock on the date, released with the connection if the process
 * dies) and once (a succeeded run is final: a later trigger answers it, `replayed`).
 */
export class DailyIngest {
  /** OpenDART's company codes by stock code, read once and kept for CORP_CODES_TTL_MS */
  private corpCodes: { at: number; byStock: Map<string, string> } | undefined;

  constructor(private readonly deps: DailyIngestDeps) {}

  async ingest(date: string, options: IngestOptions): Promise<IngestResult> {
    if (!isIsoDate(date)) {
      throw new Error(`not a date yyyy-mm-dd: ${JSON.stringify(date)}`);
    }
    const client = await this.deps.pool.connect();
    let locked = false;
    try {
      // concurrent triggers of the date queue here; whoever comes second finds the run done
      await client.query('SELECT pg_advisory_lock($1, $2)', [INGEST_LOCK_CLASS, Number(ymd(date))]);
      locked = true;
      const done = await client.query<RunRow>(
        `SELECT ${RUN_COLUMNS} FROM market.ingest_runs WHERE date = $1 AND status = 'succeeded'`,
        [date],
      );
      if (done.rows[0]) {
        return { ...toIngestRun(done.rows[0]), replayed: true };
      }
      // a run left running by a process that died mid-ingest (its lock went with its connection;
      // its transaction, if it had begun loading, rolled back)
      await client.query(
        `UPDATE market.ingest_runs SET status = 'failed', finished_at = now(),
                error = 'interrupted: the process running it stopped before it finished'
          WHERE date = $1 AND status = 'running'`,
        [date],
      );
      const claimed = await client.query<{ id: string }>(
        `INSERT INTO market.ingest_runs (date, attempt, status, provider, trigger)
         VALUES ($1, (SELECT coalesce(max(attempt), 0) + 1 FROM market.ingest_runs WHERE date = $1), 'running', $2, $3)
         RETURNING id`,
        [date, this.deps.provider.name, options.trigger],
      );
      const runId = claimed.rows[0]?.id ?? '';
      const result = await this.run(client, runId, date, options);
      return { ...result, replayed: false };
    } finally {
      if (locked) {
        await client.query('SELECT pg_advisory_unlock($1, $2)', [INGEST_LOCK_CLASS, Number(ymd(date))]).catch(() => {
          // a broken connection released the lock with itself
        });
      }
      client.release();
    }
  }

  private async run(client: pg.PoolClient, runId: string, date: string, options: IngestOptions): Promise<IngestRun> {
    let day: MarketDay;
    let fallbackDetails: IngestDetails['fallback'];
    try {
      const expectedRows = await this.previousDayRows(client, date);
      day = await this.deps.provider.dailyBars(ymd(date), {
        markets: INGEST_MARKETS,
        expectedRows,
        ...(options.tradingDay ? { tradingDay: true } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (error) {
      const fallback = this.deps.fallback;
      if (error instanceof ProviderUnavailable && fallback && options.tradingDay) {
        this.deps.log?.(`ingest ${date}: ${error.message}; asking ${fallback.name} stock by stock`);
        try {
          ({ day, details: fallbackDetails } = await this.fromFallback(
            client,
            runId,
            fallback,
            date,
            `${error.name}: ${error.message}`,
            options,
          ));
        } catch (fallbackError) {
          if (fallbackError instanceof ProviderError) {
            const both = `${error.name}: ${error.message}; fallback ${fallbackError.name}: ${fallbackError.message}`;
            this.deps.log?.(`ingest ${date}: failed, ${both}`);
            return this.finish(client, runId, 'failed', { error: both });
          }
          await this.finish(client, runId, 'failed', { error: String(fallbackError) }).catch(() => undefined);
          throw fallbackError;
        }
      } else if (error instanceof ProviderError) {
        this.deps.log?.(`ingest ${date}: failed, ${error.name}: ${error.message}`);
        return this.finish(client, runId, 'failed', { error: `${error.name}: ${error.message}` });
      } else {
        await this.finish(client, runId, 'failed', { error: String(error) }).catch(() => undefined);
        throw error;
      }
    }
    if (!day.trading) {
      this.deps.log?.(`ingest ${date}: no trading`);
      return this.finish(client, runId, 'no_trading', { rows: 0, details: { counts: day.counts } });
    }

    let outcome: { bars: LoadOutcome; dataVersion: number; changed: boolean; details: IngestDetails };
    try {
      const plan = await this.plan(client, date, day, fallbackDetails);
      await client.query('BEGIN');
      try {
        outcome = await this.load(client, plan);
        // the run reads succeeded in the same transaction as its data: both or neither
        const finished = await this.finish(client, runId, 'succeeded', {
          rows: day.bars.length,
          dataVersion: outcome.dataVersion,
          changed: outcome.changed,
          details: outcome.details,
        });
        await client.query('COMMIT');
        this.deps.log?.(
          `ingest ${date}: ${day.bars.length} rows, ${outcome.bars.inserted} inserted, ${outcome.bars.updated} updated, ` +
            `data version ${outcome.dataVersion}${outcome.changed ? '' : ' (unchanged)'}`,
        );
        if (finished.changed && this.deps.onNewVersion) {
          await this.deps.onNewVersion(outcome.dataVersion).catch(() => undefined);
        }
        return finished;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    } catch (error) {
      if (error instanceof ProviderError) {
        this.deps.log?.(`ingest ${date}: failed, ${error.name}: ${error.message}`);
        return this.finish(client, runId, 'failed', {
          rows: day.bars.length,
          error: `${error.name}: ${error.message}`,
          details: { counts: day.counts },
        });
      }
      if (error instanceof DayRefused) {
        return this.finish(client, runId, 'failed', {
          rows: day.bars.length,
          error: error.message,
          details: { counts: day.counts, errors: error.errors },
        });
      }
      await this.finish(client, runId, 'failed', { error: String(error) }).catch(() => undefined);
      throw error;
    }
  }

  private async load(
    client: pg.PoolClient,
    plan: DayPlan,
  ): Promise<{ bars: LoadOutcome; dataVersion: number; changed: boolean; details: IngestDetails }> {
    // each file through the import path in the day's transaction; a refused one refuses the day
    const loaded = async (kind: MarketKind, text: string): Promise<LoadOutcome> => {
      const outcome = await loadMarketCsv(client, kind, () => Readable.from([text]), { transaction: 'caller' });
      if (!outcome.succeeded) {
        throw new DayRefused(outcome.errors.map((e) => ({ file: kind, line: e.line, message: e.message })));
      }
      return outcome;
    };
    const securitiesChanged = plan.securities !== null && (await loaded('securities', plan.securities)).changed;
    const classified = plan.classifications !== null && (await loaded('classifications', plan.classifications)).changed;
    const bars = await loaded('bars', plan.bars);
    // after the bars: a version with new events is not a plain append (extending readers reload it whole)
    const actions = plan.corporateActions === null ? null : await loaded('corporate_actions', plan.corporateActions);
    const actionsChanged = actions?.changed ?? false;
    const dataVersion = actions?.dataVersion ?? bars.dataVersion; // the day's last version
    return {
      bars,
      dataVersion,
      changed: securitiesChanged || classified || bars.changed || actionsChanged,
      details: { ...plan.details, inserted: bars.inserted, updated: bars.updated, unchanged: bars.unchanged },
    };
  }

  /**
   * A market transfer seen in the provider's data, kept point in time (market.security_classifications):
   * the new market from this date on, and, for a stock without a history yet, its old market from
   * its listing, so that days before the transfer keep the market they traded in. The sector goes
   * on as it was on the day before.
   */
  private async transferHistory(
    client: pg.ClientBase,
    date: string,
    transferred: NonNullable<IngestDetails['transferred']>,
    byCode: ReadonlyMap<string, SecurityRow>,
  ): Promise<string[]> {
    if (transferred.length === 0) {
      return [];
    }
    const codes = transferred.map((t) => t.code);
    const { rows } = await client.query<{ code: string; sector: string | null; rows: string }>(
      `SELECT code, (array_agg(sector ORDER BY valid_from DESC) FILTER (WHERE valid_from < $2::date))[1] AS sector,
              count(*)::text AS rows
         FROM market.security_classifications WHERE code = ANY($1::text[]) GROUP BY code`,
      [codes, date],
    );
    const history = new Map(rows.map((r) => [r.code, r]));
    const lines: string[] = [];
    for (const t of transferred) {
      const security = byCode.get(t.code);
      if (!security) {
        continue;
      }
      const known = history.get(t.code);
      const sector = known?.sector ?? security.sector;
      if (!known && security.listed_on < date) {
        lines.push([t.code, security.listed_on, t.from, csvField(security.sector)].join(','));
      }
      lines.push([t.code, date, t.to, csvField(sector)].join(','));
    }
    return lines;
  }

  /**
   * The day from the per-stock fallback: every KOSPI/KOSDAQ/KONEX stock with a bar on the previous trading
   * day (and not delisted by `date`) asked for `date`. The chart has no listed shares or market cap:
   * the previous day's listed shares carry over (market cap = close x them), which is right except
   * on an event's day. So a day on which any stock's base price differs from its previous close, or
   * a close is beyond KRX's ±30 % of it (only an adjusted base allows that), is not taken from the
   * fallback at all (ProviderUnavailable: the run fails and waits for KRX), rather than stored
   * without its event or without the stock. A stock without a row is absent (no bar: the
   * engine's halt). The run's provider becomes the fallback's. Nothing traded at all on a trading
   * day is ProviderUnavailable too (the chart not there yet either), never "no trading".
   */
  private async fromFallback(
    client: pg.ClientBase,
    runId: string,
    fallback: PerStockDailyProvider,
    date: string,
    reason: string,
    options: IngestOptions,
  ): Promise<{ day: MarketDay; details: NonNullable<IngestDetails['fallback']> }> {
    const { rows: roster } = await client.query<{ code: string; market: Market; close: number; shares: string }>(
      `SELECT b.code, s.market, b.close, b.shares_outstanding::text AS shares
         FROM market.daily_bars b JOIN market.securities s USING (code)
        WHERE b.date = (SELECT max(date) FROM market.trading_days WHERE date < $1::date)
          AND s.market = ANY($2::text[]) AND (s.delisted_on IS NULL OR s.delisted_on > $1::date)
        ORDER BY b.code`,
      [date, [...INGEST_MARKETS]],
    );
    if (roster.length === 0) {
      throw new ProviderUnavailable(fallback.name, 'no earlier trading day to take the stocks to ask for from');
    }
    await client.query(`UPDATE market.ingest_runs SET provider = $2 WHERE id = $1`, [runId, fallback.name]);
    const day = await fallback.dailyBarsOf(ymd(date), roster, options.signal ? { signal: options.signal } : {});
    if (!day.trading) {
      throw new ProviderUnavailable(fallback.name, `no stock has a bar on ${date}, a trading day: not there yet`);
    }
    const previous = new Map(roster.map((r) => [r.code, r]));
    const moved: string[] = [];
    const bars: DailyBar[] = [];
    for (const bar of day.bars) {
      const prior = previous.get(bar.code);
      if (!prior) {
        continue;
      }
      const baseMoved = bar.basePrice !== null && bar.basePrice !== undefined && bar.basePrice !== prior.close;
      if (baseMoved || Math.abs(bar.close / prior.close - 1) > FALLBACK_MAX_MOVE) {
        moved.push(bar.code);
      }
      bars.push({ ...bar, basePrice: null, listedShares: Number(prior.shares), marketCap: null });
    }
    if (moved.length > 0) {
      throw new ProviderUnavailable(
        fallback.name,
        `the base price of ${moved.join(', ')} moved on ${date}: an event whose listed shares only KRX gives, so the day waits for KRX`,
      );
    }
    const details = { provider: fallback.name, reason, asked: roster.length, absent: day.absent };
    const counts: Partial<Record<Market, number>> = {};
    for (const bar of bars) {
      counts[bar.market] = (counts[bar.market] ?? 0) + 1;
    }
    return { day: { ...day, bars, counts }, details };
  }

  /** Rows per market on the last trading day before `date`: the provider's check of a partial answer. */
  private async previousDayRows(client: pg.ClientBase, date: string): Promise<Partial<Record<Market, number>>> {
    const { rows } = await client.query<{ market: Market; n: string }>(
      `SELECT s.market, count(*) AS n FROM market.daily_bars b JOIN market.securities s USING (code)
        WHERE b.date = (SELECT max(date) FROM market.trading_days WHERE date < $1::date)
        GROUP BY s.market`,
      [date],
    );
    return Object.fromEntries(rows.map((r) => [r.market, Number(r.n)]));
  }

  /**
   * The day as the import files: every bar; securities for codes never seen (listed on this date,
   * named as KRX names them, sector UNCLASSIFIED_SECTOR), for a market transfer (the provider's
   * market wins, the old one kept until the day before: transferHistory) and for a stock seen trading before its recorded listing date (listed_on moves
   * back to it, so that the order dates are ingested in does not matter), and for a stock that
   * disappeared with a delisting notice on OpenDART (delistings: delisted_on = this date). Names,
   * sectors and delisting dates already set are left as they are.
   */
  private async plan(
    client: pg.ClientBase,
    date: string,
    day: MarketDay,
    fallbackDetails?: IngestDetails['fallback'],
  ): Promise<DayPlan> {
    const codes = day.bars.map((b) => b.code);
    const known = await client.query<SecurityRow>(
      `SELECT code, name, market, sector, to_char(listed_on, 'YYYY-MM-DD') AS listed_on,
              to_char(delisted_on, 'YYYY-MM-DD') AS delisted_on, synthetic
         FROM market.securities WHERE code = ANY($1::text[])`,
      [codes],
    );
    const byCode = new Map(known.rows.map((r) => [r.code, r]));
    const securityLines: string[] = [];
    const listed: string[] = [];
    const transferred: NonNullable<IngestDetails['transferred']> = [];
    for (const bar of day.bars) {
      const existing = byCode.get(bar.code);
      if (!existing) {
        listed.push(bar.code);
        const name = bar.name?.trim() || bar.code;
        securityLines.push(
          [bar.code, csvField(name), bar.market, csvField(UNCLASSIFIED_SECTOR), date, '', 'false'].join(','),
        );
        continue;
      }
      const marketMoved = existing.market !== bar.market;
      const listedEarlier = existing.listed_on > date;
      if (marketMoved) {
        transferred.push({ code: bar.code, from: existing.market, to: bar.market });
      }
      if (marketMoved || listedEarlier) {
        securityLines.push(
          [
            existing.code,
            csvField(existing.name),
            bar.market,
            csvField(existing.sector),
            listedEarlier ? date : existing.listed_on,
            existing.delisted_on ?? '',
            String(existing.synthetic),
          ].join(','),
        );
      }
    }
    // a complete list of each market is what makes an absence mean something: only markets that
    // answered rows today (the provider refuses a day with an empty or shrunken market)
    const answered = INGEST_MARKETS.filter((m) => (day.counts[m] ?? 0) > 0);
    const gone = await client.query<SecurityRow>(
      `SELECT s.code, s.name, s.market, s.sector, to_char(s.listed_on, 'YYYY-MM-DD') AS listed_on,
              to_char(s.delisted_on, 'YYYY-MM-DD') AS delisted_on, s.synthetic
         FROM market.daily_bars b JOIN market.securities s USING (code)
        WHERE b.date = (SELECT max(date) FROM market.trading_days WHERE date < $1::date)
          AND s.market = ANY($2::text[]) AND NOT (b.code = ANY($3::text[]))
        ORDER BY b.code`,
      [date, answered, codes],
    );
    const delisted = await this.delistings(date, gone.rows);
    for (const notice of delisted) {
      const security = gone.rows.find((r) => r.code === notice.code) as SecurityRow;
      securityLines.push(
        [
          security.code,
          csvField(security.name),
          security.market,
          csvField(security.sector),
          security.listed_on,
          date,
          String(security.synthetic),
        ].join(','),
      );
    }
    const untraded = day.bars.filter((b) => !b.traded).map((b) => b.code);
    const classificationLines = await this.transferHistory(client, date, transferred, byCode);
    const details: IngestDetails = { counts: day.counts, ...(fallbackDetails ? { fallback: fallbackDetails } : {}) };
    const actionLines = await this.corporateActions(client, date, day, details);
    if (listed.length > 0) {
      details.listed = listed;
    }
    if (gone.rows.length > 0) {
      details.disappeared = gone.rows.map((r) => r.code);
    }
    if (delisted.length > 0) {
      details.delisted = delisted;
    }
    if (transferred.length > 0) {
      details.transferred = transferred;
    }
    if (untraded.length > 0) {
      details.untraded = untraded;
    }
    return {
      securities: securityLines.length > 0 ? `${fullHeader('securities')}\n${securityLines.join('\n')}\n` : null,
      classifications:
        classificationLines.length > 0 ? `${CLASSIFICATIONS_HEADER}\n${classificationLines.join('\n')}\n` : null,
      bars: `${fullHeader('bars')}\n${day.bars.map((b) => barLine(b, date)).join('\n')}\n`,
      corporateActions: actionLines.length > 0 ? `${CORPORATE_ACTIONS_HEADER}\n${actionLines.join('\n')}\n` : null,
      details,
    };
  }

  /**
   * The day's derived corporate actions as corporate_actions CSV lines (derivedCorporateAction
   * against each stock's bar of the previous trading day), noted in `details`; codes that already
   * have an event on this date (an administrator's import) are left out.
   */
  private async corporateActions(
    client: pg.ClientBase,
    date: string,
    day: MarketDay,
    details: IngestDetails,
  ): Promise<string[]> {
    const withBase = day.bars.filter((b) => b.basePrice !== null && b.basePrice !== undefined);
    if (withBase.length === 0) {
      return [];
    }
    const previous = await client.query<{ code: string; close: number; shares: string; recorded: boolean }>(
      `SELECT b.code, b.close, b.shares_outstanding::text AS shares,
              EXISTS (SELECT 1 FROM market.corporate_actions a WHERE a.code = b.code AND a.ex_date = $1::date) AS recorded
         FROM market.daily_bars b
        WHERE b.date = (SELECT max(date) FROM market.trading_days WHERE date < $1::date) AND b.code = ANY($2::text[])`,
      [date, withBase.map((b) => b.code)],
    );
    const before = new Map(previous.rows.map((r) => [r.code, r]));
    const lines: string[] = [];
    const unexplained: Array<{ bar: DailyBar; prior: (typeof previous.rows)[number] }> = [];
    const record = (code: string, action: { kind: string; priceFactor: number; shareRatio: number }) =>
      lines.push([code, date, action.kind, csvNumber(action.priceFactor), csvNumber(action.shareRatio)].join(','));
    for (const bar of withBase) {
      const prior = before.get(bar.code);
      if (!prior) {
        continue;
      }
      const derived = derivedCorporateAction({ close: prior.close, shares: Number(prior.shares) }, bar);
      if (derived === 'unexplained') {
        unexplained.push({ bar, prior });
      } else if (derived !== null && !prior.recorded) {
        (details.corporateActions ??= []).push({ code: bar.code, ...derived });
        record(bar.code, derived);
      }
    }
    const issues = await this.shareIssuesOf(
      date,
      unexplained.map((u) => u.bar.code),
    );
    for (const { bar, prior } of unexplained) {
      const action = exRightsAction(date, prior.close, bar.basePrice as number, issues.get(bar.code) ?? []);
      if (action === null) {
        (details.basePriceChanges ??= []).push({
          code: bar.code,
          previousClose: prior.close,
          basePrice: bar.basePrice as number,
          sharesBefore: Number(prior.shares),
          sharesAfter: bar.listedShares ?? 0,
        });
      } else if (!prior.recorded) {
        (details.corporateActions ??= []).push({ code: bar.code, ...action });
        record(bar.code, action);
      }
    }
    return lines;
  }

  /**
   * The disappeared securities (without a delisting date yet) whose company filed a delisting
   * notice on OpenDART in the DELISTING_NOTICE_LOOKBACK_DAYS up to `date`: delisted on `date`,
   * the first trading day without them (the engine sells a holding at that day's close at its
   * last price). None without OpenDART; a provider failure fails the day.
   */
  private async delistings(
    date: string,
    gone: readonly SecurityRow[],
  ): Promise<NonNullable<IngestDetails['delisted']>> {
    const events = this.deps.events;
    const candidates = gone.filter((g) => g.delisted_on === null);
    if (!events || candidates.length === 0) {
      return [];
    }
    const corpOf = await this.corpCodesByStock(events);
    const out: NonNullable<IngestDetails['delisted']> = [];
    for (const security of candidates) {
      const corpCode = corpOf.get(security.code);
      if (!corpCode) {
        continue;
      }
      const filings = await events.filings(ymdDaysBefore(date, DELISTING_NOTICE_LOOKBACK_DAYS), ymd(date), {
        corpCode,
      });
      const notice = delistingNotice(filings, date);
      if (notice) {
        out.push({ code: security.code, delistedOn: date, receiptNo: notice.receiptNo, reportName: notice.reportName });
      }
    }
    return out;
  }

  /**
   * The share issues filed on OpenDART in the SHARE_ISSUE_LOOKBACK_DAYS up to `date` by the
   * companies of `codes` (stock codes without a company code, e.g. preferred shares, have none).
   * Empty without OpenDART. A provider failure fails the day (a succeeded run is final: an event
   * missed now would never be recorded).
   */
  private async shareIssuesOf(date: string, codes: readonly string[]): Promise<Map<string, ShareIssue[]>> {
    const out = new Map<string, ShareIssue[]>();
    const events = this.deps.events;
    if (!events || codes.length === 0) {
      return out;
    }
    const corpOf = await this.corpCodesByStock(events);
    for (const code of codes) {
      const corp = corpOf.get(code);
      if (corp) {
        out.set(code, await events.shareIssues(corp, ymdDaysBefore(date, SHARE_ISSUE_LOOKBACK_DAYS), ymd(date)));
      }
    }
    return out;
  }

  /** OpenDART's company code of each listed stock code (corpCode.xml, one download a day). */
  private async corpCodesByStock(events: CorporateEventsSource): Promise<Map<string, string>> {
    if (!this.corpCodes || Date.now() - this.corpCodes.at > CORP_CODES_TTL_MS) {
      const all = await events.corpCodes();
      this.corpCodes = {
        at: Date.now(),
        byStock: new Map(all.flatMap((c) => (c.stockCode ? [[c.stockCode, c.corpCode] as const] : []))),
      };
    }
    return this.corpCodes.byStock;
  }

  private async finish(
    client: pg.ClientBase,
    runId: string,
    status: Exclude<IngestStatus, 'running'>,
    fields: {
      rows?: number;
      dataVersion?: number;
      changed?: boolean;
      error?: string;
      details?: IngestDetails;
    },
  ): Promise<IngestRun> {
    const { rows } = await client.query<RunRow>(
      `UPDATE market.ingest_runs
          SET status = $2, rows = $3, data_version = $4, changed = $5, error = $6, details = $7, finished_at = now()
        WHERE id = $1
        RETURNING ${RUN_COLUMNS}`,
      [
        runId,
        status,
        fields.rows ?? null,
        fields.dataVersion ?? null,
        fields.changed ?? null,
        fields.error?.slice(0, 2000) ?? null,
        JSON.stringify(fields.details ?? {}),
      ],
    );
    const row = rows[0];
    if (!row) {
      throw new Error(`ingest run ${runId} is gone`);
    }
    return toIngestRun(row);
  }
}
