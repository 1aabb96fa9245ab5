import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { describe, it } from '@jest/globals';
import { freePort, listensOn } from '../src/ports.js';

describe('ports', () => {
  it('tells the process that holds a listening port from one that does not', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    assert.ok(address && typeof address === 'object');
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 5000)']);
    try {
      await new Promise((resolve) => other.once('spawn', resolve));
      assert.equal(listensOn(process.pid, address.port), true);
      assert.equal(listensOn(other.pid as number, address.port), false, 'another process answers for nothing here');
    } finally {
      other.kill();
      server.close();
    }
    const port = await freePort();
    assert.ok(port > 0);
    assert.equal(listensOn(process.pid, port), undefined, 'nobody listens on a port freePort() gave back');
  });
});
