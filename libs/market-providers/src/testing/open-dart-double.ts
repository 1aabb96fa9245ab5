import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { writeZip } from '../zip.js';
import { HttpDouble } from './http-double.js';
import { FaultPlan, playTransportFault, type DoubleFault, type InjectOptions } from './faults.js';
import {
  scriptedCorps,
  scriptedFilings,
  scriptedShareIssues,
  scriptedStatements,
  type ScriptedAccount,
  type ScriptedCorp,
  type ScriptedFiling,
  type ScriptedShareIssues,
  type ScriptedStatement,
} from './scripted-market.js';

const STATEMENT_NAMES: Record<ScriptedAccount['sj_div'], string> = {
  BS: '재무상태표',
  IS: '손익계산서',
  CF: '현금흐름표',
};

/** OpenDART's messages (REFERENCE.md §2.4). */
export const DART_MESSAGES: Readonly<Record<string, string>> = {
  '000': '정상',
  '010': '등록되지 않은 키입니다.',
  '011':
    '사용할 수 없는 키입니다. 오픈API에 등록되었으나, 일시적으로 사용 중지된 키를 통하여 검색하는 경우 발생합니다.',
  '013': '조회된 데이타가 없습니다.',
  '020': '요청 제한을 초과하였습니다.',
  '100': '필드의 부적절한 값입니다. 필드 설명에 없는 값을 사용한 경우에 발생하는 메시지입니다.',
  '800': '시스템 점검으로 인한 서비스가 중지 중입니다.',
  '900': '정의되지 않은 오류가 발생하였습니다.',
};

const REPORT_PERIOD_NAMES: Record<string, [string, string]> = {
  '11013': ['1분기', '1분기말'],
  '11012': ['반기', '반기말'],
  '11014': ['3분기', '3분기말'],
  '11011': ['', '기말'],
};

/**
 * A test double of OpenDART (REFERENCE.md §2), a real HTTP server: GET /api/list.json,
 * /api/fnlttSinglAcntAll.json and /api/corpCode.xml with `crtfc_key`; every answer HTTP 200 with
 * `status`/`message` (000 ok, 010 unknown key, 011 suspended key, 013 no data, 020 the key's
 * limit, 100 a bad field, 800 maintenance); statements whose rows carry `rcept_no` (the filing's
 * receipt number, its first 8 digits the receipt date), flows of quarterly reports both for the
 * quarter (`thstrm_amount`) and since the year began (`thstrm_add_amount`); the search paged with
 * `page_no`/`page_count`/`total_count`/`total_page`; corpCode.xml a ZIP holding CORPCODE.xml, or
 * an XML status when refused; the share-issue reports `fricDecsn`/`pifricDecsn` (`list`) and
 * `estkRs` (`group` of 일반사항 and 증권의종류 rows) of one company by receipt date. Fed from the
 * scripted statements, filings and share issues.
 */
export class OpenDartDouble extends HttpDouble {
  readonly faults = new FaultPlan();
  private readonly keys = new Map<string, 'active' | 'suspended'>();
  private readonly used = new Map<string, number>();
  /** requests per key before 020 (the real limit is per day) */
  dailyLimit = Number.POSITIVE_INFINITY;
  /** the largest page the search serves (OpenDART: 100); tests lower it to exercise paging */
  maxPageCount = 100;
  statements: ScriptedStatement[] = scriptedStatements();
  filings: ScriptedFiling[] = scriptedFilings();
  corps: ScriptedCorp[] = scriptedCorps();
  shareIssues: ScriptedShareIssues = scriptedShareIssues();
  private constructor(server: Server, url: string) {
    super(server, url);
  }

  static start(): Promise<OpenDartDouble> {
    return HttpDouble.listen((server, url) => new OpenDartDouble(server, url));
  }

  addKey(key: string, state: 'active' | 'suspended' = 'active'): void {
    this.keys.set(key, state);
  }

  inject(fault: DoubleFault, options?: InjectOptions): void {
    this.faults.inject(fault, options);
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const xml = url.pathname === '/api/corpCode.xml';
    const fault = this.faults.take(url.pathname);
    if (await playTransportFault(fault, req, res, this.closed)) {
      return;
    }
    const refuse = (status: string) => (xml ? this.xmlStatus(res, status) : this.status(res, status));
    const key = url.searchParams.get('crtfc_key') ?? '';
    const state = this.keys.get(key);
    if (!state) {
      return refuse('010');
    }
    if (state === 'suspended') {
      return refuse('011');
    }
    const used = (this.used.get(key) ?? 0) + 1;
    this.used.set(key, used);
    if (fault?.fault === 'rate-limit' || used > this.dailyLimit) {
      return refuse('020');
    }
    if (fault?.fault === 'maintenance') {
      return refuse('800');
    }
    const partial = fault?.fault === 'partial';
    switch (url.pathname) {
      case '/api/fnlttSinglAcntAll.json':
        return this.statement(res, url.searchParams);
      case '/api/list.json':
        return this.search(res, url.searchParams, partial);
      case '/api/corpCode.xml':
        return this.corpCodes(res);
      case '/api/fricDecsn.json':
      case '/api/pifricDecsn.json':
      case '/api/estkRs.json':
        return this.report(res, url.pathname, url.searchParams);
      default:
        res.writeHead(404, { 'content-type': 'text/html' }).end('<html>404 Not Found</html>');
    }
  }

  private statement(res: ServerResponse, q: URLSearchParams): void {
    const corp = q.get('corp_code') ?? '';
    const year = q.get('bsns_year') ?? '';
    const report = q.get('reprt_code') ?? '';
    const fsDiv = q.get('fs_div') ?? '';
    if (
      !/^\d{8}$/.test(corp) ||
      !/^\d{4}$/.test(year) ||
      !/^1101[1-4]$/.test(report) ||
      !['CFS', 'OFS'].includes(fsDiv)
    ) {
      return this.status(res, '100');
    }
    const found = this.statements.find(
      (s) => s.corpCode === corp && String(s.year) === year && s.reportCode === report && s.fsDiv === fsDiv,
    );
    if (!found) {
      return this.status(res, '013');
    }
    const [period, periodEnd] = REPORT_PERIOD_NAMES[report];
    const term = Number(year) - 1966; // 제 N 기: any stable number
    const quarterly = report !== '11011';
    const list = found.accounts.map((a, i) => {
      const base = {
        rcept_no: found.rceptNo,
        reprt_code: report,
        bsns_year: year,
        corp_code: corp,
        sj_div: a.sj_div,
        sj_nm: STATEMENT_NAMES[a.sj_div],
        account_id: a.account_id,
        account_nm: a.account_nm,
        account_detail: '-',
      };
      // cash-flow rows state the year to date in every report, without thstrm_add_amount (REFERENCE.md §2.1)
      const cashFlow = {
        thstrm_nm: `제 ${term} 기 ${period}`,
        thstrm_amount: String(a.amount),
        frmtrm_nm: `제 ${term - 1} 기 ${period}`,
        frmtrm_amount: String(Math.round(a.amount * 0.9)),
      };
      const rest =
        a.sj_div === 'CF'
          ? cashFlow
          : a.sj_div === 'BS'
            ? {
                thstrm_nm: `제 ${term} 기 ${periodEnd}`.replace(/ {2}/g, ' '),
                thstrm_amount: String(a.amount),
                frmtrm_nm: `제 ${term - 1} 기말`,
                frmtrm_amount: String(Math.round(a.amount * 0.97)),
              }
            : quarterly
              ? {
                  thstrm_nm: `제 ${term} 기 ${period}`,
                  thstrm_amount: String(a.amount),
                  thstrm_add_amount: String(a.cumulative ?? a.amount),
                  frmtrm_q_nm: `제 ${term - 1} 기 ${period}`,
                  frmtrm_q_amount: String(Math.round(a.amount * 0.9)),
                  frmtrm_add_amount: String(Math.round((a.cumulative ?? a.amount) * 0.9)),
                }
              : {
                  thstrm_nm: `제 ${term} 기`,
                  thstrm_amount: String(a.amount),
                  frmtrm_nm: `제 ${term - 1} 기`,
                  frmtrm_amount: String(Math.round(a.amount * 0.9)),
                  bfefrmtrm_nm: `제 ${term - 2} 기`,
                  bfefrmtrm_amount: String(Math.round(a.amount * 0.8)),
                };
      return { ...base, ...rest, ord: String(i + 1), currency: 'KRW' };
    });
    this.json(res, { status: '000', message: DART_MESSAGES['000'], list });
  }

  private search(res: ServerResponse, q: URLSearchParams, partial: boolean): void {
    const from = q.get('bgn_de') ?? '';
    const to = q.get('end_de') ?? '';
    const page = Number(q.get('page_no') ?? '1');
    const count = Math.min(this.maxPageCount, Number(q.get('page_count') ?? '10'));
    const corp = q.get('corp_code');
    const type = q.get('pblntf_ty');
    if (
      !/^\d{8}$/.test(from) ||
      !/^\d{8}$/.test(to) ||
      !(page >= 1) ||
      !(count >= 1 && count <= 100) ||
      (type && type !== 'A')
    ) {
      return this.status(res, '100');
    }
    // without corp_code the search spans at most three months (the status of a longer one is
    // not documented: 100 here, an assumption)
    const day = (ymd: string) =>
      Date.UTC(Number(ymd.slice(0, 4)), Number(ymd.slice(4, 6)) - 1, Number(ymd.slice(6, 8)));
    const start = new Date(day(from));
    if (!corp && day(to) >= Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 3, start.getUTCDate())) {
      return this.status(res, '100');
    }
    const all = this.filings
      .filter((f) => f.rcept_dt >= from && f.rcept_dt <= to && (!corp || f.corp_code === corp) && (!type || f.periodic))
      .sort((a, b) => b.rcept_no.localeCompare(a.rcept_no));
    if (all.length === 0) {
      return this.status(res, '013');
    }
    const totalPage = Math.ceil(all.length / count);
    let rows = all.slice((page - 1) * count, page * count);
    if (partial) {
      rows = rows.slice(0, -1);
    }
    this.json(res, {
      status: '000',
      message: DART_MESSAGES['000'],
      page_no: page,
      page_count: count,
      total_count: all.length,
      total_page: totalPage,
      list: rows.map(({ periodic: _periodic, ...row }) => row),
    });
  }

  /**
   * A 주요사항보고서 (fricDecsn, pifricDecsn) or 증권신고서 (estkRs) search of one company:
   * `corp_code`, `bgn_de` and `end_de` (receipt dates) all required (100 otherwise), 013 when the
   * company filed none in the range; decisions as `list`, registration statements as `group`
   * (일반사항, 증권의종류) of their rows.
   */
  private report(res: ServerResponse, path: string, q: URLSearchParams): void {
    const corp = q.get('corp_code') ?? '';
    const from = q.get('bgn_de') ?? '';
    const to = q.get('end_de') ?? '';
    if (!/^\d{8}$/.test(corp) || !/^\d{8}$/.test(from) || !/^\d{8}$/.test(to)) {
      return this.status(res, '100');
    }
    const filed = (r: { corp_code?: string; rcept_no?: string }) =>
      r.corp_code === corp && (r.rcept_no ?? '').slice(0, 8) >= from && (r.rcept_no ?? '').slice(0, 8) <= to;
    if (path === '/api/estkRs.json') {
      const filings = this.shareIssues.estk.filter(filed);
      if (filings.length === 0) {
        return this.status(res, '013');
      }
      return this.json(res, {
        status: '000',
        message: DART_MESSAGES['000'],
        group: [
          { title: '일반사항', list: filings.map((f) => f.general) },
          { title: '증권의종류', list: filings.flatMap((f) => f.securities) },
        ],
      });
    }
    const rows = (path === '/api/fricDecsn.json' ? this.shareIssues.fric : this.shareIssues.pifric).filter(filed);
    if (rows.length === 0) {
      return this.status(res, '013');
    }
    this.json(res, { status: '000', message: DART_MESSAGES['000'], list: rows });
  }

  private corpCodes(res: ServerResponse): void {
    const escape = (s: string) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?>\n<result>\n' +
      this.corps
        .map(
          (c) =>
            `    <list>\n        <corp_code>${c.corp_code}</corp_code>\n        <corp_name>${escape(c.corp_name)}</corp_name>\n` +
            `        <stock_code>${c.stock_code}</stock_code>\n        <modify_date>${c.modify_date}</modify_date>\n    </list>\n`,
        )
        .join('') +
      '</result>\n';
    const zip = writeZip([{ name: 'CORPCODE.xml', data: Buffer.from(xml, 'utf8') }]);
    res
      .writeHead(200, {
        'content-type': 'application/x-msdownload',
        'content-disposition': 'attachment; filename=CORPCODE.zip',
      })
      .end(zip);
  }

  private status(res: ServerResponse, status: string): void {
    this.json(res, { status, message: DART_MESSAGES[status] ?? DART_MESSAGES['900'] });
  }

  private xmlStatus(res: ServerResponse, status: string): void {
    res
      .writeHead(200, { 'content-type': 'application/xml;charset=UTF-8' })
      .end(
        `<?xml version="1.0" encoding="UTF-8"?>\n<result>\n<status>${status}</status>\n<message>${DART_MESSAGES[status] ?? ''}</message>\n</result>`,
      );
  }

  private json(res: ServerResponse, body: unknown): void {
    if (!res.destroyed) {
      res.writeHead(200, { 'content-type': 'application/json;charset=UTF-8' }).end(JSON.stringify(body));
    }
  }
}
