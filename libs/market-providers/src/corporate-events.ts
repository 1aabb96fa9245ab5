import { ProviderDataInvalid } from './errors.js';
import { isYmd, parseProviderNumber } from './http.js';

/**
 * Share issues announced on OpenDART that move KRX's base price on their ex-rights day (권리락,
 * REFERENCE.md §2.7): a bonus issue (무상증자, `fricDecsn`, or the bonus part of a 유무상증자,
 * `pifricDecsn`) or a rights issue offered to the shareholders (주주배정 유상증자: its
 * registration statement, `estkRs`, which carries the allotment record date; the 유상증자 결정
 * report `piicDecsn` does not).
 */
export interface ShareIssue {
  kind: 'bonus' | 'rights';
  source: 'fricDecsn' | 'pifricDecsn' | 'estkRs';
  corpCode: string;
  /** `rcept_no` of the filing: 14 digits, the first 8 the day it was received */
  receiptNo: string;
  /** yyyymmdd the filing was received */
  receiptDate: string;
  /** 신주배정기준일 yyyymmdd (the ex-rights day is the trading day before it); null when not given */
  recordDate: string | null;
  /** bonus: new common shares per existing common share (`nstk_ascnt_ps_ostk`); null for rights or when not given */
  sharesPerShare: number | null;
  /** rights: the offering method as filed (`slmthn`, e.g. 주주배정후 실권주 일반공모); null for bonus */
  method: string | null;
  /** rights: the offering price per share as filed (`slprc`, the planned price), KRW */
  issuePrice: number | null;
  /** 신주의 상장 예정일 yyyymmdd, when given (bonus) */
  listingDate: string | null;
}

/**
 * A date as OpenDART's report APIs write it: `2023년 06월 01일` (captured answers), `2023-06-01`,
 * `2023.06.01` or `20230601`; null for `-`, blank or absent; undefined for anything else.
 */
export function parseDartDate(value: unknown): string | null | undefined {
  if (value === undefined || value === null) {
    return null;
  }
  if (typeof value !== 'string') {
    return undefined;
  }
  const text = value.trim();
  if (text === '' || text === '-') {
    return null;
  }
  const m = /^(\d{4})\s*(?:년|[-./])?\s*(\d{1,2})\s*(?:월|[-./])?\s*(\d{1,2})\s*일?$/.exec(text);
  if (!m) {
    return undefined;
  }
  const ymd = `${m[1]}${(m[2] ?? '').padStart(2, '0')}${(m[3] ?? '').padStart(2, '0')}`;
  return isYmd(ymd) ? ymd : undefined;
}

type Row = Record<string, unknown>;

function receiptOf(row: Row, what: string): { receiptNo: string; receiptDate: string } {
  const receiptNo = row.rcept_no;
  if (typeof receiptNo !== 'string' || !/^\d{14}$/.test(receiptNo) || !isYmd(receiptNo.slice(0, 8))) {
    throw new ProviderDataInvalid('opendart', `${what}: a row with receipt number ${JSON.stringify(receiptNo)}`);
  }
  return { receiptNo, receiptDate: receiptNo.slice(0, 8) };
}

/**
 * A field that may be missing in a filing (`-`, blank: null). A value that is there but cannot be
 * read is null as well: the filing is kept (its receipt number tells an administrator where to
 * look) but gives no date or ratio, so that nothing is derived from it.
 */
function lenientNumber(value: unknown): number | null {
  const n = parseProviderNumber(value);
  return n === undefined || n === null || !(n > 0) ? null : n;
}

function lenientDate(value: unknown): string | null {
  return parseDartDate(value) ?? null;
}

/** The rows of `fricDecsn` (fields as named) or `pifricDecsn` (the same with the `fric_` prefix). */
export function parseBonusDecisions(
  source: 'fricDecsn' | 'pifricDecsn',
  corpCode: string,
  list: unknown[],
): ShareIssue[] {
  const p = source === 'pifricDecsn' ? 'fric_' : '';
  return list.map((raw) => {
    const row = (typeof raw === 'object' && raw !== null ? raw : {}) as Row;
    if (row.corp_code !== corpCode) {
      throw new ProviderDataInvalid('opendart', `${source} ${corpCode}: a row of ${JSON.stringify(row.corp_code)}`);
    }
    return {
      kind: 'bonus',
      source,
      corpCode,
      ...receiptOf(row, `${source} ${corpCode}`),
      recordDate: lenientDate(row[`${p}nstk_asstd`]),
      sharesPerShare: lenientNumber(row[`${p}nstk_ascnt_ps_ostk`]),
      method: null,
      issuePrice: null,
      listingDate: lenientDate(row[`${p}nstk_lstprd`]),
    };
  });
}

/**
 * The rights issues to shareholders in an `estkRs` answer (`group[]` of `{title, list}`): the
 * 증권의종류 rows whose method (`slmthn`) allots to the shareholders (주주배정, 주주우선공모),
 * with the record date (`asstd`) of the 일반사항 row of the same filing. Public offerings and
 * third-party allotments have no ex-rights day and are left out.
 */
export function parseRightsOfferings(corpCode: string, groups: unknown): ShareIssue[] {
  if (!Array.isArray(groups)) {
    throw new ProviderDataInvalid('opendart', `estkRs ${corpCode}: the answer has no group list`);
  }
  const rowsOf = (title: string): Row[] =>
    groups
      .filter((g): g is { title: string; list: unknown[] } => {
        const group = g as { title?: unknown; list?: unknown } | null;
        return (
          typeof group?.title === 'string' && group.title.replaceAll(' ', '') === title && Array.isArray(group.list)
        );
      })
      .flatMap((g) => g.list.map((r) => (typeof r === 'object' && r !== null ? r : {}) as Row));
  const general = new Map(rowsOf('일반사항').map((r) => [r.rcept_no, r]));
  const out: ShareIssue[] = [];
  const seen = new Set<string>();
  for (const row of rowsOf('증권의종류')) {
    const method = typeof row.slmthn === 'string' ? row.slmthn.trim() : '';
    const stock = typeof row.stksen === 'string' ? row.stksen : '';
    const receipt = receiptOf(row, `estkRs ${corpCode}`);
    // common shares offered to the shareholders; one entry per filing
    if (!/주주배정|주주우선/.test(method) || /우선주|종류주/.test(stock) || seen.has(receipt.receiptNo)) {
      continue;
    }
    seen.add(receipt.receiptNo);
    out.push({
      kind: 'rights',
      source: 'estkRs',
      corpCode,
      ...receipt,
      recordDate: lenientDate(general.get(receipt.receiptNo)?.asstd),
      sharesPerShare: null,
      method,
      issuePrice: lenientNumber(row.slprc),
      listingDate: null,
    });
  }
  return out;
}

/**
 * Whether a disclosure title announces a delisting that is decided or under way (REFERENCE.md
 * §2.8): `상장폐지결정`, `상장폐지(정리매매…)`, `상장폐지`, `정리매매 개시` and the like, with any
 * `[기재정정]`/`[코스닥시장]` prefix; NOT the warnings that precede a decision (`상장폐지사유발생`,
 * `상장폐지 우려`, `상장폐지 예고`/`예정`, `상장적격성 실질심사`) nor a foreign listing's (`해외…`).
 */
export function isDelistingNotice(reportName: string): boolean {
  const title = reportName.replace(/^(\s*\[[^\]]*\]\s*)+/, '').replaceAll(/\s+/g, '');
  if (/해외|사유|우려|예고|예정|심사|이의신청|가처분/.test(title)) {
    return false;
  }
  return /^상장폐지(결정|$|\()/.test(title) || /정리매매/.test(title) || /^(주권)?상장폐지결정/.test(title);
}
