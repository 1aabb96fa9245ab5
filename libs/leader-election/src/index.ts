export * from './timings.js';
export * from './metrics.js';
export * from './leader-elector.js';
export {
  KubernetesLeaseElector,
  CLIENT_ID_HEADER,
  type KubernetesLeaseElectorOptions,
} from './kubernetes/lease-elector.js';
export {
  PostgresAdvisoryLockElector,
  advisoryLockKey,
  type PostgresAdvisoryLockElectorOptions,
} from './postgres/advisory-lock-elector.js';
export * from './create-elector.js';
export {
  LeaseApiDouble,
  type Fault,
  type FaultMode,
  type LeaseApiDoubleOptions,
  type LeaseWrite,
  type StoredLease,
} from './testing/lease-api-double.js';
export { writeKubeconfig, kubeconfigYaml } from './testing/kubeconfig.js';
