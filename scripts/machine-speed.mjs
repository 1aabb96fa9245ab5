#!/usr/bin/env node
// Prints how fast this machine is at what the suite spends its time on, so that suite times
// measured on different VMs of "the same kind" can be compared (README, "Speed and steadiness"):
// the VMs these sessions ran on differed 2x in suite time at the same CPU speed, and the
// difference was in the kernel (page faults, process starts, system calls), not in the CPU.
// The loopback transfer is the floor under a snapshot's GET in the cold-start bench (s3rver on
// the same machine): no object store, only a socket between two processes.
// Run it on a quiet machine: node scripts/machine-speed.mjs
import { Buffer } from 'node:buffer';
import { execFile, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { promisify } from 'node:util';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';

const ms = (start) => performance.now() - start;
const median = (values) => values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)];

function cpuLoop() {
  const start = performance.now();
  let sum = 0;
  for (let i = 0; i < 300_000_000; i++) {
    sum += i & 7;
  }
  if (sum !== 1_050_000_000) {
    throw new Error('the loop was not run');
  }
  return ms(start);
}

/** fresh memory written once per 4 KiB page: one page fault each (none are huge pages here) */
function firstTouch(mib) {
  const start = performance.now();
  const bytes = new Uint8Array(mib * 1024 * 1024);
  for (let i = 0; i < bytes.length; i += 4096) {
    bytes[i] = 1;
  }
  return ms(start);
}

function syscalls(count) {
  const fd = openSync(process.execPath, 'r');
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    fstatSync(fd);
  }
  const elapsed = ms(start);
  closeSync(fd);
  return (elapsed * 1000) / count;
}

function processStarts(command, args, count) {
  const times = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    const result = spawnSync(command, args, { stdio: 'ignore' });
    if (result.status !== 0) {
      throw new Error(`${command} exited ${result.status}`);
    }
    times.push(ms(start));
  }
  return median(times);
}

/** The GET of `mib` MiB from an HTTP server in this process by a fresh `node` into one buffer, as ObjectStorage.read fills its own. */
async function loopbackTransfer(mib) {
  const body = Buffer.alloc(mib * 1024 * 1024, 7);
  const server = createServer((_, res) => {
    res.writeHead(200, { 'content-length': body.length });
    res.end(body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = `
    const http = require('node:http');
    const start = performance.now();
    http.get(process.argv[1], (res) => {
      const whole = Buffer.allocUnsafe(Number(res.headers['content-length']));
      let at = 0;
      res.on('data', (chunk) => { chunk.copy(whole, at); at += chunk.length; });
      res.on('end', () => console.log(performance.now() - start));
    });`;
  try {
    const times = [];
    for (let i = 0; i < 3; i++) {
      const { stdout } = await promisify(execFile)(process.execPath, [
        '-e',
        client,
        `http://127.0.0.1:${server.address().port}/`,
      ]);
      times.push(Number(stdout));
    }
    return median(times);
  } finally {
    server.close();
  }
}

const rows = [
  ['CPU: 3e8 iterations of an integer loop', `${median([cpuLoop(), cpuLoop(), cpuLoop()]).toFixed(0)} ms`],
  [
    'first touch of 512 MiB (131,072 page faults)',
    `${median([firstTouch(512), firstTouch(512), firstTouch(512)]).toFixed(0)} ms`,
  ],
  ['a system call (fstat), each', `${median([syscalls(200_000), syscalls(200_000), syscalls(200_000)]).toFixed(2)} us`],
  ['start of /bin/true, median of 100', `${processStarts('/bin/true', [], 100).toFixed(1)} ms`],
  ['start of `node -e 0`, median of 10', `${processStarts(process.execPath, ['-e', '0'], 10).toFixed(0)} ms`],
  ['loopback HTTP GET of 96 MiB, median of 3', `${(await loopbackTransfer(96)).toFixed(0)} ms`],
];
console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`);
const width = Math.max(...rows.map(([name]) => name.length));
for (const [name, value] of rows) {
  console.log(`${name.padEnd(width)}  ${value}`);
}
