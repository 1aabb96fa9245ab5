import { setTimeout as sleep } from 'node:timers/promises';
import {
  NotFoundException,
  RequestMethod,
  type DynamicModule,
  type INestApplication,
  type NestApplicationOptions,
  type Type,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { NextFunction, Request, Response } from 'express';
import { Logger } from 'nestjs-pino';
import type { DataSourceOptions } from 'typeorm';
import { resolvePublicKeys } from '../auth/resolve-keys.js';
import { exitOnConfigError } from '../config/config-schema.js';
import type { CommonConfig } from '../config/platform-config.js';
import { runMigrationsWithLock } from '../database/run-migrations.js';
import { renderError } from '../errors/error-body.js';
import { checkJsonBody } from '../http/json-hygiene.js';
import { ShutdownState } from '../lifecycle/shutdown-state.js';
import { securityHeaders } from '../http/security-headers.js';
import { HttpMetrics } from '../metrics/http-metrics.js';

export interface RunServiceOptions {
  service: string;
  config: CommonConfig;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  appModule: Type<any> | DynamicModule;
  dataSource: DataSourceOptions;
  docs: { title: string; description: string };
}

export const apiPrefix = (service: string): string => `api/${service}`;

/** How the Nest application is created: Nest's factory in production, a TestingModule in tests. */
export type NestAppFactory = (
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  appModule: Type<any> | DynamicModule,
  options: NestApplicationOptions,
) => Promise<NestExpressApplication>;

const nestFactory: NestAppFactory = (appModule, options) =>
  NestFactory.create<NestExpressApplication>(appModule, options);

/**
 * Nest application set up the same way in every service, and in the tests that build one
 * in-process (they pass a factory that compiles a TestingModule): the same middleware, prefix,
 * body limits and OpenAPI document. Call `initServiceApp` next.
 */
export async function createServiceApp(
  options: RunServiceOptions,
  factory: NestAppFactory = nestFactory,
): Promise<NestExpressApplication> {
  const { config, service } = options;
  const app = await factory(options.appModule, {
    bufferLogs: true,
    bodyParser: false,
    abortOnError: false,
  });
  app.useLogger(app.get(Logger));
  app.set(
    'trust proxy',
    config.TRUST_PROXY.split(',').map((s) => s.trim()),
  );
  app.disable('x-powered-by');
  app.use(securityHeaders(`/${apiPrefix(service)}/docs`));
  app.use(app.get(HttpMetrics).middleware());
  // depth and forbidden characters are checked on the raw bytes, before JSON.parse and validation.
  // Nest's type omits `verify` because Nest sets it itself for `rawBody: true`, which these apps
  // do not use; without it Nest hands the options to express.json unchanged.
  const json: Record<string, unknown> = {
    limit: config.BODY_LIMIT,
    verify: (_req: unknown, _res: unknown, buf: Buffer, encoding: string) => checkJsonBody(buf, encoding),
  };
  app.useBodyParser('json', json);
  app.setGlobalPrefix(apiPrefix(service), {
    exclude: [
      { path: 'health/live', method: RequestMethod.GET },
      { path: 'health/ready', method: RequestMethod.GET },
      { path: 'metrics', method: RequestMethod.GET },
    ],
  });
  if (!docsEnabled(config)) {
    return app;
  }
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle(options.docs.title)
      .setDescription(options.docs.description)
      .setVersion('1')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup(`${apiPrefix(service)}/docs`, app, document, {
    jsonDocumentUrl: `${apiPrefix(service)}/docs/openapi.json`,
  });
  return app;
}

/** The OpenAPI document and its UI: on outside production, and in production only when asked for. */
export function docsEnabled(config: { API_DOCS: 'auto' | 'on' | 'off'; NODE_ENV: string }): boolean {
  return config.API_DOCS === 'on' || (config.API_DOCS === 'auto' && config.NODE_ENV !== 'production');
}

/**
 * Initialises the application (lifecycle hooks, routes), then adds the handlers that must come
 * after Nest's routes: unmatched paths Nest's router never saw (malformed percent-encoding) and
 * errors raised before it (body parsing).
 */
export async function initServiceApp(app: NestExpressApplication): Promise<void> {
  await app.init();
  app.use(notFoundHandler);
  app.use(lastResortErrorHandler(app.get(Logger)));
}

/** Start-up happens before (or without) the pino logger: same JSON shape, written directly. */
function logStartupLine(options: RunServiceOptions, level: number, msg: string, extra: Record<string, unknown>): void {
  const line = { level, time: Date.now(), service: options.service, pod: options.config.POD_NAME, msg, ...extra };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

function notFoundHandler(req: Request, res: Response): void {
  res.status(404).json(renderError(new NotFoundException(`Cannot ${req.method} ${req.path}`)).body);
}

/** Errors raised before Nest's router (body parsing) still leave with the stable error body. */
function lastResortErrorHandler(logger: Logger) {
  return (error: unknown, _req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const rendered = renderError(error);
    if (rendered.unexpected) {
      // as the exception filter does: the client sees the stable body, the stack goes to the log
      logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error), 'Errors');
    }
    res.status(rendered.body.statusCode).json(rendered.body);
  };
}

/**
 * Starts a service: optional migrations under the advisory lock, the HTTP server, and the
 * SIGTERM sequence Kubernetes expects: readiness 503 at once, a drain delay while endpoints
 * are removed, then the server stops accepting, in-flight requests finish, pools close, exit 0.
 */
export async function runService(options: RunServiceOptions): Promise<INestApplication> {
  const { config } = options;
  await exitOnConfigError(() => resolvePublicKeys(config));
  let app: NestExpressApplication;
  try {
    if (config.RUN_MIGRATIONS) {
      const outcome = await runMigrationsWithLock(options.dataSource);
      logStartupLine(
        options,
        30,
        outcome.applied.length > 0 ? `applied migrations: ${outcome.applied.join(', ')}` : 'migrations up to date',
        {
          migrationsApplied: outcome.applied.length,
        },
      );
    }
    app = await createServiceApp(options);
    await initServiceApp(app);
    await app.listen(config.PORT);
    // Load balancers (ALB, ingress-nginx, the local gateway) keep idle connections to replicas
    // open for up to 60 s; Node's default 5 s lets a replica close one just as the balancer
    // sends a request on it, which the balancer can only answer with a 502. Stay open longer
    // than they do (headersTimeout must exceed keepAliveTimeout).
    const server = app.getHttpServer();
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
  } catch (error) {
    logStartupLine(options, 60, `start-up failed: ${error instanceof Error ? error.message : String(error)}`, {});
    process.exit(1);
  }
  const logger = app.get(Logger);
  logger.log({ port: config.PORT }, `${options.service} listening`);

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) {
      return;
    }
    stopping = true;
    app.get(ShutdownState).begin();
    logger.log({ signal, drainMs: config.SHUTDOWN_DRAIN_MS }, 'shutdown: readiness is now 503, draining');
    const deadline = setTimeout(() => {
      logger.error('shutdown: in-flight work did not finish in time, exiting');
      process.exit(1);
    }, config.SHUTDOWN_DRAIN_MS + config.SHUTDOWN_TIMEOUT_MS);
    deadline.unref();
    await sleep(config.SHUTDOWN_DRAIN_MS);
    const server = app.getHttpServer();
    // Stop accepting; keep-alive sockets close once idle; requests in flight run to completion.
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    await app.close();
    logger.log('shutdown complete');
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  // Started by a supervisor over an IPC channel (the local launcher, the tests): when it dies,
  // even by SIGKILL, the channel closes and this process stops too, instead of living on as an
  // orphan that holds its port and connections. In Kubernetes there is no channel.
  if (process.channel) {
    process.channel.unref();
    process.once('disconnect', () => void stop('supervisor exited'));
  }
  return app;
}
