#!/usr/bin/env node
// Prints how fast this machine is at what the suite spends its time on, so that suite times
// measured on different VMs of "the same kind" can be compared (README, "Speed and steadiness"):
// the VMs these sessions ran on differed 2x in suite time at the same CPU speed, and the
// difference was in the kernel (page faults, process starts, system calls), not in the CPU.
// Run it on a quiet machine: node scripts/machine-speed.mjs
import { spawnSync } from 'node:child_process';
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

const rows = [
  ['CPU: 3e8 iterations of an integer loop', `${median([cpuLoop(), cpuLoop(), cpuLoop()]).toFixed(0)} ms`],
  [
    'first touch of 512 MiB (131,072 page faults)',
    `${median([firstTouch(512), firstTouch(512), firstTouch(512)]).toFixed(0)} ms`,
  ],
  ['a system call (fstat), each', `${median([syscalls(200_000), syscalls(200_000), syscalls(200_000)]).toFixed(2)} us`],
  ['start of /bin/true, median of 100', `${processStarts('/bin/true', [], 100).toFixed(1)} ms`],
  ['start of `node -e 0`, median of 10', `${processStarts(process.execPath, ['-e', '0'], 10).toFixed(0)} ms`],
];
console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`);
const width = Math.max(...rows.map(([name]) => name.length));
for (const [name, value] of rows) {
  console.log(`${name.padEnd(width)}  ${value}`);
}
