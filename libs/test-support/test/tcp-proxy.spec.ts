import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import pg from 'pg';
import { createTestDatabase, startTcpProxy, type TcpProxy, type TestDatabase } from '../src/index.js';

describe('startTcpProxy', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;

  beforeAll(async () => {
    db = await createTestDatabase('stocklab_proxy');
    const target = new URL(db.url);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  });

  afterAll(async () => {
    await proxy?.close();
    await db?.drop();
  });

  const client = (): pg.Client =>
    new pg.Client({ connectionString: proxy.urlThrough(db.url), connectionTimeoutMillis: 1000, query_timeout: 1000 });

  it('forwards to PostgreSQL; a refuse cut breaks open connections and refuses new ones; restore forwards again', async () => {
    const open = client();
    open.on('error', () => undefined);
    await open.connect();
    assert.equal((await open.query<{ n: number }>('SELECT 1 AS n')).rows[0]?.n, 1);

    proxy.cut('refuse');
    await assert.rejects(open.query('SELECT 1'));
    const refused = client();
    await assert.rejects(refused.connect());

    proxy.restore();
    const again = client();
    await again.connect();
    assert.equal((await again.query<{ n: number }>('SELECT 2 AS n')).rows[0]?.n, 2);
    await again.end();
  });

  it('a hang cut leaves connections open but silent, so only client timeouts fire', async () => {
    const open = client();
    open.on('error', () => undefined);
    await open.connect();
    proxy.cut('hang');
    await assert.rejects(open.query('SELECT 1'), /timeout/i);
    const accepted = proxy.accepted;
    await assert.rejects(client().connect(), /timeout/i);
    assert.equal(proxy.accepted, accepted + 1, 'the connection was accepted, then never answered');
    proxy.restore();
    const again = client();
    await again.connect();
    assert.equal((await again.query<{ n: number }>('SELECT 3 AS n')).rows[0]?.n, 3);
    await again.end();
    await open.end().catch(() => undefined);
  });
});
