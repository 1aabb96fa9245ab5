import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { KRX_DAILY_TRADE_PATHS } from '../krx-open-api.js';
import type { Market } from '../types.js';
import { HttpDouble } from './http-double.js';
import { FaultPlan, playTransportFault, type DoubleFault, type InjectOptions } from './faults.js';
import { scriptedMarket, type ScriptedMarket } from './scripted-market.js';

/**
 * A test double of the KRX Open API's daily trading data (REFERENCE.md §1), a real HTTP server:
 * GET /svc/apis/sto/{stk,ksq,knx}_bydd_trd?basDd=yyyymmdd with the key in the AUTH_KEY header;
 * `{"OutBlock_1":[...]}` with every value a string, numbers without thousands separators (the data
 * portal's MDCSTAT01501 writes "1,234": `numberFormat = 'comma'`), `SECT_TP_NM` "-" on KOSPI, an
 * untraded stock with volume 0, open/high/low 0 and the previous close; `{"OutBlock_1":[]}` for a
 * day without trading; HTTP 401 `{"respMsg":"Unauthorized API Call","respCode":"401"}` for a key
 * that is unknown or not approved for that API. Its rate-limit answer is not documented: the
 * double answers HTTP 429 with the same body shape (an assumption, REFERENCE.md §1.5).
 */
export class KrxOpenApiDouble extends HttpDouble {
  readonly faults = new FaultPlan();
  /** keys and the APIs (paths) approved for each; an empty set approves all */
  private readonly keys = new Map<string, Set<string>>();
  /** requests per second per key before 429; undefined: no limit */
  perSecond: number | undefined;
  numberFormat: 'plain' | 'comma' = 'plain';
  market: ScriptedMarket = scriptedMarket();
  private readonly admitted = new Map<string, number[]>();
  private constructor(server: Server, url: string) {
    super(server, url);
  }

  static start(): Promise<KrxOpenApiDouble> {
    return HttpDouble.listen((server, url) => new KrxOpenApiDouble(server, url));
  }

  /** Registers a key, approved for `markets` (default all three). */
  addKey(key: string, markets?: Market[]): void {
    this.keys.set(key, new Set((markets ?? []).map((m) => KRX_DAILY_TRADE_PATHS[m])));
  }

  inject(fault: DoubleFault, options?: InjectOptions): void {
    this.faults.inject(fault, options);
  }

  /** The rows KRX would answer for `market` on `date` (as sent, strings). */
  rows(date: string, market: Market): Array<Record<string, string>> {
    const stocks = new Map(this.market.stocks.filter((s) => s.market === market).map((s) => [s.code, s]));
    const num = (n: number): string => (this.numberFormat === 'comma' ? n.toLocaleString('en-US') : String(n));
    return this.market.bars
      .filter((b) => b.date === date && stocks.has(b.code))
      .map((b) => {
        const change = b.close - b.basePrice;
        return {
          BAS_DD: date,
          ISU_CD: b.code,
          ISU_NM: stocks.get(b.code)?.name ?? '',
          MKT_NM: market,
          SECT_TP_NM: market === 'KOSPI' ? '-' : market === 'KOSDAQ' ? '중견기업부' : '일반기업부',
          TDD_CLSPRC: num(b.close),
          CMPPREVDD_PRC: num(change),
          FLUC_RT: ((change / b.basePrice) * 100).toFixed(2),
          TDD_OPNPRC: num(b.open),
          TDD_HGPRC: num(b.high),
          TDD_LWPRC: num(b.low),
          ACC_TRDVOL: num(b.volume),
          ACC_TRDVAL: num(b.tradingValue),
          MKTCAP: num(b.close * b.listedShares),
          LIST_SHRS: num(b.listedShares),
        };
      });
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const fault = this.faults.take(url.pathname);
    if (await playTransportFault(fault, req, res, this.closed)) {
      return;
    }
    const market = (Object.entries(KRX_DAILY_TRADE_PATHS) as Array<[Market, string]>).find(
      ([, p]) => p === url.pathname,
    )?.[0];
    if (req.method !== 'GET' || !market) {
      return this.json(res, 404, { respMsg: 'Not Found', respCode: '404' });
    }
    const key = String(req.headers.auth_key ?? '');
    const approved = this.keys.get(key);
    if (!approved || (approved.size > 0 && !approved.has(url.pathname))) {
      return this.json(res, 401, { respMsg: 'Unauthorized API Call', respCode: '401' });
    }
    if (fault?.fault === 'rate-limit' || !this.admit(key)) {
      return this.json(res, 429, { respMsg: 'Too Many Requests', respCode: '429' });
    }
    if (fault?.fault === 'maintenance') {
      return this.json(res, 503, { respMsg: 'Service Unavailable', respCode: '503' });
    }
    const basDd = url.searchParams.get('basDd') ?? '';
    if (!/^\d{8}$/.test(basDd)) {
      return this.json(res, 400, { respMsg: 'Invalid basDd', respCode: '400' });
    }
    const rows = fault?.fault === 'partial' ? [] : this.rows(basDd, market);
    this.json(res, 200, { OutBlock_1: rows });
  }

  private admit(key: string): boolean {
    if (this.perSecond === undefined) {
      return true;
    }
    const now = Date.now();
    const recent = (this.admitted.get(key) ?? []).filter((t) => now - t < 1000);
    if (recent.length >= this.perSecond) {
      this.admitted.set(key, recent);
      return false;
    }
    this.admitted.set(key, [...recent, now]);
    return true;
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    if (!res.destroyed) {
      res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8' }).end(JSON.stringify(body));
    }
  }
}
