/**
 * Benchmark: what the JWT guard (signature check + Redis revocation MGET) adds to a request.
 *
 * One server process serves two identical trivial routes, one @Public() and one guarded; this
 * process sends requests to both at a fixed rate, interleaved in short rounds, and reports the
 * latency percentiles of each and their difference. It also times the guard alone in-process.
 *
 *   npm run bench:guard -w @stocklab/auth      (needs PostgreSQL and Redis; see README)
 */
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Controller, Get, Module, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  AccessTokenVerifier,
  createRedisClient,
  createServiceApp,
  generateSigningKeyPair,
  JwtAuthGuard,
  loadConfig,
  PlatformModule,
  Public,
  RevocationStore,
} from '@stocklab/platform';
import {
  createTestDatabase,
  freePort,
  markRevocationListRestored,
  testRedisUrl,
  uniqueKeyPrefix,
} from '@stocklab/test-support';
import { authConfigSchema } from '../src/config.js';
import { authDataSourceOptions } from '../src/data-source.js';
import { TokenIssuer } from '../src/tokens/token-issuer.js';

const RATE_PER_SECOND = Number(process.env.BENCH_RATE ?? 500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const ROUND_SECONDS = Number(process.env.BENCH_ROUND_SECONDS ?? 2);

@Controller('bench')
class BenchController {
  @Public()
  @Get('open')
  open(): { ok: boolean } {
    return { ok: true };
  }

  @Get('guarded')
  guarded(): { ok: boolean } {
    return { ok: true };
  }
}

async function serve(): Promise<void> {
  const config = loadConfig(authConfigSchema);
  @Module({
    imports: [
      PlatformModule.forRoot({
        service: 'auth',
        config,
        dataSource: authDataSourceOptions(config),
        maxAccessTokenLifetimeSeconds: 900,
      }),
    ],
    controllers: [BenchController],
  })
  class BenchModule {}
  const app = await createServiceApp({
    service: 'auth',
    config: { ...config, LOG_LEVEL: 'warn' },
    appModule: BenchModule,
    dataSource: authDataSourceOptions(config),
    docs: { title: 'bench', description: 'bench' },
  });
  await app.listen(config.PORT);
  process.send?.('ready');
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function summarize(samples: number[]): { p50: number; p99: number; n: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), n: sorted.length };
}

/** Sends requests on a fixed schedule (open loop), so slow answers do not lower the rate. */
async function fixedRate(port: number, path: string, token: string, seconds: number, agent: Agent): Promise<number[]> {
  const latencies: number[] = [];
  const total = RATE_PER_SECOND * seconds;
  const interval = 1000 / RATE_PER_SECOND;
  const started = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i += 1) {
    const due = started + i * interval;
    const wait = due - performance.now();
    if (wait > 1) {
      await sleep(wait);
    }
    pending.push(
      new Promise<void>((resolve, reject) => {
        const t0 = performance.now();
        const req = request(
          { host: '127.0.0.1', port, path, agent, headers: { authorization: `Bearer ${token}` } },
          (res) => {
            res.resume();
            res.on('end', () => {
              if (res.statusCode !== 200) {
                reject(new Error(`${path} answered ${res.statusCode}`));
                return;
              }
              latencies.push(performance.now() - t0);
              resolve();
            });
          },
        );
        req.on('error', reject);
        req.end();
      }),
    );
  }
  await Promise.all(pending);
  return latencies;
}

async function guardAlone(
  keys: { publicKeyPem: string },
  tokens: string[],
): Promise<{ p50: number; p99: number; n: number }> {
  const keyPrefix = uniqueKeyPrefix('bench');
  await markRevocationListRestored(testRedisUrl(), keyPrefix);
  const redis = createRedisClient({ url: testRedisUrl(), keyPrefix, connectionName: 'bench' });
  await new Promise((resolve) => redis.once('ready', resolve));
  const verifier = await AccessTokenVerifier.fromPems([keys.publicKeyPem], 'stocklab-auth', 'stocklab');
  const guard = new JwtAuthGuard(new Reflector(), verifier, new RevocationStore(redis, 900));
  const samples: number[] = [];
  for (let i = 0; i < 5000; i += 1) {
    const req = { headers: { authorization: `Bearer ${tokens[i % tokens.length]}` } };
    const context = {
      // the handler itself is the metadata key Reflector looks up, so it must not be bound
      // eslint-disable-next-line @typescript-eslint/unbound-method
      getHandler: () => BenchController.prototype.guarded,
      getClass: () => BenchController,
      switchToHttp: () => ({ getRequest: () => req }),
    } as unknown as ExecutionContext;
    const t0 = performance.now();
    await guard.canActivate(context);
    samples.push(performance.now() - t0);
  }
  await redis.quit();
  return summarize(samples.slice(tokens.length === 1 ? 1000 : 0));
}

async function main(): Promise<void> {
  const db = await createTestDatabase('stocklab_bench');
  const keys = generateSigningKeyPair();
  const port = await freePort();
  const env = {
    ...process.env,
    NODE_ENV: 'test',
    PORT: String(port),
    DATABASE_URL: db.url,
    REDIS_URL: testRedisUrl(),
    REDIS_KEY_PREFIX: uniqueKeyPrefix('bench'),
    JWT_PRIVATE_KEY: keys.privateKeyPem,
    JWT_PUBLIC_KEYS: keys.publicKeyPem,
    LOG_LEVEL: 'warn',
  };
  // the bench server runs no restorer: the (empty) revocation list is complete
  await markRevocationListRestored(env.REDIS_URL, env.REDIS_KEY_PREFIX);
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'serve'], {
    env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
    });
    const config = loadConfig(authConfigSchema, env);
    const issuer = await TokenIssuer.create(config);
    const token = (
      await issuer.issueAccessToken({ id: '00000000-0000-4000-8000-000000000001', roles: ['user'] }, 'bench')
    ).token;
    const agent = new Agent({ keepAlive: true, maxSockets: 64 });

    await fixedRate(port, '/api/auth/bench/open', token, 1, agent); // warm-up
    await fixedRate(port, '/api/auth/bench/guarded', token, 1, agent);
    const open: number[] = [];
    const guarded: number[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      open.push(...(await fixedRate(port, '/api/auth/bench/open', token, ROUND_SECONDS, agent)));
      guarded.push(...(await fixedRate(port, '/api/auth/bench/guarded', token, ROUND_SECONDS, agent)));
    }
    agent.destroy();
    const o = summarize(open);
    const g = summarize(guarded);
    const alone = await guardAlone(keys, [token]);
    const fresh: string[] = [];
    for (let i = 0; i < 5000; i += 1) {
      fresh.push(
        (await issuer.issueAccessToken({ id: '00000000-0000-4000-8000-000000000002', roles: ['user'] }, 'bench')).token,
      );
    }
    const cold = await guardAlone(keys, fresh);
    const fmt = (ms: number) => `${ms.toFixed(3)} ms`;
    console.log(
      `guard overhead at ${RATE_PER_SECOND} req/s, ${ROUNDS} x ${ROUND_SECONDS} s per route, Node ${process.version}`,
    );
    console.log(`| route | requests | p50 | p99 |`);
    console.log(`|---|---|---|---|`);
    console.log(`| GET without guard | ${o.n} | ${fmt(o.p50)} | ${fmt(o.p99)} |`);
    console.log(`| GET with guard | ${g.n} | ${fmt(g.p50)} | ${fmt(g.p99)} |`);
    console.log(`| added by the guard | | ${fmt(g.p50 - o.p50)} | ${fmt(g.p99 - o.p99)} |`);
    console.log(
      `| guard alone, in-process, token seen before (cache + MGET) | ${alone.n} | ${fmt(alone.p50)} | ${fmt(alone.p99)} |`,
    );
    console.log(
      `| guard alone, in-process, first sight of each token (Ed25519 verify + MGET) | ${cold.n} | ${fmt(cold.p50)} | ${fmt(cold.p99)} |`,
    );
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    await db.drop();
  }
}

if (process.argv[2] === 'serve') {
  await serve();
} else {
  await main();
}
