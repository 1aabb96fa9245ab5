export interface HttpResult<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

export interface RequestOptions {
  token?: string;
  body?: unknown;
  /** sent as-is instead of JSON.stringify(body) (a FormData as multipart, with its own content type) */
  rawBody?: string | FormData;
  headers?: Record<string, string>;
}

/** A small fetch wrapper for tests: JSON in, parsed JSON (or text) out, never throws on status. */
// Tests read what they expect from the body; `any` keeps assertions on it short.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function request<T = any>(
  method: string,
  url: string,
  options: RequestOptions = {},
): Promise<HttpResult<T>> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | FormData | undefined;
  if (options.rawBody instanceof FormData) {
    body = options.rawBody;
  } else if (options.rawBody !== undefined) {
    body = options.rawBody;
    headers['content-type'] ??= 'application/json';
  } else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] = 'application/json';
  }
  if (options.token) {
    headers.authorization = `Bearer ${options.token}`;
  }
  const res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(30000) });
  const text = await res.text();
  let parsed: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json') && text !== '') {
    parsed = JSON.parse(text);
  }
  return { status: res.status, headers: res.headers, body: parsed as T };
}

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  code: string;
}

/** Asserts the platform's stable error body: exactly these four fields, with these types. */
export function assertErrorBody(body: unknown): asserts body is ErrorBody {
  const b = body as Record<string, unknown>;
  const keys = Object.keys(b ?? {})
    .sort()
    .join(',');
  if (keys !== 'code,error,message,statusCode') {
    throw new Error(`not the stable error body: ${JSON.stringify(body)}`);
  }
  if (
    typeof b.statusCode !== 'number' ||
    typeof b.code !== 'string' ||
    typeof b.message !== 'string' ||
    typeof b.error !== 'string'
  ) {
    throw new Error(`error body has wrong types: ${JSON.stringify(body)}`);
  }
}

/**
 * `request`, sent again while the platform answers 503 with Retry-After (a dependency that did
 * not answer in time: the contract says come back later), for up to `withinMs`: what a client
 * that follows the contract gets. Every other answer, a 503 without Retry-After included, is
 * returned as it came. The scenarios use it: on a starved machine a Redis check can miss its
 * timeout and fail closed, which is correct and not what a scenario is about.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function requestPatiently<T = any>(
  method: string,
  url: string,
  options: RequestOptions = {},
  withinMs = 15_000,
): Promise<HttpResult<T>> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const res = await request<T>(method, url, options);
    const retryAfter = res.headers.get('retry-after');
    if (res.status !== 503 || retryAfter === null || Date.now() > deadline) {
      return res;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(500, Number(retryAfter) * 1000 || 500)));
  }
}
