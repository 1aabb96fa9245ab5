import type { IncomingMessage, ServerResponse } from 'node:http';
import { busiestSecondOf } from '@stocklab/kiwoom';

/**
 * Faults the doubles can inject, the same for every provider:
 * - http-500 / http-503: answered with that status and a short HTML-ish body, nothing processed
 * - timeout: the request is held unanswered for `delayMs` (default: until the double closes)
 * - drop: the connection is destroyed without an answer
 * - rate-limit: the provider's own rate-limit answer (KRX 429, OpenDART 020, Kiwoom 1700)
 * - maintenance: the provider's maintenance answer where it has one (OpenDART 800), else 503
 * - malformed: HTTP 200 with a body that is not JSON
 * - partial: a well-formed answer missing data (KRX: the market answers an empty list on a
 *   trading day; OpenDART: a search page one filing short of its count; Kiwoom: rows without
 *   their volume)
 */
export type DoubleFault =
  'http-500' | 'http-503' | 'timeout' | 'drop' | 'rate-limit' | 'maintenance' | 'malformed' | 'partial';

interface Injection {
  fault: DoubleFault;
  times: number;
  after: number;
  /** only requests whose path contains this */
  path?: string;
  delayMs?: number;
}

export interface InjectOptions {
  /** how many matching requests get the fault; default 1 (Infinity: until cleared) */
  times?: number;
  /** matching requests to let through first; default 0 */
  after?: number;
  path?: string;
  delayMs?: number;
}

/** The faults to play and the requests seen, shared by the doubles. */
export class FaultPlan {
  private injections: Injection[] = [];
  /** arrival times (ms) of every request, by path */
  readonly arrivals = new Map<string, number[]>();

  inject(fault: DoubleFault, options: InjectOptions = {}): void {
    this.injections.push({
      fault,
      times: options.times ?? 1,
      after: options.after ?? 0,
      ...(options.path !== undefined ? { path: options.path } : {}),
      ...(options.delayMs !== undefined ? { delayMs: options.delayMs } : {}),
    });
  }

  clear(): void {
    this.injections = [];
    this.arrivals.clear();
  }

  /** Records the request and answers the fault it gets, if any. */
  take(path: string): { fault: DoubleFault; delayMs?: number } | undefined {
    this.arrivals.set(path, [...(this.arrivals.get(path) ?? []), Date.now()]);
    const injection = this.injections.find((i) => i.times > 0 && (i.path === undefined || path.includes(i.path)));
    if (!injection) {
      return undefined;
    }
    if (injection.after > 0) {
      injection.after -= 1;
      return undefined;
    }
    injection.times -= 1;
    return { fault: injection.fault, ...(injection.delayMs !== undefined ? { delayMs: injection.delayMs } : {}) };
  }

  /** Requests received on paths containing `path` (all when omitted). */
  count(path = ''): number {
    return [...this.arrivals.entries()].filter(([p]) => p.includes(path)).reduce((s, [, t]) => s + t.length, 0);
  }

  /** The most requests on paths containing `path` that arrived within any one second. */
  busiestSecond(path = ''): number {
    return busiestSecondOf([...this.arrivals.entries()].filter(([p]) => p.includes(path)).flatMap(([, t]) => t));
  }
}

/**
 * Plays the transport-level faults (the ones that look the same at every provider). Answers true
 * when the request was handled (the caller stops), false for faults the double answers itself.
 */
export async function playTransportFault(
  fault: { fault: DoubleFault; delayMs?: number } | undefined,
  req: IncomingMessage,
  res: ServerResponse,
  closed: Promise<void>,
): Promise<boolean> {
  switch (fault?.fault) {
    case 'http-500':
    case 'http-503': {
      const status = fault.fault === 'http-500' ? 500 : 503;
      res
        .writeHead(status, { 'content-type': 'text/html;charset=UTF-8' })
        .end(`<html><body>${status} Error</body></html>`);
      return true;
    }
    case 'drop':
      req.socket.destroy();
      return true;
    case 'timeout':
      await Promise.race([
        closed,
        new Promise((resolve) => setTimeout(resolve, fault.delayMs ?? 24 * 3600_000).unref()),
      ]);
      req.socket.destroy();
      return true;
    case 'malformed':
      res
        .writeHead(200, { 'content-type': 'application/json;charset=UTF-8' })
        .end('<html>Service Temporarily Unavailable');
      return true;
    default:
      return false;
  }
}
