/**
 * Hand-over time of the trading scheduler: 3 replicas (Lease API double, LeaseDuration 3 s,
 * RenewDeadline 2 s, RetryPeriod 0.5 s); TRIES times each the leader gets SIGTERM or SIGKILL and
 * the time from the signal to another replica reporting itself leader (GET /scheduler, 25 ms
 * polling) is measured; the stopped replica is restarted before the next try.
 *
 *   npx tsc -p tsconfig.spec.json && node dist-spec/bench/handover.js [tries]
 */
import { randomUUID } from 'node:crypto';
import { currentLeader, LEASE, startTradingCluster, waitFor } from '../test/support.js';

const tries = Number(process.argv[2] ?? 20);
const cluster = await startTradingCluster();
const token = cluster.tokenFor(randomUUID(), ['user', 'admin']);

const stats = (xs: number[]): string => {
  const s = [...xs].sort((a, b) => a - b);
  const median = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return `median ${Math.round(median)} ms, max ${Math.round(s[s.length - 1] ?? 0)} ms (n=${s.length})`;
};

try {
  const results: Record<'SIGTERM' | 'SIGKILL', number[]> = { SIGTERM: [], SIGKILL: [] };
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    for (let i = 0; i < tries; i += 1) {
      const leader = await waitFor('a leader', () => currentLeader(cluster.trading, token), 30_000, 25);
      const t0 = performance.now();
      leader.replica.signal(signal);
      await waitFor('a new leader', () => currentLeader(cluster.trading, token, leader.replica), 30_000, 25);
      results[signal].push(performance.now() - t0);
      await leader.replica.exited();
      await leader.replica.restart();
    }
  }
  process.stdout.write(
    `lease ${LEASE.duration}s / renew ${LEASE.renewDeadline}s / retry ${LEASE.retry}s\n` +
      `SIGTERM hand-over: ${stats(results.SIGTERM)}\nSIGKILL hand-over: ${stats(results.SIGKILL)}\n`,
  );
} finally {
  await cluster.close();
}
