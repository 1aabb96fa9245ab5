import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ValidationPipe, type DynamicModule, type ModuleMetadata } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LoggerModule } from 'nestjs-pino';
import type { Redis } from 'ioredis';
import type { DataSourceOptions } from 'typeorm';
import { AccessTokenVerifier } from './auth/access-token-verifier.js';
import { JwtAuthGuard } from './auth/jwt-auth.guard.js';
import { resolvePublicKeys } from './auth/resolve-keys.js';
import { RevocationStore } from './auth/revocation-store.js';
import { CONFIG, type CommonConfig } from './config/platform-config.js';
import { AllExceptionsFilter } from './errors/all-exceptions.filter.js';
import { HealthController } from './health/health.controller.js';
import { ShutdownState } from './lifecycle/shutdown-state.js';
import { HttpMetrics } from './metrics/http-metrics.js';
import { MetricsController } from './metrics/metrics.controller.js';
import { RevocationMetrics } from './metrics/revocation-metrics.js';
import { RedisLifecycle } from './redis/redis-lifecycle.js';
import { createRedisClient } from './redis/redis-client.js';
import { REDIS } from './redis/redis.tokens.js';

export interface PlatformModuleOptions {
  service: string;
  config: CommonConfig;
  dataSource: DataSourceOptions;
  /** how long access tokens live at most: per-user revocation markers must outlive them */
  maxAccessTokenLifetimeSeconds: number;
}

const QUIET_PATHS = new Set(['/health/live', '/health/ready', '/metrics']);

export function validationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    validationError: { target: false, value: false },
  });
}

/** Everything a StockLab service needs besides its own features. */
export class PlatformModule {
  static forRoot(options: PlatformModuleOptions): DynamicModule {
    const { config, service } = options;
    const imports: ModuleMetadata['imports'] = [
      LoggerModule.forRoot({
        pinoHttp: {
          level: config.LOG_LEVEL,
          base: { service, pod: config.POD_NAME },
          messageKey: 'msg',
          genReqId: (req: IncomingMessage, res) => {
            const incoming = req.headers['x-request-id'];
            const id = typeof incoming === 'string' && /^[\w.:-]{1,128}$/.test(incoming) ? incoming : randomUUID();
            res.setHeader('X-Request-Id', id);
            return id;
          },
          redact: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'],
          autoLogging: { ignore: (req) => QUIET_PATHS.has((req.url ?? '').split('?')[0] ?? '') },
          customLogLevel: (_req, res, err) =>
            err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
        },
      }),
      TerminusModule.forRoot({ errorLogStyle: 'json', logger: false }),
      TypeOrmModule.forRoot({ ...options.dataSource, retryAttempts: 5, retryDelay: 1000 }),
    ];
    return {
      module: PlatformModule,
      global: true,
      imports,
      controllers: [HealthController, MetricsController],
      providers: [
        { provide: CONFIG, useValue: config },
        ShutdownState,
        { provide: HttpMetrics, useValue: new HttpMetrics({ service, pod: config.POD_NAME }) },
        {
          provide: REDIS,
          useFactory: (): Redis =>
            createRedisClient({
              url: config.REDIS_URL,
              keyPrefix: config.REDIS_KEY_PREFIX,
              connectionName: `${service}:${config.POD_NAME}`,
            }),
        },
        RedisLifecycle,
        {
          provide: AccessTokenVerifier,
          useFactory: () =>
            AccessTokenVerifier.fromPems(resolvePublicKeys(config), config.JWT_ISSUER, config.JWT_AUDIENCE),
        },
        {
          provide: RevocationStore,
          inject: [REDIS],
          useFactory: (redis: Redis) => new RevocationStore(redis, options.maxAccessTokenLifetimeSeconds),
        },
        {
          // nothing injects it: Nest instantiates every provider, and the gauge reads at each scrape
          provide: RevocationMetrics,
          inject: [HttpMetrics, RevocationStore],
          useFactory: (metrics: HttpMetrics, store: RevocationStore) => new RevocationMetrics(metrics.registry, store),
        },
        { provide: APP_GUARD, useClass: JwtAuthGuard },
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
        { provide: APP_PIPE, useFactory: validationPipe },
      ],
      exports: [CONFIG, REDIS, ShutdownState, HttpMetrics, AccessTokenVerifier, RevocationStore],
    };
  }
}
