import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from '@stocklab/test-support';
import { AUTH_ENTRY, newUser, startAuthCluster, type AuthCluster } from './support.js';

describe('graceful shutdown on SIGTERM', () => {
  let cluster: AuthCluster;

  beforeAll(async () => {
    cluster = await startAuthCluster(1, { SHUTDOWN_DRAIN_MS: '1500', SHUTDOWN_TIMEOUT_MS: '5000' });
  });
  afterAll(() => cluster.close());

  it('turns readiness 503 at once, lets the in-flight request finish, and exits 0', async () => {
    const replica = cluster.replicas.at(0);
    const body = JSON.stringify(newUser());
    const half = Math.floor(body.length / 2);

    // An in-flight request: headers and half the body sent, the rest held back.
    const socket = connect(replica.port, '127.0.0.1');
    let response = '';
    socket.on('data', (chunk) => (response += chunk.toString()));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(
      `POST /api/auth/signup HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, half)}`,
    );
    await sleep(100);

    replica.signal('SIGTERM');
    let readiness = 0;
    for (let i = 0; i < 50 && readiness !== 503; i += 1) {
      readiness = (await request('GET', `${replica.url}/health/ready`)).status;
    }
    assert.equal(readiness, 503, 'readiness reports 503 during the drain');
    assert.equal(replica.running, true, 'still serving during the drain');
    assert.equal((await request('GET', `${replica.url}/health/live`)).status, 200, 'liveness stays up while draining');

    socket.write(body.slice(half));
    await closed;
    assert.match(response, /^HTTP\/1\.1 202 /, `the in-flight request completed: ${response.slice(0, 80)}`);

    const exit = await replica.exited();
    assert.deepEqual(exit, { code: 0, signal: null });
  });
});

describe('a replica whose supervisor dies', () => {
  let cluster: AuthCluster;

  beforeAll(async () => {
    cluster = await startAuthCluster(1);
  });
  afterAll(() => cluster.close());

  it('stops by itself when the process that started it is SIGKILLed (no orphan)', async () => {
    // a supervisor of its own (as the launcher or a test runner is), started from this package
    const script = `
      import { startReplicas } from '@stocklab/test-support';
      const set = await startReplicas(1, { entry: process.env.ENTRY, env: JSON.parse(process.env.REPLICA_ENV), name: 'orphan' });
      console.log(String(set.at(0).pid));
      setInterval(() => undefined, 1000);
    `;
    const supervisor = spawn(process.execPath, ['--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      env: { ...process.env, ENTRY: AUTH_ENTRY, REPLICA_ENV: JSON.stringify(cluster.env) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const pid = await new Promise<number>((resolve, reject) => {
      supervisor.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
      supervisor.once('exit', (code) => reject(new Error(`the supervisor exited with ${code}`)));
    });
    const alive = (): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    assert.ok(pid > 0 && alive(), 'the replica runs');
    supervisor.kill('SIGKILL');
    for (let i = 0; i < 150 && alive(); i += 1) {
      await sleep(100);
    }
    assert.equal(alive(), false, 'the replica exited after its supervisor died');
  });
});
