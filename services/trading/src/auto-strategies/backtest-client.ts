import { Inject, Injectable, Logger } from '@nestjs/common';
import { CONFIG, DomainError } from '@stocklab/platform';
import type { TradingConfig } from '../config.js';

export interface ResearchStrategy {
  id: string;
  name: string;
  definition: unknown;
  schemaVersion: number;
  version: number;
}

/** Reads research strategies from the backtest service on behalf of the caller (their token). */
@Injectable()
export class BacktestClient {
  private readonly logger = new Logger(BacktestClient.name);

  constructor(@Inject(CONFIG) private readonly config: TradingConfig) {}

  async getStrategy(id: string, bearerToken: string): Promise<ResearchStrategy> {
    const url = new URL(`/api/backtest/strategies/${encodeURIComponent(id)}`, this.config.BACKTEST_URL);
    let res: Response;
    try {
      res = await fetch(url, {
        headers: { authorization: `Bearer ${bearerToken}`, accept: 'application/json' },
        signal: AbortSignal.timeout(this.config.BACKTEST_TIMEOUT_MS),
      });
    } catch (error) {
      this.logger.warn({ error: String(error) }, 'backtest service unreachable');
      throw unavailable('5');
    }
    if (res.status === 503) {
      // the backtest replica's own "come back later" (a dependency of its own timed out, it is
      // draining): passed on as such, so that clients retry instead of taking it as an error
      await res.body?.cancel();
      this.logger.warn({ status: res.status }, 'backtest service unavailable');
      throw unavailable(res.headers.get('retry-after') ?? '5');
    }
    if (res.status === 404) {
      await res.body?.cancel();
      throw new DomainError(404, 'STRATEGY_NOT_FOUND', `strategy ${id} not found`);
    }
    if (!res.ok) {
      await res.body?.cancel();
      this.logger.warn({ status: res.status }, 'backtest service answered with an error');
      throw new DomainError(502, 'BACKTEST_ERROR', `the backtest service answered ${res.status}`);
    }
    const body = (await res.json()) as Partial<ResearchStrategy>;
    if (typeof body.id !== 'string' || typeof body.name !== 'string' || typeof body.version !== 'number') {
      throw new DomainError(502, 'BACKTEST_ERROR', 'the backtest service answered with an unexpected body');
    }
    return body as ResearchStrategy;
  }
}

function unavailable(retryAfter: string): DomainError {
  return new DomainError(503, 'BACKTEST_UNAVAILABLE', 'the backtest service is unavailable, try again later', {
    'Retry-After': retryAfter,
  });
}
