import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { requestPatiently, waitFor, type RequestOptions } from '@stocklab/test-support';
import { CODES, definition, startE2EPlatform, type E2EPlatform } from '../src/harness.js';

/**
 * The request set of the probe that found issue 11's findings (as an attacker and as a careless
 * client), replayed through the gateway against the whole platform with its default throttles:
 * no answer may be a 5xx, no replica may lose readiness (three probes in a row failing, as a
 * kubelet counts), and each finding's requests get the answer its fix promises.
 */

interface Answer {
  label: string;
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  headers: Headers;
}

const PASSWORD = 'correct horse battery staple';
const NUL = String.fromCharCode(0);

/** A condition with 191 nodes that is true on every bar (the probe's). */
const alwaysTrue = { and: Array.from({ length: 190 }, () => ({ factor: 'close', op: '>', value: 0 })) };

const cursorOf = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('the probe of issue 11, replayed', () => {
  let p: E2EPlatform;
  const answers: Answer[] = [];
  const readiness = new Map<string, { worst: number; run: number; probes: number }>();
  let monitoring = true;
  let monitor: Promise<void> = Promise.resolve();

  beforeAll(async () => {
    // the default signup throttle (the harness raises it for tests that sign many users up)
    p = await startE2EPlatform({ serviceEnv: { auth: { SIGNUP_MAX_PER_ADDRESS: '20' } } });
    monitor = watchReadiness();
  });

  afterAll(async () => {
    monitoring = false;
    await monitor;
    await p?.stop();
  });

  /** Every replica's /health/ready every 250 ms; a failure is a non-200 or no answer within 5 s. */
  async function watchReadiness(): Promise<void> {
    const replicas = p.platform.services.flatMap((s) => s.replicas.replicas);
    await Promise.all(
      replicas.map(async (replica) => {
        const seen = { worst: 0, run: 0, probes: 0 };
        readiness.set(replica.name, seen);
        while (monitoring) {
          let ok: boolean;
          try {
            const res = await fetch(`${replica.url}/health/ready`, { signal: AbortSignal.timeout(5000) });
            await res.arrayBuffer();
            ok = res.status === 200;
          } catch {
            ok = false;
          }
          seen.probes += 1;
          seen.run = ok ? 0 : seen.run + 1;
          seen.worst = Math.max(seen.worst, seen.run);
          await sleep(250);
        }
      }),
    );
  }

  /**
   * One request through the gateway, recorded. A 503 with Retry-After (a dependency late on a
   * starved machine, nothing processed) is asked again as the contract says, within 15 s.
   */
  async function send(label: string, method: string, path: string, options: RequestOptions = {}): Promise<Answer> {
    const res = await requestPatiently(method, `${p.gateway}${path}`, options);
    const answer = { label, ...res };
    answers.push(answer);
    return answer;
  }

  const statuses = (list: Answer[]): Record<number, number> =>
    list.reduce<Record<number, number>>((acc, a) => ({ ...acc, [a.status]: (acc[a.status] ?? 0) + 1 }), {});

  async function newAccount(label: string): Promise<{ email: string; token: string; refresh: string }> {
    const email = `${label}-${randomUUID().slice(0, 8)}@example.com`;
    const signup = await send(`signup ${label}`, 'POST', '/api/auth/signup', {
      body: { email, password: PASSWORD, nickname: `${label}_${randomUUID().slice(0, 6)}` },
    });
    assert.equal(signup.status, 202, JSON.stringify(signup.body));
    const login = await send(`login ${label}`, 'POST', '/api/auth/login', { body: { email, password: PASSWORD } });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    return { email, token: login.body.accessToken, refresh: login.body.refreshToken };
  }

  it('gets no 5xx and no readiness loss, and each finding the answer of its fix', async () => {
    // accounts first: the signup burst below uses up this address's signups
    const [victim, leaver, guessed, tabs, officeAdmin] = await Promise.all(
      ['victim', 'leaver', 'guessed', 'tabs', 'office'].map((l) => newAccount(l)),
    );
    const trader = p.token(randomUUID());
    const admin = p.token(randomUUID(), ['user', 'admin']);

    // 1. 30 parallel wrong logins at one account, the right password among them and after them
    const burst = await Promise.all([
      ...Array.from({ length: 30 }, (_, i) =>
        send(`#1 wrong login ${i}`, 'POST', '/api/auth/login', { body: { email: victim.email, password: `no-${i}` } }),
      ),
    ]);
    assert.ok((statuses(burst)[401] ?? 0) <= 5, `#1: ${JSON.stringify(statuses(burst))}`);
    const rightAfter = await send('#1 right password', 'POST', '/api/auth/login', {
      body: { email: victim.email, password: PASSWORD },
    });
    assert.equal(rightAfter.status, 429, '#1: the account stays locked for its window');

    // 2. a definition inside every documented limit that trades every day, six times from two users
    const huge = {
      ...definition(CODES, 100),
      universe: { scope: 'all' },
      rebalance: 'daily',
      buyConditions: alwaysTrue,
      sell: { stopLossPct: 1, takeProfitPct: 1 },
    };
    const submitters = Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? trader : admin));
    const submitted = await Promise.all(
      submitters.map((token, i) =>
        send(`#2 huge backtest ${i}`, 'POST', '/api/backtest/backtests', {
          token,
          body: { definition: huge, from: '1980-01-01', to: '2100-12-31' },
        }),
      ),
    );
    const accepted = submitted.flatMap((a, i) =>
      a.status === 202 ? [{ id: String(a.body.id), token: submitters[i] }] : [],
    );
    assert.ok(
      accepted.length >= 1,
      `#2: ${JSON.stringify(submitted.map((a): [number, string] => [a.status, String(a.body.code)]))}`,
    );
    assert.ok(
      submitted.every((a) => a.status === 202 || a.body.code === 'BACKTEST_LIMIT'),
      JSON.stringify(submitted.map((a): unknown => a.body)),
    );

    // 3. deep JSON without a token, NUL characters in text fields, tampered cursors
    const deep = `{"email":${'['.repeat(45_000)}${']'.repeat(45_000)}}`;
    for (const path of ['/api/auth/login', '/api/auth/signup', '/api/trading/auto-strategies']) {
      const res = await send(`#3 deep JSON ${path}`, 'POST', path, { rawBody: deep });
      assert.ok(res.status === 400 || res.status === 401, `#3 ${path}: ${res.status}`);
    }
    const deepWithToken = await send('#3 deep JSON activation', 'POST', '/api/trading/auto-strategies', {
      token: trader,
      rawBody: deep,
    });
    assert.equal(deepWithToken.body.code, 'BODY_TOO_DEEP');
    const nulBodies: Array<[string, string, unknown, string?]> = [
      ['/api/auth/signup', 'POST', { email: `a${NUL}@example.com`, password: PASSWORD, nickname: 'nul_email' }],
      ['/api/auth/signup', 'POST', { email: 'nul@example.com', password: PASSWORD, nickname: `n${NUL}` }],
      ['/api/backtest/strategies', 'POST', { name: `s${NUL}`, definition: definition(CODES) }, trader],
      [
        '/api/backtest/strategies',
        'POST',
        { name: 's', description: `d${NUL}`, definition: definition(CODES) },
        trader,
      ],
      [
        '/api/backtest/strategies',
        'POST',
        { name: 's', definition: { ...definition(CODES), universe: { scope: 'codes', codes: [`0${NUL}0010`] } } },
        trader,
      ],
      [
        '/api/backtest/strategies',
        'POST',
        { name: 's', definition: { ...definition(CODES), universe: { scope: 'all', sectors: [`x${NUL}`] } } },
        trader,
      ],
      ['/api/trading/calendar/holidays/2030-01-02', 'PUT', { name: `h${NUL}` }, admin],
    ];
    for (const [path, method, body, token] of nulBodies) {
      const res = await send(`#3 NUL ${method} ${path}`, method, path, { body, token });
      assert.equal(res.body.code, 'INVALID_CHARACTERS', `#3 NUL on ${path}: ${JSON.stringify(res.body)}`);
    }
    const tampered = [
      cursorOf(['2026-13-45T00:00:00.000Z', randomUUID()]),
      cursorOf([1.5]),
      cursorOf(['1e400']),
      '1e400',
      cursorOf([2147483648]),
      cursorOf(['9999-99-99']),
    ];
    const someId = randomUUID();
    for (const path of [
      '/api/backtest/strategies',
      '/api/backtest/backtests',
      `/api/backtest/backtests/${someId}/equity`,
      `/api/backtest/backtests/${someId}/trades`,
    ]) {
      for (const cursor of tampered) {
        const res = await send(`#3 cursor ${path}`, 'GET', `${path}?cursor=${encodeURIComponent(cursor)}`, {
          token: trader,
        });
        assert.equal(res.body.code, 'INVALID_CURSOR', `#3 cursor ${cursor} on ${path}: ${JSON.stringify(res.body)}`);
      }
    }

    // 4. a deleted account: its token and its password stop working at once
    const gone = await send('#4 DELETE /me', 'DELETE', '/api/auth/me', {
      token: leaver.token,
      body: { password: PASSWORD },
    });
    assert.equal(gone.status, 204, JSON.stringify(gone.body));
    assert.equal((await send('#4 token after', 'GET', '/api/auth/me', { token: leaver.token })).status, 401);
    const relogin = await send('#4 login after', 'POST', '/api/auth/login', {
      body: { email: leaver.email, password: PASSWORD },
    });
    assert.equal(relogin.status, 401);

    // 5. wrong passwords from the office's one address do not lock its other people out
    for (let i = 0; i < 8; i += 1) {
      await send(`#5 colleague's typo ${i}`, 'POST', '/api/auth/login', {
        body: { email: `colleague-${i}@example.com`, password: 'wrong password' },
      });
    }
    const office = await send('#5 the admin logs in', 'POST', '/api/auth/login', {
      body: { email: officeAdmin.email, password: PASSWORD },
    });
    assert.equal(office.status, 200, JSON.stringify(office.body));

    // 6. a signup burst from one address; a taken email answered as a free one
    const signups = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        send(`#6 signup ${i}`, 'POST', '/api/auth/signup', {
          body: {
            email: `burst-${randomUUID()}@example.com`,
            password: PASSWORD,
            nickname: `b${i}_${randomUUID().slice(0, 6)}`,
          },
        }),
      ),
    );
    const signupStatuses = statuses(signups);
    assert.ok((signupStatuses[202] ?? 0) <= 20, `#6: ${JSON.stringify(signupStatuses)}`);
    assert.ok((signupStatuses[429] ?? 0) >= 180, `#6: ${JSON.stringify(signupStatuses)}`);

    // 7. password guesses with a stolen token on DELETE /me
    const guesses: Answer[] = [];
    for (let i = 0; i < 10; i += 1) {
      guesses.push(
        await send(`#7 guess ${i}`, 'DELETE', '/api/auth/me', {
          token: guessed.token,
          body: { password: `guess-${i}` },
        }),
      );
    }
    assert.equal(guesses.at(-1)?.status, 429, `#7: ${JSON.stringify(statuses(guesses))}`);

    // 8. 1 KRW auto strategies, and more active ones than a user may have
    const strategy = await send('#8 strategy', 'POST', '/api/backtest/strategies', {
      token: trader,
      body: { name: 'many', definition: definition(CODES) },
    });
    assert.equal(strategy.status, 201, JSON.stringify(strategy.body));
    const oneKrw = await send('#8 1 KRW', 'POST', '/api/trading/auto-strategies', {
      token: trader,
      body: { strategyId: strategy.body.id, allocatedCapital: 1 },
    });
    assert.equal(oneKrw.body.code, 'ALLOCATION_TOO_SMALL', JSON.stringify(oneKrw.body));
    const activations = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        send(`#8 activation ${i}`, 'POST', '/api/trading/auto-strategies', {
          token: trader,
          body: { strategyId: strategy.body.id, allocatedCapital: 100_000 },
        }),
      ),
    );
    assert.ok((statuses(activations)[201] ?? 0) <= 20, `#8: ${JSON.stringify(statuses(activations))}`);

    // 9. two tabs refresh with the same token at once: the same answer, the session kept
    const [tab1, tab2] = await Promise.all(
      [1, 2].map((n) =>
        send(`#9 refresh tab ${n}`, 'POST', '/api/auth/refresh', { body: { refreshToken: tabs.refresh } }),
      ),
    );
    assert.equal(tab1.status, 200, JSON.stringify(tab1.body));
    assert.equal(tab2.status, 200, JSON.stringify(tab2.body));
    assert.equal(tab1.body.refreshToken, tab2.body.refreshToken);

    // 10. hardening: headers, the scheduler's details, the same code for the same fault, surrogates,
    // a range without trading days, file names
    const me = await send('#10 headers', 'GET', '/api/auth/me', { token: officeAdmin.token });
    assert.equal(me.headers.get('x-content-type-options'), 'nosniff');
    assert.match(me.headers.get('cache-control') ?? '', /no-store/);
    const scheduler = await send('#10 scheduler as a user', 'GET', '/api/trading/scheduler', { token: trader });
    assert.equal(scheduler.status, 403, JSON.stringify(scheduler.body));
    for (const path of ['/api/backtest/strategies/x', '/api/trading/auto-strategies/x']) {
      const res = await send(`#10 bad id ${path}`, 'GET', path, { token: trader });
      assert.equal(res.body.code, 'VALIDATION_FAILED', `${path}: ${JSON.stringify(res.body)}`);
    }
    const surrogate = await send('#10 lone surrogate', 'POST', '/api/backtest/strategies', {
      token: trader,
      rawBody: `{"name":"a\\uD800","definition":${JSON.stringify(definition(CODES))}}`,
    });
    assert.equal(surrogate.body.code, 'INVALID_CHARACTERS');
    const weekend = await send('#10 no trading days', 'POST', '/api/backtest/backtests', {
      token: officeAdmin.token,
      body: { definition: definition(CODES), from: '2000-01-01', to: '2000-01-02' },
    });
    assert.equal(weekend.body.code, 'NO_TRADING_DAYS', JSON.stringify(weekend.body));
    const form = new FormData();
    form.append('kind', 'securities');
    form.append('file', new Blob(['code\n'], { type: 'text/csv' }), `evil\u202Ecsv.exe.csv`);
    const fileName = await send('#10 bidi file name', 'POST', '/api/backtest/datasets', {
      token: admin,
      rawBody: form,
    });
    assert.equal(fileName.body.code, 'INVALID_FILE_NAME', JSON.stringify(fileName.body));

    // the huge backtests end (stored or refused by the result budget), and the platform still reads
    for (const a of accepted) {
      await waitFor(
        `#2 backtest ${a.id} to end`,
        async () => {
          const res = await send('#2 poll', 'GET', `/api/backtest/backtests/${a.id}`, { token: a.token });
          const status = String(res.body.status);
          return ['succeeded', 'failed'].includes(status) ? status : undefined;
        },
        120_000,
        500,
      );
    }
    const read = await send('a trivial read afterwards', 'GET', '/api/backtest/factors');
    assert.equal(read.status, 200);

    const failures = answers
      .filter((a) => a.status >= 500)
      .map((a) => `${a.label}: ${a.status} ${JSON.stringify(a.body)}`);
    process.stdout.write(`probe replay: ${answers.length} requests, statuses ${JSON.stringify(statuses(answers))}\n`);
    assert.deepEqual(failures.slice(0, 10), [], `${failures.length} answers were 5xx`);
    monitoring = false;
    await monitor;
    const lost = [...readiness]
      .filter(([, seen]) => seen.worst >= 3)
      .map(([name, seen]) => `${name}: ${seen.worst} failed in a row`);
    assert.ok(
      [...readiness.values()].every((seen) => seen.probes > 0),
      'readiness was watched',
    );
    assert.deepEqual(lost, [], 'no replica lost readiness');
  });
});
