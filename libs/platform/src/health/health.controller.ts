import { Controller, Get, HttpCode, Inject, Res, ServiceUnavailableException } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService, type HealthCheckResult } from '@nestjs/terminus';
import type { Response } from 'express';
import type { Redis } from 'ioredis';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DataSource } from 'typeorm';
import { Public } from '../auth/auth.decorators.js';
import { ShutdownState } from '../lifecycle/shutdown-state.js';
import { RevocationStore } from '../auth/revocation-store.js';
import { SchemaVersionCheck } from '../database/schema-version.js';
import { REDIS } from '../redis/redis.tokens.js';

const CHECK_TIMEOUT_MS = 1000;
/** Liveness fails only when the event loop is stuck for this long: a restart is the cure then. */
const EVENT_LOOP_MAX_DELAY_MS = 5000;

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

@ApiExcludeController()
@Public()
@Controller('health')
export class HealthController {
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 20 });
  private readonly schema: SchemaVersionCheck;

  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly shutdown: ShutdownState,
    private readonly dataSource: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(RevocationStore) private readonly revocations: RevocationStore,
  ) {
    this.loopDelay.enable();
    this.schema = new SchemaVersionCheck(dataSource);
  }

  @Get('live')
  @HealthCheck()
  async live(@Res({ passthrough: true }) res: Response): Promise<HealthCheckResult> {
    return this.respond(res, () =>
      this.health.check([
        () => {
          const maxDelayMs = this.loopDelay.max / 1e6;
          this.loopDelay.reset();
          const session = this.indicators.check('eventLoop');
          const data = { maxDelayMs: Math.round(maxDelayMs), uptimeSeconds: Math.round(process.uptime()) };
          return maxDelayMs < EVENT_LOOP_MAX_DELAY_MS ? session.up(data) : session.down(data);
        },
      ]),
    );
  }

  @Get('ready')
  @HttpCode(200)
  @HealthCheck()
  async ready(@Res({ passthrough: true }) res: Response): Promise<HealthCheckResult> {
    return this.respond(res, () =>
      this.health.check([
        () => {
          const session = this.indicators.check('lifecycle');
          return this.shutdown.shuttingDown ? session.down({ message: 'shutting down' }) : session.up();
        },
        async () => {
          const session = this.indicators.check('postgres');
          try {
            await withTimeout(this.dataSource.query('SELECT 1'), CHECK_TIMEOUT_MS, 'PostgreSQL');
            return session.up();
          } catch (error) {
            return session.down({ message: (error as Error).message });
          }
        },
        async () => {
          // a pod of a new release that starts before the migration Job has finished waits here,
          // unready, instead of serving against the previous release's schema
          const session = this.indicators.check('schema');
          try {
            const state = await withTimeout(this.schema.check(), CHECK_TIMEOUT_MS, 'PostgreSQL');
            const data = { schema: state.schema, applied: state.applied, required: state.required?.version };
            return state.ready ? session.up(data) : session.down({ ...data, message: state.message });
          } catch (error) {
            return session.down({ message: (error as Error).message });
          }
        },
        async () => {
          const session = this.indicators.check('redis');
          try {
            await withTimeout(this.redis.ping(), CHECK_TIMEOUT_MS, 'Redis');
            return session.up();
          } catch (error) {
            return session.down({ message: (error as Error).message });
          }
        },
        async () => {
          // a Redis that lost its data cannot tell revoked tokens apart until auth restores the list
          const session = this.indicators.check('revocations');
          try {
            const restored = await withTimeout(this.revocations.isRestored(), CHECK_TIMEOUT_MS, 'Redis');
            return restored ? session.up() : session.down({ message: 'the revocation list is being restored' });
          } catch (error) {
            return session.down({ message: (error as Error).message });
          }
        },
      ]),
    );
  }

  /** Keeps terminus' detailed body on 503 instead of the generic error body. */
  private async respond(res: Response, run: () => Promise<HealthCheckResult>): Promise<HealthCheckResult> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof ServiceUnavailableException) {
        res.status(503);
        return error.getResponse() as HealthCheckResult;
      }
      throw error;
    }
  }
}
