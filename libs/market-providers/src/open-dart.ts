import type { Redis } from 'ioredis';
import { ProviderAuthFailed, ProviderDataInvalid, ProviderRequestRefused, ProviderUnavailable } from './errors.js';
import { httpRequest, isYmd, parseJson, parseProviderNumber, providerPacer, type HttpAnswer } from './http.js';
import { withRetries, type RetryPolicy } from './retry.js';
import {
  QUARTER_OF_REPORT_CODE,
  REPORT_CODE_OF_QUARTER,
  type CorpCode,
  type FiledStatement,
  type Filing,
  type FiscalQuarter,
  type FundamentalsProvider,
  type StatementAccount,
  type StatementBasis,
} from './types.js';
import { readZip } from './zip.js';
import { parseBonusDecisions, parseRightsOfferings, type ShareIssue } from './corporate-events.js';

export const OPEN_DART_HOST = 'https://opendart.fss.or.kr';
const PROVIDER = 'opendart';

/** OpenDART's status codes (REFERENCE.md §2.4) by what a caller can do about them. */
const AUTH = new Set(['010', '011', '012', '901']);
const REFUSED = new Set(['021', '100', '101']);
const TRANSIENT = new Set(['800', '900']);
/** 013: no data (a report not filed, a search with no result) */
export const OPEN_DART_NO_DATA = '013';
/** 020: the key's request limit is used up */
export const OPEN_DART_RATE_LIMITED = '020';

export interface OpenDartOptions {
  /** the 40-character crtfc_key (from a Secret) */
  apiKey: string;
  redis: Redis;
  host?: string;
  /** requests per second for the key, all replicas together; default 5 (REFERENCE.md §2.5) */
  perSecond?: number;
  /** requests per Korean day for the key, all replicas together (its quota); unset: not counted */
  perDay?: number;
  timeoutMs?: number;
  retry?: RetryPolicy;
}

/** The error an OpenDART status stands for (undefined for 000 and 013). */
export function errorOfDartStatus(status: string, message: string, what: string): Error | undefined {
  if (status === '000' || status === OPEN_DART_NO_DATA) {
    return undefined;
  }
  const text = `${what}: ${status} ${message}`;
  if (AUTH.has(status)) {
    return new ProviderAuthFailed(PROVIDER, text, status);
  }
  if (status === OPEN_DART_RATE_LIMITED) {
    return new ProviderUnavailable(PROVIDER, text, status, true);
  }
  if (TRANSIENT.has(status)) {
    return new ProviderUnavailable(PROVIDER, text, status);
  }
  if (REFUSED.has(status)) {
    return new ProviderRequestRefused(PROVIDER, text, status);
  }
  return new ProviderDataInvalid(PROVIDER, `${text} (an unknown status)`, status);
}

type DartBody = { status?: unknown; message?: unknown; list?: unknown } & Record<string, unknown>;

/**
 * OpenDART: financial statements of periodic reports with the date each was filed, the disclosure
 * search and the company-code list (REFERENCE.md §2). The filing date of a statement is its
 * receipt number's date (`rcept_no`, yyyymmdd + serial), which is also `rcept_dt` in the search.
 */
export class OpenDartProvider implements FundamentalsProvider {
  readonly name = PROVIDER;
  private readonly host: string;
  private readonly pacer;

  constructor(private readonly options: OpenDartOptions) {
    if (!options.apiKey) {
      throw new ProviderAuthFailed(PROVIDER, 'no API key configured');
    }
    this.host = options.host ?? OPEN_DART_HOST;
    this.pacer = providerPacer(options.redis, PROVIDER, options.apiKey, options.perSecond ?? 5, options.perDay);
  }

  async statement(
    corpCode: string,
    year: number,
    quarter: FiscalQuarter,
    basis: StatementBasis,
    options: { signal?: AbortSignal } = {},
  ): Promise<FiledStatement | null> {
    if (!/^\d{8}$/.test(corpCode) || !Number.isInteger(year) || year < 2015 || !(quarter in REPORT_CODE_OF_QUARTER)) {
      throw new ProviderRequestRefused(PROVIDER, `no statement to ask for: ${corpCode} ${year} Q${quarter}`);
    }
    const reportCode = REPORT_CODE_OF_QUARTER[quarter];
    const what = `fnlttSinglAcntAll ${corpCode} ${year} ${reportCode} ${basis}`;
    const body = await this.getJson(
      '/api/fnlttSinglAcntAll.json',
      { corp_code: corpCode, bsns_year: String(year), reprt_code: reportCode, fs_div: basis },
      what,
      options.signal,
    );
    if (body.status === OPEN_DART_NO_DATA) {
      return null;
    }
    if (!Array.isArray(body.list) || body.list.length === 0) {
      throw new ProviderDataInvalid(PROVIDER, `${what}: status 000 without rows`);
    }
    let receiptNo: string | undefined;
    const accounts: StatementAccount[] = body.list.map((raw: unknown, i: number) => {
      const row = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
      if (row.corp_code !== corpCode || row.bsns_year !== String(year) || row.reprt_code !== reportCode) {
        throw new ProviderDataInvalid(
          PROVIDER,
          `${what}: row ${i} is of ${String(row.corp_code)} ${String(row.bsns_year)} ${String(row.reprt_code)}`,
        );
      }
      if (typeof row.rcept_no !== 'string' || !/^\d{14}$/.test(row.rcept_no) || !isYmd(row.rcept_no.slice(0, 8))) {
        throw new ProviderDataInvalid(PROVIDER, `${what}: row ${i} has receipt number ${JSON.stringify(row.rcept_no)}`);
      }
      if (receiptNo !== undefined && row.rcept_no !== receiptNo) {
        throw new ProviderDataInvalid(PROVIDER, `${what}: rows of two filings (${receiptNo}, ${row.rcept_no})`);
      }
      receiptNo = row.rcept_no;
      const amount = parseProviderNumber(row.thstrm_amount);
      const cumulative = row.thstrm_add_amount === undefined ? null : parseProviderNumber(row.thstrm_add_amount);
      if (
        amount === undefined ||
        cumulative === undefined ||
        typeof row.sj_div !== 'string' ||
        typeof row.account_nm !== 'string'
      ) {
        throw new ProviderDataInvalid(PROVIDER, `${what}: row ${i} (${String(row.account_nm)}) is unreadable`);
      }
      return {
        statement: row.sj_div,
        accountId: typeof row.account_id === 'string' ? row.account_id : '-',
        accountName: row.account_nm,
        amount,
        cumulativeAmount: cumulative,
        currency: typeof row.currency === 'string' ? row.currency : 'KRW',
      };
    });
    const receipt = receiptNo as string;
    return {
      corpCode,
      year,
      quarter: QUARTER_OF_REPORT_CODE[reportCode],
      reportCode,
      basis,
      receiptNo: receipt,
      filingDate: receipt.slice(0, 8),
      accounts,
    };
  }

  async filings(
    from: string,
    to: string,
    options: { corpCode?: string; periodicOnly?: boolean; signal?: AbortSignal } = {},
  ): Promise<Filing[]> {
    if (!isYmd(from) || !isYmd(to) || from > to) {
      throw new ProviderRequestRefused(PROVIDER, `not a date range: ${from}..${to}`);
    }
    // without a company the search spans at most three months (REFERENCE.md §2.2): ask in windows
    const windows = options.corpCode ? [[from, to] as const] : searchWindows(from, to);
    const out: Filing[] = [];
    for (const [bgn, end] of windows) {
      out.push(...(await this.searchWindow(bgn, end, options)));
    }
    return out;
  }

  private async searchWindow(
    from: string,
    to: string,
    options: { corpCode?: string; periodicOnly?: boolean; signal?: AbortSignal },
  ): Promise<Filing[]> {
    const out: Filing[] = [];
    for (let page = 1; ; page += 1) {
      const params: Record<string, string> = {
        bgn_de: from,
        end_de: to,
        page_no: String(page),
        page_count: '100',
        ...(options.corpCode ? { corp_code: options.corpCode } : {}),
        ...(options.periodicOnly ? { pblntf_ty: 'A' } : {}),
      };
      const what = `list ${from}..${to} page ${page}`;
      const body = await this.getJson('/api/list.json', params, what, options.signal);
      if (body.status === OPEN_DART_NO_DATA) {
        return out;
      }
      const totalPage = Number(body.total_page);
      const totalCount = Number(body.total_count);
      if (
        !Array.isArray(body.list) ||
        !Number.isInteger(totalPage) ||
        !Number.isInteger(totalCount) ||
        Number(body.page_no) !== page
      ) {
        throw new ProviderDataInvalid(PROVIDER, `${what}: not a page of the search`);
      }
      for (const raw of body.list as unknown[]) {
        out.push(parseFiling(raw, what));
      }
      if (page >= totalPage) {
        // a filing received while paging shifts the pages: the count no longer matches, and the
        // whole search is raised (the caller asks again) rather than returned with a gap
        if (out.length !== totalCount) {
          throw new ProviderDataInvalid(
            PROVIDER,
            `${what}: ${out.length} filings received, the search counted ${totalCount}`,
          );
        }
        return out;
      }
    }
  }

  async corpCodes(options: { signal?: AbortSignal } = {}): Promise<CorpCode[]> {
    const answer = await withRetries(
      () => this.get('/api/corpCode.xml', {}, options.signal),
      this.options.retry,
      options.signal,
    );
    if (answer.body.subarray(0, 2).toString('latin1') !== 'PK') {
      // an error comes as XML: <result><status>010</status><message>…</message></result>
      const text = answer.text();
      const status = /<status>\s*(\d+)\s*<\/status>/.exec(text)?.[1];
      const message = /<message>([^<]*)<\/message>/.exec(text)?.[1] ?? '';
      const error = status ? errorOfDartStatus(status, message, 'corpCode.xml') : undefined;
      throw (
        error ?? new ProviderDataInvalid(PROVIDER, `corpCode.xml: neither a ZIP nor a status: ${text.slice(0, 120)}`)
      );
    }
    let xml: string;
    try {
      const entry = readZip(answer.body).find((e) => /corpcode\.xml$/i.test(e.name));
      if (!entry) {
        throw new Error('no CORPCODE.xml inside');
      }
      xml = entry.data.toString('utf8');
    } catch (error) {
      throw new ProviderDataInvalid(PROVIDER, `corpCode.xml: ${String(error)}`);
    }
    const codes = [...xml.matchAll(/<list>([\s\S]*?)<\/list>/g)].map((m, i) => {
      const field = (name: string) => xmlText(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(m[1] ?? '')?.[1]);
      const corpCode = field('corp_code');
      const stock = field('stock_code').trim();
      if (!/^\d{8}$/.test(corpCode) || (stock !== '' && !/^[0-9A-Z]{6}$/.test(stock))) {
        throw new ProviderDataInvalid(PROVIDER, `corpCode.xml: entry ${i} (${corpCode}, ${stock}) is unreadable`);
      }
      return {
        corpCode,
        corpName: field('corp_name'),
        stockCode: stock === '' ? null : stock,
        modifyDate: field('modify_date'),
      };
    });
    if (codes.length === 0) {
      throw new ProviderDataInvalid(PROVIDER, 'corpCode.xml: no companies');
    }
    return codes;
  }

  /**
   * The bonus and shareholder rights issues a company filed from `from` to `to` (receipt dates
   * yyyymmdd): 무상증자 결정 (`fricDecsn`), the bonus part of 유무상증자 결정 (`pifricDecsn`) and
   * the registration statements of rights issues to shareholders (`estkRs`), REFERENCE.md §2.7.
   * Three calls, each answering 013 (nothing filed) as an empty list.
   */
  async shareIssues(
    corpCode: string,
    from: string,
    to: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<ShareIssue[]> {
    if (!/^\d{8}$/.test(corpCode) || !isYmd(from) || !isYmd(to) || from > to) {
      throw new ProviderRequestRefused(PROVIDER, `no share issues to ask for: ${corpCode} ${from}..${to}`);
    }
    const params = { corp_code: corpCode, bgn_de: from, end_de: to };
    const out: ShareIssue[] = [];
    for (const source of ['fricDecsn', 'pifricDecsn'] as const) {
      const body = await this.getJson(`/api/${source}.json`, params, `${source} ${corpCode}`, options.signal);
      if (body.status !== OPEN_DART_NO_DATA) {
        if (!Array.isArray(body.list)) {
          throw new ProviderDataInvalid(PROVIDER, `${source} ${corpCode}: status 000 without a list`);
        }
        out.push(...parseBonusDecisions(source, corpCode, body.list));
      }
    }
    const registrations = await this.getJson('/api/estkRs.json', params, `estkRs ${corpCode}`, options.signal);
    if (registrations.status !== OPEN_DART_NO_DATA) {
      out.push(...parseRightsOfferings(corpCode, registrations.group));
    }
    return out;
  }

  /** A JSON call with retries; the body's status checked (000 and 013 returned, the rest raised). */
  private async getJson(
    path: string,
    params: Record<string, string>,
    what: string,
    signal?: AbortSignal,
  ): Promise<DartBody> {
    return withRetries(
      async () => {
        const answer = await this.get(path, params, signal);
        const body = parseJson(PROVIDER, what, answer) as DartBody;
        if (typeof body !== 'object' || body === null || typeof body.status !== 'string') {
          throw new ProviderDataInvalid(PROVIDER, `${what}: an answer without a status`);
        }
        const error = errorOfDartStatus(body.status, typeof body.message === 'string' ? body.message : '', what);
        if (error) {
          throw error;
        }
        return body;
      },
      this.options.retry,
      signal,
    );
  }

  private async get(path: string, params: Record<string, string>, signal?: AbortSignal): Promise<HttpAnswer> {
    await this.pacer.acquire(signal);
    const url = new URL(path, this.host);
    url.searchParams.set('crtfc_key', this.options.apiKey);
    for (const [k, v] of Object.entries(params)) {
      url.searchParams.set(k, v);
    }
    const answer = await httpRequest(PROVIDER, url, {
      timeoutMs: this.options.timeoutMs ?? 30_000,
      ...(signal ? { signal } : {}),
    });
    if (answer.status !== 200) {
      throw new ProviderRequestRefused(PROVIDER, `${path}: HTTP ${answer.status}`, String(answer.status));
    }
    return answer;
  }
}

function parseFiling(raw: unknown, what: string): Filing {
  const row = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === 'string' ? v : '');
  const receiptNo = text(row.rcept_no);
  const receiptDate = text(row.rcept_dt);
  if (!/^\d{8}$/.test(text(row.corp_code)) || !/^\d{14}$/.test(receiptNo) || !isYmd(receiptDate)) {
    throw new ProviderDataInvalid(PROVIDER, `${what}: an unreadable filing ${JSON.stringify(row).slice(0, 200)}`);
  }
  const stock = text(row.stock_code).trim();
  return {
    corpCode: text(row.corp_code),
    corpName: text(row.corp_name),
    stockCode: stock === '' ? null : stock,
    corpClass: text(row.corp_cls),
    reportName: text(row.report_nm).trim(),
    receiptNo,
    receiptDate,
    filerName: text(row.flr_nm),
    remarks: text(row.rm),
  };
}

/** [from, to] cut into windows of at most three calendar months (each ending the day before the next). */
export function searchWindows(from: string, to: string): Array<readonly [string, string]> {
  const day = (ymd: string) =>
    new Date(Date.UTC(Number(ymd.slice(0, 4)), Number(ymd.slice(4, 6)) - 1, Number(ymd.slice(6, 8))));
  const ymd = (d: Date) => d.toISOString().slice(0, 10).replaceAll('-', '');
  const windows: Array<readonly [string, string]> = [];
  let start = day(from);
  const last = day(to);
  while (start <= last) {
    const next = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 3, start.getUTCDate()));
    const end = new Date(Math.min(next.getTime() - 86_400_000, last.getTime()));
    windows.push([ymd(start), ymd(end)]);
    start = new Date(end.getTime() + 86_400_000);
  }
  return windows;
}

function xmlText(value: string | undefined): string {
  return (value ?? '')
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&apos;', "'")
    .replaceAll('&amp;', '&');
}
