import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { KiwoomDouble } from '@stocklab/kiwoom';
import { assertErrorBody, request } from '@stocklab/test-support';
import { DataSource } from 'typeorm';
import {
  CredentialSealer,
  parseKeyEncryptionKeys,
  SealingError,
  type Sealed,
} from '../src/broker-accounts/credential-sealer.js';
import { rewrapCredentials } from '../src/broker-accounts/rewrap.js';
import { tradingDataSourceOptions } from '../src/data-source.js';
import {
  startInProcessTrading,
  startTradingCluster,
  waitFor,
  type InProcessTrading,
  type TradingCluster,
} from './support.js';

const key = (): string => randomBytes(32).toString('base64');
const OLD_KEY = `kek-2026-11:${key()}`;
const NEW_KEY = `kek-2026-12:${key()}`;

describe('credential sealing (AES-256-GCM envelope)', () => {
  const sealer = new CredentialSealer(parseKeyEncryptionKeys(`${NEW_KEY},${OLD_KEY}`));

  it('opens what it sealed, for that record only, and refuses anything altered', () => {
    const sealed = sealer.seal('record-1', '{"appKey":"a","secretKey":"s"}');
    assert.equal(sealed.kek, 'kek-2026-12');
    assert.equal(sealer.open('record-1', sealed), '{"appKey":"a","secretKey":"s"}');
    assert.throws(() => sealer.open('record-2', sealed), SealingError);
    const flipped = Buffer.from(sealed.data, 'base64');
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    assert.throws(() => sealer.open('record-1', { ...sealed, data: flipped.toString('base64') }), SealingError);
    assert.throws(() => sealer.open('record-1', { ...sealed, kek: 'kek-2026-11' }), SealingError);
    const onlyOld = new CredentialSealer(parseKeyEncryptionKeys(OLD_KEY));
    assert.throws(() => onlyOld.open('record-1', sealed), /not configured/);
  });

  it('refuses keys that are not 32 bytes, malformed or repeated ids, and an unknown active key', () => {
    for (const bad of [
      '',
      'k1',
      `k1:${randomBytes(16).toString('base64')}`,
      `k 1:${key()}`,
      `k1:${key()},k1:${key()}`,
    ]) {
      assert.throws(() => parseKeyEncryptionKeys(bad), SealingError, bad);
    }
    assert.throws(() => new CredentialSealer(parseKeyEncryptionKeys(NEW_KEY), 'kek-1999'), SealingError);
  });
});

/** Linking a Kiwoom account (in-process), against the Kiwoom double standing in for the mock-investment host. */
describe('broker accounts: linked once checked, sealed at rest, never shown', () => {
  let double: KiwoomDouble;
  let cluster: InProcessTrading;
  const user = randomUUID();
  const other = randomUUID();
  const linked = { appKey: `APPKEY${randomUUID()}`, secretKey: `SECRET${randomUUID()}`, accountNo: '8123456789' };
  const second = { appKey: `APPKEY${randomUUID()}`, secretKey: `SECRET${randomUUID()}`, accountNo: '8100000002' };

  const url = (path = ''): string => `${cluster.service.url}/api/trading/broker-accounts${path}`;
  const link = (userId: string, body: Record<string, unknown>) =>
    request('POST', url(), { token: cluster.tokenFor(userId), body: { broker: 'kiwoom-mock', ...body } });

  beforeAll(async () => {
    double = await KiwoomDouble.start();
    for (const a of [linked, second]) {
      double.addAccount({ appKey: a.appKey, secretKey: a.secretKey, accountNo: a.accountNo, cash: 50_000_000 });
    }
    cluster = await startInProcessTrading({
      env: { BROKER_CREDENTIALS_KEYS: `${OLD_KEY},${NEW_KEY}`, KIWOOM_MOCK_HOST: double.url, KIWOOM_HOST: double.url },
    });
  });

  afterAll(async () => {
    await cluster?.close();
    await double?.close();
  });

  it('links an account it could check: the answer and the database hold no credential', async () => {
    const res = await link(user, { ...linked, accountNo: '8123-4567-89' });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.deepEqual(Object.keys(res.body).sort(), ['accountNo', 'broker', 'createdAt', 'id', 'verifiedAt']);
    assert.equal(res.body.accountNo, '******6789');
    assert.equal(double.issuances(linked.appKey), 1);
    const { rows } = await cluster.pool.query<{ row: string; kek_id: string }>(
      `SELECT b::text AS row, kek_id FROM trading.broker_accounts b WHERE owner_id = $1`,
      [user],
    );
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.kek_id, 'kek-2026-11', 'the first key seals');
    assert.ok(!rows[0]?.row.includes(linked.secretKey) && !rows[0]?.row.includes(linked.appKey), 'ciphertext only');
    const listed = await request('GET', url(), { token: cluster.tokenFor(user) });
    assert.deepEqual(listed.body, [res.body]);
    assert.deepEqual((await request('GET', url(), { token: cluster.tokenFor(other) })).body, []);
  });

  it('refuses what the broker refuses, another account than claimed, a duplicate, and bad input; stores nothing', async () => {
    const wrongSecret = await link(other, { ...second, secretKey: 'not-the-secret' });
    assert.equal(wrongSecret.status, 422);
    assert.equal(wrongSecret.body.code, 'BROKER_CREDENTIALS_REFUSED');
    assertErrorBody(wrongSecret.body);
    const mismatch = await link(other, { ...second, accountNo: '8199999999' });
    assert.equal(mismatch.status, 422);
    assert.equal(mismatch.body.code, 'BROKER_ACCOUNT_MISMATCH');
    const duplicate = await link(user, linked);
    assert.equal(duplicate.status, 409);
    assert.equal(duplicate.body.code, 'BROKER_ACCOUNT_LINKED');
    for (const bad of [
      { ...second, broker: 'paper' },
      { ...second, appKey: 'has space' },
      { ...second, accountNo: '12' },
      { ...second, secretKey: undefined },
    ]) {
      const res = await link(other, bad);
      assert.equal(res.status, 400, JSON.stringify(bad));
      assertErrorBody(res.body);
    }
    const stored = await cluster.pool.query(`SELECT 1 FROM trading.broker_accounts WHERE owner_id = $1`, [other]);
    assert.equal(stored.rowCount, 0);
  });

  it('answers 503 BROKER_UNAVAILABLE with Retry-After when the broker does not answer, read three times', async () => {
    // a read without an answer is read again twice; the third loss is the broker's outage
    double.inject('drop-before', { apiId: 'ka00001', times: 3 });
    const res = await link(other, second);
    assert.equal(res.status, 503);
    assert.equal(double.faultsLeft('ka00001'), 0, 'each of the three readings met a lost answer');
    assert.equal(res.body.code, 'BROKER_UNAVAILABLE');
    assert.equal(res.headers.get('retry-after'), '5');
  });

  it('re-wraps every data key with the active key; the old key can then go', async () => {
    const res = await link(other, second);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const dataSource = await new DataSource(
      tradingDataSourceOptions({ DATABASE_URL: cluster.env.DATABASE_URL, DB_POOL_SIZE: 2 } as never),
    ).initialize();
    try {
      const rotated = new CredentialSealer(parseKeyEncryptionKeys(`${OLD_KEY},${NEW_KEY}`), 'kek-2026-12');
      assert.equal(await rewrapCredentials(dataSource, rotated), 2);
      assert.equal(await rewrapCredentials(dataSource, rotated), 0, 'nothing left to re-wrap');
    } finally {
      await dataSource.destroy();
    }
    const onlyNew = new CredentialSealer(parseKeyEncryptionKeys(NEW_KEY));
    const { rows } = await cluster.pool.query<{ id: string; credentials: Sealed; kek_id: string }>(
      `SELECT id, credentials, kek_id FROM trading.broker_accounts ORDER BY created_at`,
    );
    assert.deepEqual(
      rows.map((r) => r.kek_id),
      ['kek-2026-12', 'kek-2026-12'],
    );
    assert.deepEqual(
      rows.map((r) => JSON.parse(onlyNew.open(r.id, r.credentials)) as { appKey: string }).map((c) => c.appKey),
      [linked.appKey, second.appKey],
    );
  });

  it('unlinks (the credentials erased), only the owner', async () => {
    const [mine] = (await request('GET', url(), { token: cluster.tokenFor(other) })).body as Array<{ id: string }>;
    assert.ok(mine);
    const notYours = await request('DELETE', url(`/${mine.id}`), { token: cluster.tokenFor(user) });
    assert.equal(notYours.status, 404);
    assert.equal(notYours.body.code, 'BROKER_ACCOUNT_NOT_FOUND');
    const bad = await request('DELETE', url('/not-a-uuid'), { token: cluster.tokenFor(other) });
    assert.equal(bad.status, 400);
    assert.equal((await request('DELETE', url(`/${mine.id}`), { token: cluster.tokenFor(other) })).status, 204);
    const left = await cluster.pool.query(`SELECT 1 FROM trading.broker_accounts WHERE id = $1`, [mine.id]);
    assert.equal(left.rowCount, 0);
  });
});

/** The same through a replica (a real process), whose debug logs are then searched for the credentials. */
describe('broker accounts: no credential in any log line', () => {
  let double: KiwoomDouble;
  let cluster: TradingCluster;
  const account = { appKey: `APPKEY${randomUUID()}`, secretKey: `SECRET${randomUUID()}`, accountNo: '8177777777' };

  beforeAll(async () => {
    double = await KiwoomDouble.start();
    double.addAccount({ ...account, cash: 1_000_000 });
    cluster = await startTradingCluster({
      replicas: 1,
      backend: 'postgres',
      env: { LOG_LEVEL: 'debug', BROKER_CREDENTIALS_KEYS: NEW_KEY, KIWOOM_MOCK_HOST: double.url },
    });
  });

  afterAll(async () => {
    await cluster?.close();
    await double?.close();
  });

  it('logs the link and the refusal, never an app key or a secret key', async () => {
    const url = `${cluster.trading.at(0).url}/api/trading/broker-accounts`;
    const token = cluster.tokenFor(randomUUID());
    const refused = await request('POST', url, {
      token,
      body: { broker: 'kiwoom-mock', ...account, secretKey: 'SECRET-not-the-one' },
    });
    assert.equal(refused.status, 422);
    const linked = await request('POST', url, { token, body: { broker: 'kiwoom-mock', ...account } });
    assert.equal(linked.status, 201, JSON.stringify(linked.body));
    await waitFor(
      'the link logged',
      async () => (cluster.trading.at(0).logs().includes('broker account linked') ? true : undefined),
      5000,
      50,
    );
    const logs = cluster.trading.at(0).logs();
    for (const secret of [account.appKey, account.secretKey, 'SECRET-not-the-one']) {
      assert.ok(!logs.includes(secret), `a credential in the logs: ${secret.slice(0, 6)}...`);
    }
  });
});
