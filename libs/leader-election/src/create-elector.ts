import { KubeConfig } from '@kubernetes/client-node';
import type pg from 'pg';
import { KubernetesLeaseElector } from './kubernetes/lease-elector.js';
import { defaultIdentity, type CommonElectorOptions, type LeaderElector } from './leader-elector.js';
import { PostgresAdvisoryLockElector } from './postgres/advisory-lock-elector.js';
import { timingsFromEnv } from './timings.js';

export type LeaderElectionBackend = 'kubernetes' | 'postgres';
export type LeaderElectionMode = LeaderElectionBackend | 'auto';

export const DEFAULT_LEASE_NAME = 'trading-scheduler';
export const DEFAULT_NAMESPACE = 'default';

export interface CreateLeaderElectorOptions extends Omit<CommonElectorOptions, 'leaseName'> {
  /** default: process.env */
  env?: NodeJS.ProcessEnv;
  /** overrides LEADER_ELECTION */
  mode?: LeaderElectionMode;
  /** overrides LEASE_NAME (default trading-scheduler) */
  leaseName?: string;
  /** overrides POD_NAMESPACE (default "default") */
  namespace?: string;
  /** Kubernetes backend: default KubeConfig.loadFromDefault() */
  kubeConfig?: KubeConfig;
  /** PostgreSQL backend: default DATABASE_URL */
  databaseUrl?: string | pg.ClientConfig;
  /** PostgreSQL backend: record the holder in <schema>.leader_election_leases */
  schema?: string;
  requestTimeoutMs?: number;
}

/**
 * LEADER_ELECTION=kubernetes|postgres|auto (default auto): auto picks Kubernetes when
 * KUBERNETES_SERVICE_HOST is set (in a pod) or a KUBECONFIG is given, else PostgreSQL.
 */
export function chooseBackend(env: NodeJS.ProcessEnv, mode?: LeaderElectionMode): LeaderElectionBackend {
  const raw = (mode ?? env.LEADER_ELECTION ?? 'auto').trim().toLowerCase();
  switch (raw) {
    case 'kubernetes':
    case 'postgres':
      return raw;
    case 'auto':
    case '':
      return env.KUBERNETES_SERVICE_HOST || env.KUBECONFIG ? 'kubernetes' : 'postgres';
    default:
      throw new Error(`LEADER_ELECTION must be kubernetes, postgres or auto, got "${raw}"`);
  }
}

/** The leader elector for this process, configured from the environment (options win). */
export function createLeaderElector(options: CreateLeaderElectorOptions = {}): LeaderElector {
  const env = options.env ?? process.env;
  const backend = chooseBackend(env, options.mode);
  const leaseName = options.leaseName ?? (env.LEASE_NAME?.trim() || DEFAULT_LEASE_NAME);
  const common: CommonElectorOptions = {
    ...options,
    leaseName,
    identity: options.identity ?? defaultIdentity(env),
    timings: { ...timingsFromEnv(env), ...options.timings },
  };
  if (backend === 'kubernetes') {
    let kubeConfig = options.kubeConfig;
    if (!kubeConfig) {
      kubeConfig = new KubeConfig();
      kubeConfig.loadFromDefault();
    }
    return new KubernetesLeaseElector({
      ...common,
      namespace: options.namespace ?? (env.POD_NAMESPACE?.trim() || DEFAULT_NAMESPACE),
      kubeConfig,
      ...(options.requestTimeoutMs !== undefined ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
    });
  }
  const connection = options.databaseUrl ?? env.DATABASE_URL;
  if (connection === undefined || connection === '') {
    throw new Error('leader election on PostgreSQL needs DATABASE_URL (or the databaseUrl option)');
  }
  return new PostgresAdvisoryLockElector({
    ...common,
    connection,
    ...(options.schema !== undefined ? { schema: options.schema } : {}),
    ...(options.requestTimeoutMs !== undefined ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
  });
}
