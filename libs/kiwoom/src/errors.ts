/**
 * Kiwoom answers business errors with HTTP 200 and `return_code != 0`; the precise reason is the
 * bracketed detail code inside `return_msg` (`허용된 요청 개수를 초과하였습니다[1700:...]`,
 * `[2000](855056:매수증거금이 부족합니다)`), sometimes the code itself in `return_code`. What the
 * caller may do about each is decided here, once.
 */

/**
 * - retry: nothing happened at the broker; the same request may be sent again after a pause
 * - reauth: the token is no longer valid; issue a new one (once) and send again
 * - reject: refused for good (input, account, market state, money): do not send again
 * - ambiguous: the broker may or may not have acted (timeout, lost answer, 5xx, "unexpected"): an
 *   order in this state is never resent blindly, it is looked up first
 */
export type KiwoomErrorCategory = 'retry' | 'reauth' | 'reject' | 'ambiguous';

export class KiwoomError extends Error {
  constructor(
    readonly category: KiwoomErrorCategory,
    readonly apiId: string,
    message: string,
    /** the bracketed detail code (1700, 8005, 2000, ...) or the HTTP status, when known */
    readonly code?: string,
    readonly returnCode?: number,
  ) {
    super(message);
    this.name = 'KiwoomError';
  }
}

/** Detail codes whose meaning the official guide states, by what a caller can do about them. */
const REAUTH = new Set(['8005']);
const RETRY = new Set(['1700']);
const AMBIGUOUS = new Set(['1999']);

/** The detail code of a `return_msg`: the first bracketed number, or the first `(code:` inside brackets. */
export function detailCode(message: string): string | undefined {
  const bracket = /\[(\d{3,6})[:\]]/.exec(message);
  if (bracket) {
    return bracket[1];
  }
  const inner = /\((?:RC)?(\d{3,6}):/.exec(message);
  return inner?.[1];
}

/**
 * The error in a parsed answer, if any. `return_code` 0 is success; anything else is classified by
 * its detail code (falling back to the return code itself, which some answers carry instead).
 */
export function errorOfAnswer(
  apiId: string,
  body: { return_code?: unknown; return_msg?: unknown },
): KiwoomError | undefined {
  const returnCode = Number(body.return_code ?? 0);
  if (returnCode === 0) {
    return undefined;
  }
  const message = typeof body.return_msg === 'string' ? body.return_msg : '';
  const code = detailCode(message) ?? String(returnCode);
  const category: KiwoomErrorCategory = REAUTH.has(code)
    ? 'reauth'
    : RETRY.has(code)
      ? 'retry'
      : AMBIGUOUS.has(code)
        ? 'ambiguous'
        : 'reject';
  return new KiwoomError(category, apiId, `${apiId}: ${message || `return_code ${returnCode}`}`, code, returnCode);
}

/** An HTTP status other than 200: 401 re-authenticates, 429 is the rate limit, 5xx may have acted. */
export function errorOfStatus(apiId: string, status: number, text: string): KiwoomError {
  const category: KiwoomErrorCategory =
    status === 401 ? 'reauth' : status === 429 ? 'retry' : status >= 500 ? 'ambiguous' : 'reject';
  return new KiwoomError(category, apiId, `${apiId}: HTTP ${status} ${text.slice(0, 200)}`, String(status));
}
