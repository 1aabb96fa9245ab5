import type { DynamicModule, INestApplication, NestApplicationOptions, Type } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import supertest from 'supertest';
import { waitFor } from './wait.js';

/**
 * Builds a service's application from a compiled TestingModule instead of NestFactory: pass it
 * to the platform's `createServiceApp`, so that the in-process application is set up exactly
 * like a replica (middleware, prefix, body limit, OpenAPI, filters, guard).
 */
export async function testingModuleFactory(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  appModule: Type<any> | DynamicModule,
  options: NestApplicationOptions,
): Promise<NestExpressApplication> {
  const moduleRef = await Test.createTestingModule({ imports: [appModule] }).compile();
  return moduleRef.createNestApplication<NestExpressApplication>(options);
}

export interface InProcessService {
  app: INestApplication;
  /** supertest bound to the application's HTTP server (no port, no process) */
  http: () => supertest.Agent;
  /** http://127.0.0.1:<port>, for the tests written against a URL */
  url: string;
  close(): Promise<void>;
}

/**
 * Listens on a free loopback port and waits for readiness, as `startReplicas` does for a process
 * (auth, for one, is not ready until its revocation list is known to be complete); `close` stops
 * the server, the application and then `cleanup`.
 */
export async function serveInProcess(
  app: INestApplication,
  cleanup: () => Promise<void> = async () => undefined,
): Promise<InProcessService> {
  await app.listen(0, '127.0.0.1');
  const server = app.getHttpServer() as import('node:http').Server;
  const address = server.address();
  if (address === null || typeof address === 'string') {
    throw new Error('the in-process application is not listening on a TCP port');
  }
  const url = `http://127.0.0.1:${address.port}`;
  await waitFor(
    'the in-process application to be ready',
    async () => ((await fetch(`${url}/health/ready`)).status === 200 ? true : undefined),
    15_000,
    50,
  );
  return {
    app,
    http: () => supertest.agent(server),
    url,
    async close() {
      server.closeAllConnections();
      await app.close();
      await cleanup();
    },
  };
}
