import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { kiwoomText } from '../account-api.js';
import { isOnTick } from '../ticks.js';

/**
 * A test double of Kiwoom's REST API (docs: ../shared/reference/kiwoom-rest.md), faithful where
 * exactly-once depends on it: every call a POST with `api-id` and a bearer token; business errors
 * as HTTP 200 with `return_code` and a bracketed detail code; one valid token per app key (a new
 * one invalidates the old, as observed at the real broker); 5 orders and 5 queries per second per
 * app key, refused with 1700 beyond; order numbers and no client order id, so the same order sent
 * twice is two orders; paging with `cont-yn`/`next-key`; fills against a price path the test
 * plays (market at the open, limits and stop-limits at their prices); and injected faults.
 */

export interface DoubleAccount {
  appKey: string;
  secretKey: string;
  accountNo: string;
  cash: number;
  holdings?: Record<string, number>;
}

export interface DoubleOrder {
  ordNo: string;
  appKey: string;
  date: string;
  time: string;
  code: string;
  side: 'buy' | 'sell';
  /** trde_tp: 0 limit, 3 market, 28 stop-limit */
  type: '0' | '3' | '28';
  quantity: number;
  price: number;
  stopPrice: number;
  filledQuantity: number;
  filledPrice: number;
  status: 'open' | 'filled' | 'cancelled' | 'expired';
  /** the cash a buy holds back until it fills or ends */
  reserved: number;
  /** KRW charged on the fills so far (whole won, truncated per fill) */
  commission: number;
  tax: number;
  /** when it was placed (real time, Date.now()), for listLagMs */
  placedAtMs: number;
}

export type Fault =
  /** the request is processed (an order placed), then the connection dies unanswered */
  | 'drop-after-accept'
  /** the connection dies before anything happens */
  | 'drop-before'
  /** 500 without processing */
  | 'http-500'
  /** processed, then 500 */
  | 'http-500-after-accept'
  /** processed, answered after `delayMs` */
  | 'delay'
  /** processed only after `delayMs` (the broker took the request late), then answered */
  | 'accept-late'
  /** refused with 1700 */
  | 'rate-limit'
  /** the token in use is invalidated first (another session issued a new one) */
  | 'revoke-token';

interface Injection {
  apiId?: string;
  fault: Fault;
  times: number;
  delayMs: number;
  /** matching calls to let through untouched first */
  after: number;
}

interface Bar {
  open: number;
  high: number;
  low: number;
  close: number;
}

const ORDER_APIS = new Set(['kt10000', 'kt10001', 'kt10002', 'kt10003']);

type Answer = { status?: number; body: Record<string, unknown>; headers?: Record<string, string> };

function ymdOf(d: Date): { date: string; time: string; dt: string } {
  const kst = new Date(d.getTime() + 9 * 3600_000).toISOString();
  const date = kst.slice(0, 10).replaceAll('-', '');
  const time = kst.slice(11, 19).replaceAll(':', '');
  return { date, time, dt: `${date}${time}` };
}

const fail = (returnCode: number, message: string): Answer => ({
  body: { return_code: returnCode, return_msg: message },
});

export class KiwoomDouble {
  private readonly accounts = new Map<string, DoubleAccount & { holdings: Record<string, number> }>();
  private readonly tokens = new Map<string, string>();
  private readonly issued = new Map<string, number>();
  private readonly received = new Map<string, number[]>();
  private readonly admitted = new Map<string, number[]>();
  private readonly orders: DoubleOrder[] = [];
  private readonly injections: Injection[] = [];
  /** the day's base price of a stock (market buys hold back its upper limit) */
  readonly referencePrices = new Map<string, number>();
  private sequence = 0;
  /** the broker's clock for orders (they are stamped with it; tests move it) */
  now: () => Date = () => new Date();
  /** called once an order is placed, before it is answered (a test may kill its sender there) */
  onOrderPlaced?: (order: DoubleOrder) => void;
  /** rows per page of list answers (small, so that paging is exercised) */
  pageSize = 20;
  /** how long (real ms) after it is placed an order shows in the day's order list (kt00007) */
  listLagMs = 0;
  perSecond = { order: 5, query: 5 };
  /**
   * The hours (Korea, HH:mm) in which the order clock accepts regular orders; outside them an order
   * is refused as the mock host does after the close (RC4058). Unset: always open (tests whose order
   * clock follows the real time of day run at any hour).
   */
  sessionHours: { open: string; close: string } | undefined;
  /** what the broker charges on a fill: commission on every fill, the transaction tax on sells (basis points) */
  fees = { commissionBps: 1.5, sellTaxBps: 18 };

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<KiwoomDouble> {
    const holder: { double?: KiwoomDouble } = {};
    const server = createServer((req, res) => void holder.double?.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    holder.double = new KiwoomDouble(server, `http://127.0.0.1:${port}`);
    return holder.double;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  addAccount(account: DoubleAccount): void {
    this.accounts.set(account.appKey, { ...account, holdings: { ...(account.holdings ?? {}) } });
  }

  /** `fault` on the next `times` calls (of `apiId`, if given), after letting `after` such calls through. */
  inject(fault: Fault, options: { apiId?: string; times?: number; delayMs?: number; after?: number } = {}): void {
    this.injections.push({
      fault,
      times: options.times ?? 1,
      delayMs: options.delayMs ?? 0,
      after: options.after ?? 0,
      ...(options.apiId ? { apiId: options.apiId } : {}),
    });
  }

  /** Injected faults not yet used (of `apiId`, if given): a test can tell that every one was met. */
  faultsLeft(apiId?: string): number {
    return this.injections
      .filter((i) => !apiId || i.apiId === apiId)
      .reduce((left, i) => left + i.times + (i.times > 0 ? i.after : 0), 0);
  }

  /** Tokens issued for an app key so far. */
  issuances(appKey: string): number {
    return this.issued.get(appKey) ?? 0;
  }

  /** Every order the broker holds for an app key (a resent order is a second one). */
  ordersOf(appKey: string): DoubleOrder[] {
    return this.orders.filter((o) => o.appKey === appKey);
  }

  account(appKey: string): { cash: number; holdings: Record<string, number> } {
    const a = this.accounts.get(appKey);
    if (!a) {
      throw new Error(`no account for ${appKey}`);
    }
    return { cash: a.cash, holdings: { ...a.holdings } };
  }

  /** The most requests of a class received within any one second for an app key. */
  busiestSecond(appKey: string, kind: 'order' | 'query'): number {
    return busiestSecondOf(this.received.get(`${appKey}:${kind}`) ?? []);
  }

  /**
   * The market trades `code` on `date` (yyyymmdd) through `bar`: open orders of that day fill as a
   * KRX session would fill them (market at the open; a buy limit at or under the limit; a sell
   * limit at or over it; a stop-limit once the stop is touched, at its limit or better), whole or
   * `partial` of their quantity.
   */
  trade(date: string, code: string, bar: Bar, partial = 1): void {
    for (const order of this.orders) {
      if (order.date !== date || order.code !== code || order.status !== 'open') {
        continue;
      }
      const price = this.fillPrice(order, bar);
      if (price === undefined) {
        continue;
      }
      const quantity = Math.max(1, Math.floor((order.quantity - order.filledQuantity) * partial));
      this.fill(order, quantity, price);
    }
  }

  /** The session of `date` ends: what did not fill expires (day orders). */
  closeDay(date: string): void {
    for (const order of this.orders) {
      if (order.date === date && order.status === 'open') {
        order.status = 'expired';
        this.release(order);
      }
    }
  }

  private fillPrice(order: DoubleOrder, bar: Bar): number | undefined {
    if (order.type === '3') {
      return bar.open;
    }
    if (order.type === '0') {
      if (order.side === 'buy') {
        return bar.low <= order.price ? Math.min(bar.open, order.price) : undefined;
      }
      return bar.high >= order.price ? Math.max(bar.open, order.price) : undefined;
    }
    // stop-limit sell: triggered at the stop, then a limit at `price`
    if (bar.low > order.stopPrice) {
      return undefined;
    }
    const triggered = Math.min(bar.open, order.stopPrice);
    return triggered >= order.price ? triggered : bar.high >= order.price ? order.price : undefined;
  }

  private fill(order: DoubleOrder, quantity: number, price: number): void {
    const account = this.accounts.get(order.appKey);
    if (!account) {
      return;
    }
    const amount = quantity * price;
    const commission = Math.floor((amount * this.fees.commissionBps) / 10_000);
    const tax = order.side === 'sell' ? Math.floor((amount * this.fees.sellTaxBps) / 10_000) : 0;
    order.commission += commission;
    order.tax += tax;
    account.cash -= commission + tax;
    const before = order.filledQuantity;
    order.filledQuantity += quantity;
    order.filledPrice = Math.round((order.filledPrice * before + amount) / order.filledQuantity);
    if (order.side === 'buy') {
      const held = Math.min(order.reserved, (order.reserved / (order.quantity - before)) * quantity);
      order.reserved -= held;
      account.cash += held - amount;
      account.holdings[order.code] = (account.holdings[order.code] ?? 0) + quantity;
    } else {
      account.cash += amount;
    }
    if (order.filledQuantity >= order.quantity) {
      order.status = 'filled';
      this.release(order);
    }
  }

  private release(order: DoubleOrder): void {
    const account = this.accounts.get(order.appKey);
    if (!account) {
      return;
    }
    if (order.side === 'buy') {
      account.cash += order.reserved;
      order.reserved = 0;
    } else {
      account.holdings[order.code] = (account.holdings[order.code] ?? 0) + (order.quantity - order.filledQuantity);
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) {
      chunks.push(chunk as Buffer);
    }
    const apiId = String(req.headers['api-id'] ?? '');
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
    } catch {
      return this.answer(res, fail(2, '입력 값 오류입니다[1501:JSON 형식 오류]'));
    }
    let injection = this.injections.find((i) => i.times > 0 && (!i.apiId || i.apiId === apiId));
    if (injection && injection.after > 0) {
      injection.after -= 1;
      injection = undefined;
    } else if (injection) {
      injection.times -= 1;
    }
    const fault = injection?.fault;
    if (fault === 'drop-before') {
      req.socket.destroy();
      return;
    }
    if (fault === 'http-500') {
      res.writeHead(500).end('Internal Server Error');
      return;
    }
    if (fault === 'accept-late') {
      await new Promise((resolve) => setTimeout(resolve, injection?.delayMs ?? 0));
    }
    const answer = await this.process(req, apiId, body, fault);
    if (fault === 'drop-after-accept') {
      req.socket.destroy();
      return;
    }
    if (fault === 'http-500-after-accept') {
      res.writeHead(500).end('Internal Server Error');
      return;
    }
    if (fault === 'delay') {
      await new Promise((resolve) => setTimeout(resolve, injection?.delayMs ?? 0));
    }
    this.answer(res, answer);
  }

  private answer(res: ServerResponse, answer: Answer): void {
    if (res.destroyed) {
      return;
    }
    res.writeHead(answer.status ?? 200, {
      'content-type': 'application/json;charset=UTF-8',
      ...(answer.headers ?? {}),
    });
    res.end(JSON.stringify(answer.body));
  }

  private async process(
    req: IncomingMessage,
    apiId: string,
    body: Record<string, unknown>,
    fault: Fault | undefined,
  ): Promise<Answer> {
    const path = req.url ?? '';
    if (path === '/oauth2/token') {
      return this.issueToken(body);
    }
    if (path === '/oauth2/revoke') {
      const appKey = kiwoomText(body.appkey);
      if (this.tokens.get(appKey) === body.token) {
        this.tokens.delete(appKey);
      }
      return { body: { return_code: 0, return_msg: '정상적으로 처리되었습니다' } };
    }
    const bearer = /^Bearer (.+)$/i.exec(kiwoomText(req.headers.authorization))?.[1];
    const appKey = [...this.tokens.entries()].find(([, token]) => token === bearer)?.[0];
    if (fault === 'revoke-token' && appKey) {
      this.tokens.delete(appKey);
    }
    if (!appKey || this.tokens.get(appKey) !== bearer) {
      return fail(3, '[8005:Token이 유효하지 않습니다]');
    }
    const kind = ORDER_APIS.has(apiId) ? 'order' : 'query';
    if (!this.admit(appKey, kind) || fault === 'rate-limit') {
      return fail(5, `허용된 요청 개수를 초과하였습니다[1700:허용된 요청 개수를 초과하였습니다. API ID=${apiId}]`);
    }
    const account = this.accounts.get(appKey);
    if (!account) {
      return fail(2, '입력 값 오류입니다[8002:등록되지 않은 App Key]');
    }
    switch (apiId) {
      case 'kt10000':
      case 'kt10001':
        return this.placeOrder(appKey, account, apiId === 'kt10000' ? 'buy' : 'sell', body);
      case 'kt10003':
        return this.cancelOrder(appKey, body);
      case 'kt00007':
        return this.page(req, 'acnt_ord_cntr_prps_dtl', this.orderRows(appKey, body));
      case 'ka10076':
        return this.page(req, 'cntr', this.fillRows(appKey, body));
      case 'kt00018':
        return this.page(
          req,
          'acnt_evlt_remn_indv_tot',
          Object.entries(account.holdings)
            .filter(([code, q]) => q + this.reservedSell(appKey, code) > 0)
            .map(([code, quantity]) => ({
              stk_cd: `A${code}`,
              rmnd_qty: String(quantity + this.reservedSell(appKey, code)).padStart(15, '0'),
              trde_able_qty: String(quantity).padStart(15, '0'),
              pur_pric: '000000000000000',
            })),
        );
      case 'kt00001':
        return {
          body: {
            return_code: 0,
            return_msg: '조회가 완료되었습니다',
            entr: String(account.cash).padStart(15, '0'),
            ord_alow_amt: String(account.cash).padStart(15, '0'),
          },
        };
      case 'ka00001':
        return { body: { return_code: 0, return_msg: '조회가 완료되었습니다', acctNo: account.accountNo } };
      default:
        return fail(2, `입력 값 오류입니다[1511:지원하지 않는 API ID ${apiId}]`);
    }
  }

  private issueToken(body: Record<string, unknown>): Answer {
    const account = this.accounts.get(kiwoomText(body.appkey));
    if (body.grant_type !== 'client_credentials' || !account || account.secretKey !== body.secretkey) {
      return fail(3, '[8001:App Key와 Secret Key 검증에 실패했습니다]');
    }
    // a new token replaces the app key's previous one at once (observed at the real broker)
    const token = randomBytes(24).toString('base64url');
    this.tokens.set(account.appKey, token);
    this.issued.set(account.appKey, this.issuances(account.appKey) + 1);
    // tokens live in real time, whatever day the order clock shows
    const expires = ymdOf(new Date(Date.now() + 24 * 3600_000)).dt;
    return {
      body: {
        return_code: 0,
        return_msg: '정상적으로 처리되었습니다',
        token,
        token_type: 'bearer',
        expires_dt: expires,
      },
    };
  }

  private admit(appKey: string, kind: 'order' | 'query'): boolean {
    const at = Date.now();
    const key = `${appKey}:${kind}`;
    this.received.set(key, [...(this.received.get(key) ?? []), at]);
    const recent = (this.admitted.get(key) ?? []).filter((t) => at - t < 1000);
    if (recent.length >= this.perSecond[kind]) {
      this.admitted.set(key, recent);
      return false;
    }
    this.admitted.set(key, [...recent, at]);
    return true;
  }

  private placeOrder(
    appKey: string,
    account: DoubleAccount & { holdings: Record<string, number> },
    side: 'buy' | 'sell',
    body: Record<string, unknown>,
  ): Answer {
    const code = kiwoomText(body.stk_cd);
    const quantity = Number(body.ord_qty);
    const type = kiwoomText(body.trde_tp);
    const price = body.ord_uv === '' || body.ord_uv === undefined ? 0 : Number(body.ord_uv);
    const stopPrice = body.cond_uv === '' || body.cond_uv === undefined ? 0 : Number(body.cond_uv);
    if (body.dmst_stex_tp !== 'KRX') {
      return fail(20, '[2000](RC9000:모의투자에서는 KRX만 주문 가능합니다)');
    }
    if (!/^\d{6}$/.test(code)) {
      return fail(2, '입력 값 오류입니다[1902:종목코드 오류]');
    }
    if (!Number.isInteger(quantity) || quantity <= 0 || !['0', '3', '28'].includes(type)) {
      return fail(2, '입력 값 오류입니다[1516:주문수량 또는 매매구분 오류]');
    }
    const { date, time } = ymdOf(this.now());
    if (type !== '3' && !isOnTick(price, date)) {
      return fail(20, '[2000](RC4025:호가단위가 맞지 않습니다)');
    }
    if (type === '28' && (!isOnTick(stopPrice, date) || side !== 'sell')) {
      return fail(20, '[2000](RC4026:스톱가격 오류)');
    }
    const hhmm = `${time.slice(0, 2)}:${time.slice(2, 4)}`;
    if (this.sessionHours && (hhmm < this.sessionHours.open || hhmm >= this.sessionHours.close)) {
      return fail(20, '[2000](RC4058:모의투자 장종료)');
    }
    let reserved = 0;
    if (side === 'buy') {
      // a market buy holds back its worst price: the upper limit, 30 % over the reference price
      reserved = quantity * (type === '3' ? Math.ceil((this.referencePrices.get(code) ?? 0) * 1.3) : price);
      if (reserved > account.cash) {
        return fail(20, '[2000](855056:매수증거금이 부족합니다)');
      }
      account.cash -= reserved;
    } else {
      const sellable = account.holdings[code] ?? 0;
      if (quantity > sellable) {
        return fail(20, '[2000](RC4039:매도가능수량이 부족합니다)');
      }
      account.holdings[code] = sellable - quantity;
    }
    this.sequence += 1;
    const ordNo = String(this.sequence).padStart(7, '0');
    const placed: DoubleOrder = {
      ordNo,
      appKey,
      date,
      time,
      code,
      side,
      type: type as DoubleOrder['type'],
      quantity,
      price,
      stopPrice,
      filledQuantity: 0,
      filledPrice: 0,
      status: 'open',
      reserved,
      commission: 0,
      tax: 0,
      placedAtMs: Date.now(),
    };
    this.orders.push(placed);
    this.onOrderPlaced?.(placed);
    return { body: { return_code: 0, return_msg: '매수주문이 완료되었습니다', ord_no: ordNo, dmst_stex_tp: 'KRX' } };
  }

  private cancelOrder(appKey: string, body: Record<string, unknown>): Answer {
    const original = this.orders.find((o) => o.appKey === appKey && o.ordNo === body.orig_ord_no);
    if (!original || original.status !== 'open') {
      return fail(20, '[2000](RC4047:취소가능수량이 없습니다)');
    }
    const remaining = original.quantity - original.filledQuantity;
    original.status = 'cancelled';
    this.release(original);
    this.sequence += 1;
    return {
      body: {
        return_code: 0,
        return_msg: '취소주문이 완료되었습니다',
        ord_no: String(this.sequence).padStart(7, '0'),
        base_orig_ord_no: original.ordNo,
        cncl_qty: String(remaining),
      },
    };
  }

  private reservedSell(appKey: string, code: string): number {
    return this.orders
      .filter((o) => o.appKey === appKey && o.side === 'sell' && o.status === 'open' && o.code === code)
      .reduce((s, o) => s + o.quantity - o.filledQuantity, 0);
  }

  private orderRows(appKey: string, body: Record<string, unknown>): Array<Record<string, unknown>> {
    const date = kiwoomText(body.ord_dt) || ymdOf(this.now()).date;
    const code = kiwoomText(body.stk_cd);
    const sellTp = kiwoomText(body.sell_tp, '0');
    const qryTp = kiwoomText(body.qry_tp, '1');
    const listedBefore = Date.now() - this.listLagMs;
    let rows = this.orders.filter(
      (o) =>
        o.appKey === appKey &&
        o.placedAtMs <= listedBefore &&
        o.date === date &&
        (code === '' || o.code === code) &&
        (sellTp === '0' || (sellTp === '1') === (o.side === 'sell')) &&
        (qryTp !== '3' || o.status === 'open') &&
        (qryTp !== '4' || o.filledQuantity > 0),
    );
    if (qryTp === '2') {
      rows = rows.slice().reverse();
    }
    return rows.map((o) => ({
      ord_no: o.ordNo,
      stk_cd: `A${o.code}`,
      trde_tp: o.type,
      ord_qty: String(o.quantity).padStart(10, '0'),
      ord_uv: String(o.price).padStart(10, '0'),
      cond_uv: String(o.stopPrice).padStart(10, '0'),
      cnfm_qty: String(o.status === 'cancelled' ? o.quantity - o.filledQuantity : 0).padStart(10, '0'),
      acpt_tp: o.status === 'open' ? '접수' : o.status === 'filled' ? '체결' : '확인',
      ord_tm: `${o.time.slice(0, 2)}:${o.time.slice(2, 4)}:${o.time.slice(4, 6)}`,
      ori_ord: '',
      io_tp_nm: o.side === 'buy' ? '현금매수' : '현금매도',
      cntr_qty: String(o.filledQuantity).padStart(10, '0'),
      cntr_uv: String(o.filledPrice).padStart(10, '0'),
      ord_remnq: String(o.status === 'open' ? o.quantity - o.filledQuantity : 0).padStart(10, '0'),
      mdfy_cncl: o.status === 'cancelled' ? '취소' : o.status === 'expired' ? '만료' : '',
      dmst_stex_tp: 'KRX',
    }));
  }

  /** ka10076 (체결): today's orders with fills, newest first, with the day's commission and tax of each. */
  private fillRows(appKey: string, body: Record<string, unknown>): Array<Record<string, unknown>> {
    const today = ymdOf(this.now()).date;
    const code = kiwoomText(body.stk_cd);
    const oneStock = kiwoomText(body.qry_tp, '0') === '1';
    return this.orders
      .filter((o) => o.appKey === appKey && o.date === today && o.filledQuantity > 0 && (!oneStock || o.code === code))
      .reverse()
      .map((o) => ({
        ord_no: o.ordNo,
        stk_cd: o.code,
        io_tp_nm: o.side === 'buy' ? '+매수' : '-매도',
        ord_qty: String(o.quantity),
        ord_pric: String(o.price),
        cntr_qty: String(o.filledQuantity),
        cntr_pric: String(o.filledPrice),
        oso_qty: String(o.status === 'open' ? o.quantity - o.filledQuantity : 0),
        ord_stt: o.status === 'filled' ? '체결' : '접수',
        ord_tm: o.time,
        tdy_trde_cmsn: String(o.commission),
        tdy_trde_tax: String(o.tax),
      }));
  }

  private page(req: IncomingMessage, listKey: string, rows: Array<Record<string, unknown>>): Answer {
    const from = req.headers['cont-yn'] === 'Y' ? Number(req.headers['next-key'] ?? 0) || 0 : 0;
    const slice = rows.slice(from, from + this.pageSize);
    const more = from + this.pageSize < rows.length;
    return {
      body: { return_code: 0, return_msg: '조회가 완료되었습니다', [listKey]: slice },
      headers: more ? { 'cont-yn': 'Y', 'next-key': String(from + this.pageSize) } : { 'cont-yn': 'N', 'next-key': '' },
    };
  }
}

/** The most arrival times (ms) that fall within any one second: what a per-second rate limit bounds. */
export function busiestSecondOf(arrivals: readonly number[]): number {
  const times = [...arrivals].sort((a, b) => a - b);
  let best = 0;
  let from = 0;
  for (let to = 0; to < times.length; to += 1) {
    while (times[to] - times[from] >= 1000) {
      from += 1;
    }
    best = Math.max(best, to - from + 1);
  }
  return best;
}
