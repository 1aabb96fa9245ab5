import type { Market } from '../data/market-data.js';
import { PeriodIndex } from './periods.js';

/**
 * One period of the tax a sell of a listed stock pays: the securities transaction tax
 * (증권거래세) plus, on KOSPI, the rural development special tax (농어촌특별세), both in basis
 * points of the sell amount.
 *
 * `from` is the first SELL (trade) date the rates apply to. The laws set their rates by the date
 * of transfer (양도), which for an exchange trade is its settlement day, T+2 trading days
 * (증권거래세법 시행령 제2조); so a rate "from 1 January" applies to the trades of the last
 * trading days of December whose settlement falls in January. `from` is that first trade date,
 * derived from the KRX calendar and, where given, confirmed by the source.
 */
export interface SellTaxPeriod {
  market: Market;
  /** yyyymmdd: the first sell (trade) date of the period; it lasts until the next row's `from`. */
  from: number;
  /** 증권거래세, basis points of the sell amount. */
  transactionTaxBps: number;
  /** 농어촌특별세, basis points of the sell amount (KOSPI only; 0 elsewhere). */
  ruralTaxBps: number;
  /** The law, decree or announcement the row comes from, with its dates. */
  source: string;
}

const BEFORE_2019 =
  'rates in force since before 2015: 증권거래세법 시행령 제5조 (KOSPI 0.15 %, KOSDAQ and KONEX 0.30 %), 농어촌특별세법 제5조 (0.15 % of KOSPI transfers)';
const CUT_2019 =
  '증권거래세법 시행령 개정 (국무회의 2019-05-21): KOSPI 0.15 -> 0.10 %, KOSDAQ 0.30 -> 0.25 %, KONEX 0.30 -> 0.10 %, 농특세 0.15 % unchanged; transfers settled from 2019-06-03 = trades from 2019-05-30 (기획재정부 보도자료 2019-05-21; etnews 2019-05-21)';
const CUT_2021 =
  '2020 세법개정 (증권거래세법 시행령 제5조): KOSPI 0.08 %, KOSDAQ 0.23 % for transfers from 2021-01-01; KRX closed 2020-12-31, so trades from 2020-12-29 settle 2021-01-04 (이데일리 2020-12-29, quoting 한국거래소)';
const CUT_2023 =
  '2022 세법개정 (증권거래세법 시행령 제5조 as amended 2023-02-28, effective for transfers from 2023-01-01): KOSPI 0.05 %, KOSDAQ 0.20 %; KRX closed 2022-12-30, so trades from 2022-12-28 settle 2023-01-02';
const CUT_2024 =
  '증권거래세법 시행령 제5조 (2023-02-28 amendment, second step): KOSPI 0.03 %, KOSDAQ 0.18 % for transfers from 2024-01-01; KRX closed 2023-12-29, so trades from 2023-12-27 settle 2024-01-02';
const CUT_2025 =
  '증권거래세법 시행령 제5조 (2023-02-28 amendment, third step): KOSPI 0 %, KOSDAQ 0.15 % for transfers from 2025-01-01; trades from 2024-12-27 (금융투자협회/증권사 notices: "2024년 12월 27일(금) 매도 체결분부터")';
const RESTORED_2026 =
  '2025 세법개정 (증권거래세법 시행령 개정, 입법예고 2025-12-01): KOSPI 0.05 %, KOSDAQ 0.20 % (the 2023 rates) for transfers from 2026-01-01, KONEX 0.10 % unchanged; KRX closed 2025-12-31, so trades from 2025-12-29 settle 2026-01-02';
const KONEX_UNCHANGED = 'KONEX 0.10 % since 2019-05-30, unchanged by the later amendments (증권거래세법 시행령 제5조)';

/** The tax on sells by market and date since 2015; data, checked against the sources by a test. */
export const SELL_TAX_TABLE: readonly SellTaxPeriod[] = [
  { market: 'KOSPI', from: 20150101, transactionTaxBps: 15, ruralTaxBps: 15, source: BEFORE_2019 },
  { market: 'KOSPI', from: 20190530, transactionTaxBps: 10, ruralTaxBps: 15, source: CUT_2019 },
  { market: 'KOSPI', from: 20201229, transactionTaxBps: 8, ruralTaxBps: 15, source: CUT_2021 },
  { market: 'KOSPI', from: 20221228, transactionTaxBps: 5, ruralTaxBps: 15, source: CUT_2023 },
  { market: 'KOSPI', from: 20231227, transactionTaxBps: 3, ruralTaxBps: 15, source: CUT_2024 },
  { market: 'KOSPI', from: 20241227, transactionTaxBps: 0, ruralTaxBps: 15, source: CUT_2025 },
  { market: 'KOSPI', from: 20251229, transactionTaxBps: 5, ruralTaxBps: 15, source: RESTORED_2026 },
  { market: 'KOSDAQ', from: 20150101, transactionTaxBps: 30, ruralTaxBps: 0, source: BEFORE_2019 },
  { market: 'KOSDAQ', from: 20190530, transactionTaxBps: 25, ruralTaxBps: 0, source: CUT_2019 },
  { market: 'KOSDAQ', from: 20201229, transactionTaxBps: 23, ruralTaxBps: 0, source: CUT_2021 },
  { market: 'KOSDAQ', from: 20221228, transactionTaxBps: 20, ruralTaxBps: 0, source: CUT_2023 },
  { market: 'KOSDAQ', from: 20231227, transactionTaxBps: 18, ruralTaxBps: 0, source: CUT_2024 },
  { market: 'KOSDAQ', from: 20241227, transactionTaxBps: 15, ruralTaxBps: 0, source: CUT_2025 },
  { market: 'KOSDAQ', from: 20251229, transactionTaxBps: 20, ruralTaxBps: 0, source: RESTORED_2026 },
  { market: 'KONEX', from: 20150101, transactionTaxBps: 30, ruralTaxBps: 0, source: BEFORE_2019 },
  { market: 'KONEX', from: 20190530, transactionTaxBps: 10, ruralTaxBps: 0, source: `${CUT_2019}; ${KONEX_UNCHANGED}` },
];

/**
 * The period in force for a sell on `date` (yyyymmdd) of a stock of `market`. Dates before the
 * table's first row (2015-01-01) use the first row.
 */
export function sellTaxPeriod(date: number, market: Market): SellTaxPeriod {
  return PERIODS.at(date, market);
}

const PERIODS = new PeriodIndex(SELL_TAX_TABLE.map((row) => ({ from: row.from, markets: [row.market], value: row })));

/**
 * The tax on a sell of `amount` whole won: each tax truncated to the won on its own (as brokers
 * withhold them), then summed.
 */
export function sellTax(amount: number, date: number, market: Market): number {
  const p = sellTaxPeriod(date, market);
  return Math.floor((amount * p.transactionTaxBps) / 10_000) + Math.floor((amount * p.ruralTaxBps) / 10_000);
}
