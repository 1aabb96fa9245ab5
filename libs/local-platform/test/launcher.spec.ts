import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createTestDatabase,
  freePort,
  request,
  testRedisUrl,
  uniqueKeyPrefix,
  type TestDatabase,
} from '@stocklab/test-support';
import type { StatusSnapshot } from '../src/index.js';

/** The cli compiled next to this spec (dist-spec/src/cli.js), so the test never runs a stale build. */
const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('cli start', () => {
  let database: TestDatabase;
  let child: ChildProcess | undefined;
  let output = '';
  let gatewayPort: number;

  beforeAll(async () => {
    database = await createTestDatabase('stocklab_lp');
    gatewayPort = await freePort();
  });

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
    }
    await database.drop();
  });

  it('runs every service’s replicas behind the gateway and stops them all on SIGINT', async () => {
    child = spawn(process.execPath, [CLI, 'start'], {
      env: {
        ...process.env,
        DATABASE_URL: database.url,
        REDIS_URL: testRedisUrl(),
        REDIS_KEY_PREFIX: uniqueKeyPrefix('local-platform'),
        GATEWAY_PORT: String(gatewayPort),
        DEMO_DATA: 'false',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));
    const ready = new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (output.includes('ready: gateway')) {
          resolve();
        }
      };
      child?.stdout?.on('data', onData);
      child?.stderr?.on('data', onData);
      void exited.then((code) => reject(new Error(`start exited (${code}) before it was ready:\n${output}`)));
    });
    await ready;

    assert.ok(output.includes(`database: ${database.url}`), 'a DATABASE_URL naming a database is used as is');
    const pids = [...output.matchAll(/(?:auth|backtest|backtest-worker|trading)-\d+\s+pid (\d+)/g)].map((m) =>
      Number(m[1]),
    );
    assert.equal(pids.length, 8, `2 auth, 2 backtest, 1 worker, 3 trading:\n${output}`);
    const dead = pids.filter((pid) => !isAlive(pid));
    assert.deepEqual(dead, [], `replicas died after the platform was ready:\n${output}`);

    const gateway = `http://127.0.0.1:${gatewayPort}`;
    type Upstreams = { upstreams: Array<{ prefix: string; ready: boolean }> };
    let status = await request<Upstreams>('GET', `${gateway}/gateway/upstreams`);
    for (let i = 0; i < 60 && !status.body.upstreams.every((u) => u.ready); i += 1) {
      await sleep(500);
      status = await request<Upstreams>('GET', `${gateway}/gateway/upstreams`);
    }
    assert.deepEqual(status.body.upstreams.map((u) => [u.prefix, u.ready]).sort(), [
      ['/api/auth', true],
      ['/api/auth', true],
      ['/api/backtest', true],
      ['/api/backtest', true],
      ['/api/trading', true],
      ['/api/trading', true],
      ['/api/trading', true],
    ]);
    assert.equal((await request('GET', `${gateway}/api/backtest/factors`)).status, 200, 'backtest is routed');

    // The status page's model from the real services: the worker too, the elected leader (asked
    // with the launcher's admin token), the queue read from Redis. Election takes a moment.
    assert.match(output, new RegExp(`status page: +${gateway}/status`));
    // Readiness is a live signal: on a starved machine a replica can miss a check for a moment
    // (a Redis answer slower than its timeout), so wait for the state, not for the first look.
    const settled = (s: StatusSnapshot): boolean =>
      Boolean(s.scheduler?.leader) && s.replicas.length === 8 && s.replicas.every((r) => r.ready);
    let snapshot = await request<StatusSnapshot>('GET', `${gateway}/gateway/status.json`);
    for (let i = 0; i < 60 && !settled(snapshot.body); i += 1) {
      await sleep(500);
      snapshot = await request<StatusSnapshot>('GET', `${gateway}/gateway/status.json`);
    }
    assert.equal(snapshot.status, 200);
    assert.deepEqual(
      snapshot.body.replicas.map((r) => [r.name, r.ready]),
      [
        ['auth-0', true],
        ['auth-1', true],
        ['backtest-0', true],
        ['backtest-1', true],
        ['trading-0', true],
        ['trading-1', true],
        ['trading-2', true],
        ['backtest-worker-0', true],
      ],
    );
    assert.equal(snapshot.body.scheduler?.error, null, JSON.stringify(snapshot.body.scheduler));
    assert.match(snapshot.body.scheduler?.leader ?? '', /^trading-/, JSON.stringify(snapshot.body.scheduler));
    assert.equal(typeof snapshot.body.scheduler?.epoch, 'number');
    assert.equal(snapshot.body.scheduler?.nextOccurrences.length, 3, 'select, execute and the day-end reconcile');
    // the market's freshness as a real backtest replica reports it to the status page's token
    assert.equal(snapshot.body.market?.error, null, JSON.stringify(snapshot.body.market));
    assert.match(snapshot.body.market?.dataVersion ?? '', /^\d+$/);
    assert.deepEqual(
      snapshot.body.market?.markets.map((m) => m.market),
      ['KOSPI', 'KOSDAQ', 'KONEX'],
    );
    assert.equal(snapshot.body.queue?.error, null, JSON.stringify(snapshot.body.queue));
    assert.equal(snapshot.body.queue?.depth, 0);
    assert.equal((await fetch(`${gateway}/status`)).status, 200);
    const kubeconfig = /kubectl --kubeconfig (\S+) get leases/.exec(output)?.[1];
    assert.ok(kubeconfig, 'the kubeconfig of the Lease API is printed');

    const email = `lp-${randomBytes(6).toString('hex')}@example.com`;
    const password = 'correct horse battery';
    const signup = await request('POST', `${gateway}/api/auth/signup`, {
      body: { email, password, nickname: 'local_platform' },
    });
    assert.equal(signup.status, 202, JSON.stringify(signup.body));
    const login = await request<{ accessToken: string; tokenType: string }>('POST', `${gateway}/api/auth/login`, {
      body: { email, password },
    });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    assert.equal(login.body.tokenType, 'Bearer');
    // The token verifies on both replicas (one key pair shared by all): two calls go to both in turn.
    for (let i = 0; i < 2; i += 1) {
      const me = await request<{ email: string }>('GET', `${gateway}/api/auth/me`, { token: login.body.accessToken });
      assert.equal(me.status, 200, JSON.stringify(me.body));
      assert.equal(me.body.email, email);
    }

    child.kill('SIGINT');
    assert.equal(await exited, 0, output);
    assert.deepEqual(pids.filter(isAlive), [], 'no replica outlives the launcher');
    assert.match(output, /stopping the gateway/);
    // a hang guard: eight replicas and a gateway started from scratch took 64 s under the suite's load
  }, 300_000);
});
