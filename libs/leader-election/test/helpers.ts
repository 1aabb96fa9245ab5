import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { KubernetesLeaseElector, silentLogger, type ElectionTimings, type LeaderElector } from '../src/index.js';
import { kubeconfigYaml } from '../src/testing/kubeconfig.js';

/** Short durations for tests: LeaseDuration 3 s, RenewDeadline 2 s, RetryPeriod 0.5 s. */
export const TEST_TIMINGS: ElectionTimings = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 };

export const now = (): number => performance.now();

/** Polls until `predicate` is true; fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, predicate: () => boolean, timeoutMs = 15000): Promise<void> {
  const deadline = now() + timeoutMs;
  while (!predicate()) {
    if (now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(20);
  }
}

export function kubeConfigFor(serverUrl: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfigYaml(serverUrl));
  return kc;
}

export interface Recorded {
  elector: KubernetesLeaseElector;
  registry: Registry;
  /** monotonic times of events, in the test's clock */
  started: number[];
  stopped: { at: number; reason: string }[];
  signals: AbortSignal[];
}

let counter = 0;

/** An elector with its own KubeConfig (so its own HTTP client) and its own metrics registry. */
export function newLeaseElector(
  serverUrl: string,
  leaseName: string,
  timings: ElectionTimings = TEST_TIMINGS,
): Recorded {
  counter += 1;
  const registry = new Registry();
  const recorded: Recorded = {
    registry,
    started: [],
    stopped: [],
    signals: [],
    elector: new KubernetesLeaseElector({
      leaseName,
      namespace: 'default',
      identity: `replica-${counter}-${Math.random().toString(16).slice(2, 8)}`,
      kubeConfig: kubeConfigFor(serverUrl),
      timings,
      registry,
      logger: silentLogger,
    }),
  };
  recorded.elector.on('started-leading', ({ signal }) => {
    recorded.started.push(now());
    recorded.signals.push(signal);
  });
  recorded.elector.on('stopped-leading', ({ reason }) => recorded.stopped.push({ at: now(), reason }));
  return recorded;
}

export function leaders<T extends { elector: LeaderElector }>(all: T[]): T[] {
  return all.filter((r) => r.elector.isLeader);
}
