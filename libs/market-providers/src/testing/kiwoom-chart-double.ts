import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { KIWOOM_CHART_PATH, KIWOOM_DAILY_CHART_API, KIWOOM_DAILY_CHART_LIST } from '../kiwoom-daily-chart.js';
import { HttpDouble } from './http-double.js';
import { FaultPlan, playTransportFault, type DoubleFault, type InjectOptions } from './faults.js';
import { scriptedMarket, type ScriptedMarket } from './scripted-market.js';

/**
 * A test double of Kiwoom's daily chart (ka10081, REFERENCE.md §3) with the token issuance it
 * needs, in the conventions of libs/kiwoom's KiwoomDouble (../shared/reference/kiwoom-rest.md):
 * every call a POST with `api-id` and a bearer token; `return_code`/`return_msg` with a bracketed
 * detail code (8001 bad key, 8005 bad token, 1700 over 5 queries a second, 1902 unknown stock);
 * one token per app key. The chart: body `stk_cd`, `base_dt`, `upd_stkpc_tp` (1 adjusted for
 * corporate actions, 0 not); rows newest first from `base_dt` back, paged with `cont-yn`/`next-key`
 * headers; `cur_prc`/`open_pric`/`high_pric`/`low_pric` prices, `trde_qty` shares, `trde_prica`
 * millions of KRW, `pred_pre` signed change. How the real chart shows an untraded day is not
 * documented: the double gives the close as all four prices and volume 0 (an assumption).
 */
export class KiwoomChartDouble extends HttpDouble {
  readonly faults = new FaultPlan();
  private readonly secrets = new Map<string, string>();
  private readonly tokens = new Map<string, string>();
  private readonly admitted = new Map<string, number[]>();
  perSecond = 5;
  /** rows per page (the real chart sends hundreds; small here so that paging is exercised) */
  pageSize = 3;
  market: ScriptedMarket = scriptedMarket();
  private constructor(server: Server, url: string) {
    super(server, url);
  }

  static start(): Promise<KiwoomChartDouble> {
    return HttpDouble.listen((server, url) => new KiwoomChartDouble(server, url));
  }

  addAppKey(appKey: string, secretKey: string): void {
    this.secrets.set(appKey, secretKey);
  }

  inject(fault: DoubleFault, options?: InjectOptions): void {
    this.faults.inject(fault, options);
  }

  /** The chart rows of `code` up to `baseDt`, newest first, as sent. */
  chartRows(code: string, baseDt: string, adjusted: boolean): Array<Record<string, string>> {
    const bars = this.market.bars
      .filter((b) => b.code === code && b.date <= baseDt)
      .sort((a, b) => b.date.localeCompare(a.date));
    return bars.map((b) => {
      // adjusted: every bar before a split, prices / ratio and volume x ratio
      const factor = adjusted
        ? this.market.splits.filter((s) => s.code === code && b.date < s.date).reduce((f, s) => f * s.ratio, 1)
        : 1;
      const price = (p: number) => String(Math.round((b.volume === 0 ? b.close : p) / factor));
      const change = Math.round(b.close / factor) - Math.round(b.basePrice / factor);
      return {
        cur_prc: price(b.close),
        trde_qty: String(b.volume * factor),
        trde_prica: String(Math.round(b.tradingValue / 1_000_000)),
        dt: b.date,
        open_pric: price(b.open),
        high_pric: price(b.high),
        low_pric: price(b.low),
        pred_pre: change > 0 ? `+${change}` : String(change),
        pred_pre_sig: change > 0 ? '2' : change < 0 ? '5' : '3',
        trde_tern_rt: `+${((b.volume / b.listedShares) * 100).toFixed(2)}`,
      };
    });
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) {
      chunks.push(chunk as Buffer);
    }
    const path = req.url ?? '';
    const fault = this.faults.take(path);
    if (await playTransportFault(fault, req, res, this.closed)) {
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
    } catch {
      return this.answer(res, { return_code: 2, return_msg: '입력 값 오류입니다[1501:JSON 형식 오류]' });
    }
    if (path === '/oauth2/token') {
      const appKey = typeof body.appkey === 'string' ? body.appkey : '';
      if (body.grant_type !== 'client_credentials' || this.secrets.get(appKey) !== body.secretkey) {
        return this.answer(res, { return_code: 3, return_msg: '[8001:App Key와 Secret Key 검증에 실패했습니다]' });
      }
      const token = randomBytes(24).toString('base64url');
      this.tokens.set(appKey, token);
      const expires = new Date(Date.now() + 9 * 3600_000 + 24 * 3600_000).toISOString().replace(/\D/g, '').slice(0, 14);
      return this.answer(res, {
        return_code: 0,
        return_msg: '정상적으로 처리되었습니다',
        token,
        token_type: 'bearer',
        expires_dt: expires,
      });
    }
    const bearer = /^Bearer (.+)$/i.exec(String(req.headers.authorization ?? ''))?.[1];
    const appKey = [...this.tokens.entries()].find(([, t]) => t === bearer)?.[0];
    if (!appKey) {
      return this.answer(res, { return_code: 3, return_msg: '[8005:Token이 유효하지 않습니다]' });
    }
    const apiId = String(req.headers['api-id'] ?? '');
    if (fault?.fault === 'rate-limit' || !this.admit(appKey)) {
      return this.answer(res, {
        return_code: 5,
        return_msg: `허용된 요청 개수를 초과하였습니다[1700:허용된 요청 개수를 초과하였습니다. API ID=${apiId}]`,
      });
    }
    if (path !== KIWOOM_CHART_PATH || apiId !== KIWOOM_DAILY_CHART_API) {
      return this.answer(res, { return_code: 2, return_msg: `입력 값 오류입니다[1511:지원하지 않는 API ID ${apiId}]` });
    }
    const code = typeof body.stk_cd === 'string' ? body.stk_cd : '';
    const baseDt = typeof body.base_dt === 'string' ? body.base_dt : '';
    if (!this.market.stocks.some((s) => s.code === code)) {
      return this.answer(res, { return_code: 2, return_msg: '입력 값 오류입니다[1902:종목코드 오류]' });
    }
    if (!/^\d{8}$/.test(baseDt) || !['0', '1'].includes(String(body.upd_stkpc_tp))) {
      return this.answer(res, { return_code: 2, return_msg: '입력 값 오류입니다[1517:입력값 형식 오류]' });
    }
    const rows = this.chartRows(code, baseDt, body.upd_stkpc_tp === '1');
    const from = req.headers['cont-yn'] === 'Y' ? Number(req.headers['next-key'] ?? 0) || 0 : 0;
    let page = rows.slice(from, from + this.pageSize);
    const more = from + this.pageSize < rows.length;
    if (fault?.fault === 'partial') {
      page = page.map(({ trde_qty: _volume, ...row }) => row);
    }
    this.answer(
      res,
      { return_code: 0, return_msg: '정상적으로 처리되었습니다', stk_cd: code, [KIWOOM_DAILY_CHART_LIST]: page },
      more ? { 'cont-yn': 'Y', 'next-key': String(from + this.pageSize) } : { 'cont-yn': 'N', 'next-key': '' },
    );
  }

  private admit(appKey: string): boolean {
    const now = Date.now();
    const recent = (this.admitted.get(appKey) ?? []).filter((t) => now - t < 1000);
    if (recent.length >= this.perSecond) {
      this.admitted.set(appKey, recent);
      return false;
    }
    this.admitted.set(appKey, [...recent, now]);
    return true;
  }

  private answer(res: ServerResponse, body: Record<string, unknown>, headers: Record<string, string> = {}): void {
    if (!res.destroyed) {
      res
        .writeHead(200, {
          'content-type': 'application/json;charset=UTF-8',
          'api-id': KIWOOM_DAILY_CHART_API,
          ...headers,
        })
        .end(JSON.stringify(body));
    }
  }
}
