import { tickSize } from '@stocklab/strategy-engine';
import type { Market } from '../types.js';

/**
 * The market the doubles serve: a few stocks of each market over two weeks of Korea's calendar
 * (late April - early May 2025: Workers' Day 05-01, Children's Day 05-05 and the substitute
 * holiday 05-06 closed KRX), with the events an ingest must get right, each shown the way KRX
 * shows it (REFERENCE.md §1.4):
 * - a 50:1 split (한빛전자, modelled on Samsung Electronics in 2018): trading halted on the two
 *   trading days before the new shares list, listed shares x50 from the split day, prices /50
 * - a halt: a row with volume 0, open/high/low 0 and the previous close carried over
 * - an untraded KONEX day (no trade without a halt: shown the same way)
 * - a delisting (다솜소프트: last row on 04-30, none after) and a listing (새봄로보틱스 from 05-02)
 * - a preferred share whose code has a letter (누리화학우(전환), 11112K)
 * - two ex-rights days (권리락): a bonus issue and a rights issue, the base price adjusted and the
 *   listed shares unchanged, each announced on OpenDART (SCRIPTED_EX_RIGHTS)
 * Names and codes are invented; the numbers are shaped like KRX's.
 */

export interface ScriptedStock {
  code: string;
  name: string;
  market: Market;
  /** its OpenDART code, when it files */
  corpCode?: string;
}

/** One stock-day as KRX publishes it: an untraded day has volume 0 and open/high/low 0. */
export interface ScriptedBar {
  date: string;
  code: string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  tradingValue: number;
  listedShares: number;
  /** the day's base price (previous close, divided by a split's ratio on its first day) */
  basePrice: number;
}

export interface ScriptedSplit {
  code: string;
  /** the first trading day of the new shares */
  date: string;
  /** new shares per old share */
  ratio: number;
}

export interface ScriptedMarket {
  /** every calendar day of the period, trading or not */
  days: Array<{ date: string; trading: boolean }>;
  stocks: ScriptedStock[];
  bars: ScriptedBar[];
  splits: ScriptedSplit[];
}

export const SCRIPTED_DAYS = [
  ['20250428', true],
  ['20250429', true],
  ['20250430', true],
  ['20250501', false], // 근로자의 날: KRX closed
  ['20250502', true],
  ['20250503', false],
  ['20250504', false],
  ['20250505', false], // 어린이날 (and 부처님오신날)
  ['20250506', false], // 대체공휴일
  ['20250507', true],
  ['20250508', true],
] as const;

export const SCRIPTED_STOCKS: ScriptedStock[] = [
  { code: '111110', name: '한빛전자', market: 'KOSPI', corpCode: '00900001' },
  { code: '111120', name: '누리화학', market: 'KOSPI', corpCode: '00900002' },
  { code: '11112K', name: '누리화학우(전환)', market: 'KOSPI' },
  { code: '222210', name: '가람바이오', market: 'KOSDAQ', corpCode: '00900003' },
  { code: '222220', name: '다솜소프트', market: 'KOSDAQ', corpCode: '00900005' },
  { code: '222230', name: '새봄로보틱스', market: 'KOSDAQ', corpCode: '00900006' },
  { code: '333310', name: '온누리푸드', market: 'KONEX' },
  { code: '333320', name: '하늘정밀', market: 'KONEX' },
];

/** A price on the KRX tick grid of its day and market (the engine's table), to the nearest tick. */
function onTick(price: number, date: string, market: Market): number {
  const tick = tickSize(price, Number(date), market);
  return Math.round(price / tick) * tick;
}

/** Daily moves in basis points: deterministic, small, both ways. */
const MOVES = [120, -80, 45, -150, 210, -35, 90, -60, 15, -110];

interface Plan {
  code: string;
  firstPrice: number;
  shares: number;
  baseVolume: number;
  /** trading days (yyyymmdd) with a row but no trade */
  untraded?: string[];
  listedFrom?: string;
  lastDay?: string;
}

const PLANS: Plan[] = [
  {
    code: '111110',
    firstPrice: 2_650_000,
    shares: 128_386_494,
    baseVolume: 210_000,
    untraded: ['20250430', '20250502'],
  },
  { code: '111120', firstPrice: 48_300, shares: 76_000_000, baseVolume: 410_000 },
  { code: '11112K', firstPrice: 31_250, shares: 4_226_512, baseVolume: 12_000 },
  { code: '222210', firstPrice: 8_870, shares: 45_252_759, baseVolume: 880_000 },
  { code: '222220', firstPrice: 1_284, shares: 45_281_824, baseVolume: 1_500_000, lastDay: '20250430' },
  { code: '222230', firstPrice: 21_500, shares: 12_400_000, baseVolume: 2_400_000, listedFrom: '20250502' },
  { code: '333310', firstPrice: 3_275, shares: 4_667_008, baseVolume: 900, untraded: ['20250429'] },
  { code: '333320', firstPrice: 25_000, shares: 900_000, baseVolume: 350 },
];

export const SCRIPTED_SPLITS: ScriptedSplit[] = [{ code: '111110', date: '20250507', ratio: 50 }];

/** An ex-rights day (권리락): the base price adjusted, the listed shares unchanged (the new shares list weeks later). */
export interface ScriptedExRights {
  code: string;
  /** the ex-rights day: the trading day before the record date */
  date: string;
  /** the record date (신주배정기준일) as filed */
  recordDate: string;
  kind: 'bonus' | 'rights';
  /** new shares per existing share (bonus), shares offered per existing share (rights) */
  ratio: number;
  /** rights: the offering price */
  price?: number;
}

/**
 * 가람바이오's 1:1 bonus issue (record date 04-30, ex-rights 04-29: base = previous close / 2) and
 * 누리화학's rights issue to shareholders, 0.2 new shares per share at 40,000 (record date 05-08,
 * ex-rights 05-07: base = (previous close + 40,000 x 0.2) / 1.2), each on the tick grid
 * (REFERENCE.md §1.7); both filed on OpenDART (scriptedShareIssues).
 */
export const SCRIPTED_EX_RIGHTS: ScriptedExRights[] = [
  { code: '222210', date: '20250429', recordDate: '20250430', kind: 'bonus', ratio: 1 },
  { code: '111120', date: '20250507', recordDate: '20250508', kind: 'rights', ratio: 0.2, price: 40_000 },
];

/** KRX's base price on an ex-rights day, before rounding to the tick grid. */
export function exRightsBase(previousClose: number, event: ScriptedExRights): number {
  return event.kind === 'bonus'
    ? previousClose / (1 + event.ratio)
    : (previousClose + (event.price ?? 0) * event.ratio) / (1 + event.ratio);
}

/** The scripted market (a fresh copy each call: tests may alter theirs). */
export function scriptedMarket(): ScriptedMarket {
  const trading = SCRIPTED_DAYS.filter(([, t]) => t).map(([d]) => d as string);
  const bars: ScriptedBar[] = [];
  PLANS.forEach((plan, p) => {
    let close = plan.firstPrice;
    let shares = plan.shares;
    const market = (SCRIPTED_STOCKS.find((stock) => stock.code === plan.code) as ScriptedStock).market;
    trading.forEach((date, d) => {
      if ((plan.listedFrom && date < plan.listedFrom) || (plan.lastDay && date > plan.lastDay)) {
        return;
      }
      let basePrice = close;
      const split = SCRIPTED_SPLITS.find((s) => s.code === plan.code && s.date === date);
      if (split) {
        shares *= split.ratio;
        basePrice = onTick(close / split.ratio, date, market);
      }
      const exRights = SCRIPTED_EX_RIGHTS.find((e) => e.code === plan.code && e.date === date);
      if (exRights) {
        basePrice = onTick(exRightsBase(close, exRights), date, market);
      }
      if (plan.untraded?.includes(date)) {
        bars.push({
          date,
          code: plan.code,
          open: 0,
          high: 0,
          low: 0,
          close: basePrice,
          volume: 0,
          tradingValue: 0,
          listedShares: shares,
          basePrice,
        });
        close = basePrice;
        return;
      }
      const move = MOVES[(p * 3 + d) % MOVES.length];
      const open = onTick(basePrice * (1 + MOVES[(p + d) % MOVES.length] / 40_000), date, market);
      const next = onTick(basePrice * (1 + move / 10_000), date, market);
      const high = onTick(Math.max(open, next) * 1.012, date, market);
      const low = onTick(Math.min(open, next) * 0.988, date, market);
      const volume = Math.round(
        plan.baseVolume * (1 + ((p + 2 * d) % 5) / 4) * (plan.code === '111110' && date >= '20250507' ? 50 : 1),
      );
      const tradingValue = Math.round((volume * (open + high + low + next)) / 4);
      bars.push({
        date,
        code: plan.code,
        open,
        high,
        low,
        close: next,
        volume,
        tradingValue,
        listedShares: shares,
        basePrice,
      });
      close = next;
    });
  });
  return {
    days: SCRIPTED_DAYS.map(([date, t]) => ({ date, trading: t })),
    stocks: SCRIPTED_STOCKS.map((s) => ({ ...s })),
    bars,
    splits: SCRIPTED_SPLITS.map((s) => ({ ...s })),
  };
}

// ---------------------------------------------------------------- OpenDART's side of the script

export interface ScriptedAccount {
  sj_div: 'BS' | 'IS' | 'CF';
  account_id: string;
  account_nm: string;
  /**
   * this period: the quarter's 3 months for IS rows of quarterly reports, the year in annual ones;
   * for CF rows the year to date in every report
   */
  amount: number;
  /** IS rows of quarterly reports: since the fiscal year began */
  cumulative?: number;
}

export interface ScriptedStatement {
  corpCode: string;
  year: number;
  reportCode: '11013' | '11012' | '11014' | '11011';
  fsDiv: 'CFS' | 'OFS';
  rceptNo: string;
  accounts: ScriptedAccount[];
}

export interface ScriptedFiling {
  corp_code: string;
  corp_name: string;
  stock_code: string;
  corp_cls: string;
  report_nm: string;
  rcept_no: string;
  flr_nm: string;
  rcept_dt: string;
  rm: string;
  /** pblntf_ty A (정기공시) */
  periodic: boolean;
}

export interface ScriptedCorp {
  corp_code: string;
  corp_name: string;
  /** " " for unlisted companies, as corpCode.xml has it */
  stock_code: string;
  modify_date: string;
}

const accounts = (
  revenue: number,
  opIncome: number,
  netIncome: number,
  assets: number,
  liabilities: number,
  cumulative?: [number, number, number],
  extra: ScriptedAccount[] = [],
): ScriptedAccount[] => [
  { sj_div: 'BS', account_id: 'ifrs-full_Assets', account_nm: '자산총계', amount: assets },
  { sj_div: 'BS', account_id: 'ifrs-full_Liabilities', account_nm: '부채총계', amount: liabilities },
  { sj_div: 'BS', account_id: 'ifrs-full_Equity', account_nm: '자본총계', amount: assets - liabilities },
  {
    sj_div: 'IS',
    account_id: 'ifrs-full_Revenue',
    account_nm: '매출액',
    amount: revenue,
    ...(cumulative ? { cumulative: cumulative[0] } : {}),
  },
  {
    sj_div: 'IS',
    account_id: 'dart_OperatingIncomeLoss',
    account_nm: '영업이익(손실)',
    amount: opIncome,
    ...(cumulative ? { cumulative: cumulative[1] } : {}),
  },
  {
    sj_div: 'IS',
    account_id: 'ifrs-full_ProfitLoss',
    account_nm: '당기순이익(손실)',
    amount: netIncome,
    ...(cumulative ? { cumulative: cumulative[2] } : {}),
  },
  ...extra,
];

const T = 1_000_000_000; // KRW in billions (십억원)

/**
 * 한빛전자's other accounts in a report (consolidated): gross profit (IS, the quarter and the year
 * to date like the other IS rows), current assets and liabilities, cash and borrowings (BS, at the
 * period end; borrowings over several lines) and the cash-flow rows (CF: operating cash flow,
 * depreciation and amortisation, interest expense, dividends paid as an outflow), year to date.
 */
const hanbitExtra = (
  gross: [number, number],
  balance: { current: number; currentLiabilities: number; cash: number; borrowings: [string, string, number][] },
  cashFlowYtd: { operating: number; depreciation: number; amortisation: number; interest: number; dividends: number },
): ScriptedAccount[] => {
  const row = (sj_div: ScriptedAccount['sj_div'], [account_id, account_nm, amount]: [string, string, number]) => ({
    sj_div,
    account_id,
    account_nm,
    amount: amount * T,
  });
  const bs: [string, string, number][] = [
    ['ifrs-full_CurrentAssets', '유동자산', balance.current],
    ['ifrs-full_CashAndCashEquivalents', '현금및현금성자산', balance.cash],
    ['ifrs-full_CurrentLiabilities', '유동부채', balance.currentLiabilities],
    ...balance.borrowings,
  ];
  const cf: [string, string, number][] = [
    ['ifrs-full_CashFlowsFromUsedInOperatingActivities', '영업활동현금흐름', cashFlowYtd.operating],
    ['ifrs-full_AdjustmentsForDepreciationExpense', '감가상각비에 대한 조정', cashFlowYtd.depreciation],
    ['ifrs-full_AdjustmentsForAmortisationExpense', '무형자산상각비에 대한 조정', cashFlowYtd.amortisation],
    ['dart_AdjustmentsForInterestExpenses', '이자비용 조정', cashFlowYtd.interest],
    ['ifrs-full_DividendsPaidClassifiedAsFinancingActivities', '배당금의 지급', -cashFlowYtd.dividends],
  ];
  return [
    ...bs.map((r) => row('BS', r)),
    { ...row('IS', ['ifrs-full_GrossProfit', '매출총이익', gross[0]]), cumulative: gross[1] * T },
    ...cf.map((r) => row('CF', r)),
  ];
};
const BORROWINGS_2024: [string, string, number][] = [
  ['ifrs-full_ShorttermBorrowings', '단기차입금', 13_100],
  ['dart_LongTermBorrowingsGross', '장기차입금', 3_700],
  ['dart_BondsIssued', '사채', 14],
];

/** Statements as filed: annual 2024 reports in March 2025, Q1-Q3 2024 and Q1 2025 quarterly ones. */
export function scriptedStatements(): ScriptedStatement[] {
  return [
    // 한빛전자: consolidated and separate, every quarter of 2024 and Q1 2025
    {
      corpCode: '00900001',
      year: 2024,
      reportCode: '11013',
      fsDiv: 'CFS',
      rceptNo: '20240516002270',
      accounts: accounts(
        71_915_601_000_000,
        6_606_010_000_000,
        6_754_716_000_000,
        460_000_000_000_000,
        95_000_000_000_000,
        [71_915_601_000_000, 6_606_010_000_000, 6_754_716_000_000],
        hanbitExtra(
          [28_000, 28_000],
          { current: 210_000, currentLiabilities: 70_000, cash: 40_000, borrowings: BORROWINGS_2024 },
          { operating: 10_000, depreciation: 9_000, amortisation: 700, interest: 200, dividends: 2_450 },
        ),
      ),
    },
    {
      corpCode: '00900001',
      year: 2024,
      reportCode: '11012',
      fsDiv: 'CFS',
      rceptNo: '20240814001456',
      accounts: accounts(
        74_068_302_000_000,
        10_443_878_000_000,
        9_841_345_000_000,
        470_000_000_000_000,
        97_000_000_000_000,
        [145_983_903_000_000, 17_049_888_000_000, 16_596_061_000_000],
        hanbitExtra(
          [30_000, 58_000],
          { current: 215_000, currentLiabilities: 72_000, cash: 45_000, borrowings: BORROWINGS_2024 },
          { operating: 28_000, depreciation: 18_500, amortisation: 1_400, interest: 410, dividends: 4_900 },
        ),
      ),
    },
    {
      corpCode: '00900001',
      year: 2024,
      reportCode: '11014',
      fsDiv: 'CFS',
      rceptNo: '20241114002642',
      accounts: accounts(
        79_098_731_000_000,
        9_182_681_000_000,
        10_100_716_000_000,
        480_000_000_000_000,
        99_000_000_000_000,
        [225_082_634_000_000, 26_232_569_000_000, 26_696_777_000_000],
        hanbitExtra(
          [31_000, 89_000],
          { current: 220_000, currentLiabilities: 74_000, cash: 50_000, borrowings: BORROWINGS_2024 },
          { operating: 47_000, depreciation: 28_000, amortisation: 2_100, interest: 630, dividends: 7_350 },
        ),
      ),
    },
    {
      corpCode: '00900001',
      year: 2024,
      reportCode: '11011',
      fsDiv: 'CFS',
      rceptNo: '20250311001085',
      accounts: accounts(
        300_870_903_000_000,
        32_725_961_000_000,
        34_451_351_000_000,
        514_531_948_000_000,
        112_339_878_000_000,
        undefined,
        hanbitExtra(
          [120_000, 120_000],
          { current: 227_000, currentLiabilities: 76_000, cash: 53_700, borrowings: BORROWINGS_2024 },
          { operating: 72_900, depreciation: 38_600, amortisation: 2_900, interest: 850, dividends: 9_800 },
        ),
      ),
    },
    {
      corpCode: '00900001',
      year: 2024,
      reportCode: '11011',
      fsDiv: 'OFS',
      rceptNo: '20250311001085',
      accounts: accounts(
        209_052_241_000_000,
        12_361_034_000_000,
        23_582_565_000_000,
        330_000_000_000_000,
        70_000_000_000_000,
      ),
    },
    {
      corpCode: '00900001',
      year: 2025,
      reportCode: '11013',
      fsDiv: 'CFS',
      rceptNo: '20250515000456',
      accounts: accounts(
        79_140_500_000_000,
        6_685_300_000_000,
        8_224_900_000_000,
        520_000_000_000_000,
        110_000_000_000_000,
        [79_140_500_000_000, 6_685_300_000_000, 8_224_900_000_000],
        hanbitExtra(
          [29_500, 29_500],
          {
            current: 230_000,
            currentLiabilities: 78_000,
            cash: 50_000,
            borrowings: [
              ['ifrs-full_ShorttermBorrowings', '단기차입금', 12_000],
              ['dart_LongTermBorrowingsGross', '장기차입금', 3_500],
            ],
          },
          { operating: 12_000, depreciation: 9_800, amortisation: 750, interest: 190, dividends: 2_450 },
        ),
      ),
    },
    // 누리화학: annual 2024 only; its Q1 2025 report is not yet filed (013)
    {
      corpCode: '00900002',
      year: 2024,
      reportCode: '11011',
      fsDiv: 'CFS',
      rceptNo: '20250318000789',
      accounts: accounts(4_120_000_000_000, 210_000_000_000, 150_000_000_000, 6_300_000_000_000, 2_900_000_000_000),
    },
    // 가람바이오: no subsidiaries, so separate statements only (CFS answers 013)
    {
      corpCode: '00900003',
      year: 2024,
      reportCode: '11011',
      fsDiv: 'OFS',
      rceptNo: '20250320001011',
      accounts: accounts(98_000_000_000, -12_500_000_000, -15_100_000_000, 210_000_000_000, 80_000_000_000),
    },
  ];
}

export function scriptedFilings(): ScriptedFiling[] {
  const f = (
    corp: string,
    name: string,
    stock: string,
    cls: string,
    report: string,
    rcept: string,
    periodic: boolean,
    rm = '',
  ): ScriptedFiling => ({
    corp_code: corp,
    corp_name: name,
    stock_code: stock,
    corp_cls: cls,
    report_nm: report,
    rcept_no: rcept,
    flr_nm: name,
    rcept_dt: rcept.slice(0, 8),
    rm,
    periodic,
  });
  return [
    f('00900001', '한빛전자', '111110', 'Y', '사업보고서 (2024.12)', '20250311001085', true, '연'),
    f('00900002', '누리화학', '111120', 'Y', '사업보고서 (2024.12)', '20250318000789', true, '연'),
    f('00900003', '가람바이오', '222210', 'K', '사업보고서 (2024.12)', '20250320001011', true, '코'),
    f('00900001', '한빛전자', '111110', 'Y', '주요사항보고서(주식분할결정)', '20250320000512', false, '유'),
    f('00900002', '누리화학', '111120', 'Y', '[기재정정]사업보고서 (2024.12)', '20250402000222', true, '정'),
    f('00900005', '다솜소프트', '222220', 'K', '상장폐지결정', '20250415000333', false, '코'),
    f('00900001', '한빛전자', '111110', 'Y', '분기보고서 (2025.03)', '20250515000456', true, '연'),
  ];
}

export function scriptedCorps(): ScriptedCorp[] {
  return [
    { corp_code: '00900001', corp_name: '한빛전자', stock_code: '111110', modify_date: '20250320' },
    { corp_code: '00900002', corp_name: '누리화학', stock_code: '111120', modify_date: '20250102' },
    { corp_code: '00900003', corp_name: '가람바이오', stock_code: '222210', modify_date: '20241130' },
    { corp_code: '00900004', corp_name: '비상장기술 & 파트너스', stock_code: ' ', modify_date: '20230615' },
    { corp_code: '00900005', corp_name: '다솜소프트', stock_code: '222220', modify_date: '20250415' },
    { corp_code: '00900006', corp_name: '새봄로보틱스', stock_code: '222230', modify_date: '20250425' },
  ];
}

/** OpenDART's filings of the scripted share issues, as its report APIs answer them. */
export interface ScriptedShareIssues {
  /** 무상증자 결정 rows (`fricDecsn`) */
  fric: Array<Record<string, string>>;
  /** 유무상증자 결정 rows (`pifricDecsn`) */
  pifric: Array<Record<string, string>>;
  /** 증권신고서(지분증권) (`estkRs`): per filing its 일반사항 row and 증권의종류 rows */
  estk: Array<{
    corp_code: string;
    rcept_no: string;
    general: Record<string, string>;
    securities: Array<Record<string, string>>;
  }>;
}

/**
 * 가람바이오's 무상증자 결정 (filed 04-10, one new common share per share, record date 04-30,
 * listing 05-20) and 누리화학's rights issue registration (filed 04-04, 15,200,000 shares at
 * 40,000 by 주주배정후 실권주 일반공모, record date 05-08), written the way captured answers
 * write them (REFERENCE.md §2.7): dates `2025년 04월 30일`, numbers with commas, `-` for none.
 * Also a 유무상증자 of 다솜소프트 whose bonus part has no readable record date, and a
 * third-party allotment of 새봄로보틱스 (no ex-rights day).
 */
export function scriptedShareIssues(): ScriptedShareIssues {
  const corp = (code: string, name: string, cls: string) => ({ corp_cls: cls, corp_code: code, corp_name: name });
  return {
    fric: [
      {
        rcept_no: '20250410000871',
        ...corp('00900003', '가람바이오', 'K'),
        nstk_ostk_cnt: '45,252,759',
        nstk_estk_cnt: '-',
        fv_ps: '500',
        bfic_tisstk_ostk: '45,252,759',
        bfic_tisstk_estk: '-',
        nstk_asstd: '2025년 04월 30일',
        nstk_ascnt_ps_ostk: '1',
        nstk_ascnt_ps_estk: '-',
        nstk_dividrk: '2025년 01월 01일',
        nstk_dlprd: '-',
        nstk_lstprd: '2025년 05월 20일',
        bddd: '2025년 04월 10일',
        od_a_at_t: '2',
        od_a_at_b: '0',
        adt_a_atn: '참석',
      },
    ],
    pifric: [
      {
        rcept_no: '20250303000412',
        ...corp('00900005', '다솜소프트', 'K'),
        piic_nstk_ostk_cnt: '9,056,364',
        piic_ic_mthn: '주주배정후 실권주 일반공모',
        fric_nstk_ostk_cnt: '4,528,182',
        fric_nstk_asstd: '-',
        fric_nstk_ascnt_ps_ostk: '0.1',
        fric_nstk_lstprd: '-',
        fric_bddd: '2025년 03월 03일',
        ssl_at: '아니오',
      },
    ],
    estk: [
      {
        corp_code: '00900002',
        rcept_no: '20250404000654',
        general: {
          rcept_no: '20250404000654',
          ...corp('00900002', '누리화학', 'Y'),
          sbd: '2025년 06월 10일 ~ 2025년 06월 11일',
          pymd: '2025년 06월 18일',
          sband: '2025년 06월 12일',
          asand: '2025년 06월 16일',
          asstd: '2025년 05월 08일',
          exstk: '-',
          exprc: '-',
          expd: '-',
          rpt_rcpn: '-',
        },
        securities: [
          {
            rcept_no: '20250404000654',
            ...corp('00900002', '누리화학', 'Y'),
            stksen: '기명식보통주',
            stkcnt: '15,200,000',
            fv: '5,000',
            slprc: '40,000',
            slta: '608,000,000,000',
            slmthn: '주주배정후 실권주 일반공모',
          },
        ],
      },
      {
        corp_code: '00900006',
        rcept_no: '20250425000199',
        general: {
          rcept_no: '20250425000199',
          ...corp('00900006', '새봄로보틱스', 'K'),
          sbd: '2025년 05월 12일',
          pymd: '2025년 05월 13일',
          sband: '-',
          asand: '-',
          asstd: '-',
          exstk: '-',
          exprc: '-',
          expd: '-',
          rpt_rcpn: '-',
        },
        securities: [
          {
            rcept_no: '20250425000199',
            ...corp('00900006', '새봄로보틱스', 'K'),
            stksen: '기명식보통주',
            stkcnt: '1,200,000',
            fv: '500',
            slprc: '21,000',
            slta: '25,200,000,000',
            slmthn: '제3자배정',
          },
        ],
      },
    ],
  };
}
