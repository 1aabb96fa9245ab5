import type { KiwoomClient } from './client.js';
import { KiwoomError } from './errors.js';

/** KRX order types the platform sends (Kiwoom `trde_tp`): 0 보통 (limit), 3 시장가, 28 스톱지정가. */
export const TRDE_TP = { limit: '0', market: '3', stop: '28' } as const;
export type KiwoomOrderType = keyof typeof TRDE_TP;

export interface KiwoomOrderRequest {
  side: 'buy' | 'sell';
  /** 6-digit KRX code */
  code: string;
  quantity: number;
  type: KiwoomOrderType;
  /** the limit price (limit; stop: the limit once triggered); none for market */
  price?: number;
  /** stop: the trigger price */
  stopPrice?: number;
}

/** One row of kt00007 (계좌별주문체결내역상세), numbers parsed. */
export interface KiwoomOrderRow {
  ordNo: string;
  code: string;
  side: 'buy' | 'sell' | 'unknown';
  /** trde_tp as answered (0, 3, 28, ...) */
  type: string;
  quantity: number;
  price: number;
  stopPrice: number;
  filledQuantity: number;
  filledPrice: number;
  remaining: number;
  /** HH:mm:ss or HHmmss, as answered */
  time: string;
  /** 접수구분 / 정정취소 as answered (e.g. 접수, 확인, 취소, 거부) */
  acceptType: string;
  modifyCancel: string;
  originalOrdNo: string;
}

/** What the broker charged today on an order's fills (ka10076). */
export interface KiwoomFillCharges {
  ordNo: string;
  filledQuantity: number;
  commission: number;
  tax: number;
}

export interface KiwoomHolding {
  code: string;
  quantity: number;
  sellable: number;
  averagePrice: number;
}

/** Kiwoom numbers are strings, zero-padded and often signed by the day's direction: the magnitude counts. */
export function kiwoomNumber(value: unknown): number {
  if (typeof value === 'number') {
    return Math.abs(value);
  }
  const text = typeof value === 'string' ? value.trim().replace(/,/g, '') : '';
  if (text === '') {
    return 0;
  }
  const n = Math.abs(Number(text));
  return Number.isFinite(n) ? n : 0;
}

/** A field as text: strings and numbers as they are, anything else (absent, objects) as `fallback`. */
export function kiwoomText(value: unknown, fallback = ''): string {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : fallback;
}

/** Kiwoom codes sometimes carry the market prefix ("A005930"). */
export function kiwoomCode(value: unknown): string {
  const text = typeof value === 'string' ? value.trim() : '';
  return /^[A-Z]\d{6}$/.test(text) ? text.slice(1) : text;
}

function sideOf(ioTpNm: unknown): KiwoomOrderRow['side'] {
  const text = typeof ioTpNm === 'string' ? ioTpNm : '';
  return text.includes('매수') ? 'buy' : text.includes('매도') ? 'sell' : 'unknown';
}

/** The account calls the platform makes, on the KRX venue (the mock host offers no other). */
export class KiwoomAccountApi {
  constructor(private readonly client: KiwoomClient) {}

  /**
   * kt10000 / kt10001: answers the broker's order number. Never retried here (no idempotency key).
   * `sendBy`: the latest instant the request may leave (see CallOptions).
   */
  async placeOrder(order: KiwoomOrderRequest, sendBy?: number): Promise<string> {
    const apiId = order.side === 'buy' ? 'kt10000' : 'kt10001';
    const answer = await this.client.call<{ ord_no?: unknown }>(
      apiId,
      '/api/dostk/ordr',
      {
        dmst_stex_tp: 'KRX',
        stk_cd: order.code,
        ord_qty: String(order.quantity),
        ord_uv: order.type === 'market' ? '' : kiwoomText(order.price),
        trde_tp: TRDE_TP[order.type],
        cond_uv: order.type === 'stop' ? kiwoomText(order.stopPrice) : '',
      },
      'order',
      { sendBy },
    );
    if (typeof answer.body.ord_no !== 'string' || answer.body.ord_no === '') {
      // accepted without an order number: whether it stands is unknown
      throw new KiwoomError('ambiguous', apiId, `${apiId}: accepted without an order number`);
    }
    return answer.body.ord_no;
  }

  /** kt10003: cancels what remains of an order ("0" = all of it); answers the cancel's order number. */
  async cancelOrder(ordNo: string, code: string): Promise<string> {
    const answer = await this.client.call<{ ord_no?: unknown }>(
      'kt10003',
      '/api/dostk/ordr',
      { dmst_stex_tp: 'KRX', orig_ord_no: ordNo, stk_cd: code, cncl_qty: '0' },
      'order',
    );
    return kiwoomText(answer.body.ord_no);
  }

  /** kt00007: every order of `date` (yyyymmdd), of one stock or all, in order of placement, every page. */
  async ordersOf(date: string, code = ''): Promise<KiwoomOrderRow[]> {
    const rows = await this.client.all<Record<string, unknown>>(
      'kt00007',
      '/api/dostk/acnt',
      { ord_dt: date, qry_tp: '1', stk_bond_tp: '1', sell_tp: '0', stk_cd: code, fr_ord_no: '', dmst_stex_tp: '%' },
      'acnt_ord_cntr_prps_dtl',
    );
    return rows.map((r) => ({
      ordNo: kiwoomText(r.ord_no),
      code: kiwoomCode(r.stk_cd),
      side: sideOf(r.io_tp_nm),
      type: kiwoomText(r.trde_tp).trim(),
      quantity: kiwoomNumber(r.ord_qty),
      price: kiwoomNumber(r.ord_uv),
      stopPrice: kiwoomNumber(r.cond_uv),
      filledQuantity: kiwoomNumber(r.cntr_qty),
      filledPrice: kiwoomNumber(r.cntr_uv),
      remaining: kiwoomNumber(r.ord_remnq),
      time: kiwoomText(r.ord_tm),
      acceptType: kiwoomText(r.acpt_tp),
      modifyCancel: kiwoomText(r.mdfy_cncl),
      originalOrdNo: kiwoomText(r.ori_ord),
    }));
  }

  /** ka10076: today's orders with fills and the commission and tax charged on each (today only), every page. */
  async chargesToday(): Promise<Map<string, KiwoomFillCharges>> {
    const rows = await this.client.all<Record<string, unknown>>(
      'ka10076',
      '/api/dostk/acnt',
      { qry_tp: '0', sell_tp: '0', stk_cd: '', ord_no: '', stex_tp: '0' },
      'cntr',
    );
    return new Map(
      rows.map((r) => {
        const ordNo = kiwoomText(r.ord_no);
        return [
          ordNo,
          {
            ordNo,
            filledQuantity: kiwoomNumber(r.cntr_qty),
            commission: kiwoomNumber(r.tdy_trde_cmsn),
            tax: kiwoomNumber(r.tdy_trde_tax),
          },
        ];
      }),
    );
  }

  /** kt00018 (개별): the holdings, every page. */
  async holdings(): Promise<KiwoomHolding[]> {
    const rows = await this.client.all<Record<string, unknown>>(
      'kt00018',
      '/api/dostk/acnt',
      { qry_tp: '2', dmst_stex_tp: 'KRX' },
      'acnt_evlt_remn_indv_tot',
    );
    return rows.map((r) => ({
      code: kiwoomCode(r.stk_cd),
      quantity: kiwoomNumber(r.rmnd_qty),
      sellable: kiwoomNumber(r.trde_able_qty),
      averagePrice: kiwoomNumber(r.pur_pric),
    }));
  }

  /** kt00001: the cash orders may use (주문가능금액, not 예수금). */
  async orderableCash(): Promise<number> {
    const answer = await this.client.call<{ ord_alow_amt?: unknown }>(
      'kt00001',
      '/api/dostk/acnt',
      { qry_tp: '3' },
      'query',
    );
    return kiwoomNumber(answer.body.ord_alow_amt);
  }

  /** ka00001: the account number the app key trades (checks a linked account once). */
  async accountNumber(): Promise<string> {
    const answer = await this.client.call<{ acctNo?: unknown }>('ka00001', '/api/dostk/acnt', {}, 'query');
    return kiwoomText(answer.body.acctNo);
  }
}
