import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot, SERVICE_NAMES, type ServiceName } from './repo.js';

/** The part of a platform VarSpec (libs/platform/src/config/config-schema.ts) the checks use. */
export interface VarSpecLike {
  readonly description: string;
  readonly defaultValue?: string;
  readonly secret?: boolean;
  parse(raw: string, name: string): unknown;
}
export type ConfigSchemaLike = Record<string, VarSpecLike>;

const EXPORTS: Record<ServiceName, string> = {
  auth: 'authConfigSchema',
  backtest: 'backtestConfigSchema',
  trading: 'tradingConfigSchema',
};

/**
 * Variables a pod may set beyond its service's schema, with who reads them.
 * POD_NAMESPACE: Downward API on every pod; read by trading's Lease elector (and in its schema).
 * NODE_OPTIONS: read by Node itself (the trading pods' V8 young-generation size).
 * NODE_EXTRA_CA_CERTS: read by Node itself at start (the CA bundle PostgreSQL's certificate needs).
 */
export const PLATFORM_PROVIDED_ENV: Record<string, string> = {
  POD_NAMESPACE: 'Downward API (metadata.namespace); the Lease elector of libs/leader-election reads it',
  NODE_OPTIONS: 'read by Node itself: V8 flags such as the trading pods’ --max-semi-space-size',
  NODE_EXTRA_CA_CERTS: 'read by Node itself at start: CAs added to its TLS defaults (database.caBundle)',
};

/** Each service's configuration schema, imported from its build output (services/<svc>/dist/config.js). */
export async function loadServiceSchemas(root = repoRoot()): Promise<Record<ServiceName, ConfigSchemaLike>> {
  const out: Partial<Record<ServiceName, ConfigSchemaLike>> = {};
  for (const service of SERVICE_NAMES) {
    const file = join(root, 'services', service, 'dist', 'config.js');
    const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    const schema = mod[EXPORTS[service]];
    if (typeof schema !== 'object' || schema === null) {
      throw new Error(`${file} does not export ${EXPORTS[service]}`);
    }
    out[service] = schema as ConfigSchemaLike;
  }
  return out as Record<ServiceName, ConfigSchemaLike>;
}

/**
 * The routes every service serves outside its /api/<service> prefix, read from the platform's
 * bootstrap (the global prefix's exclusions: health/live, health/ready, metrics).
 */
export function servedRootPaths(root = repoRoot()): string[] {
  const file = join(root, 'libs', 'platform', 'dist', 'bootstrap', 'run-service.js');
  const text = readFileSync(file, 'utf8');
  const block = /exclude:\s*\[([\s\S]*?)\]/.exec(text)?.[1] ?? '';
  const paths = [...block.matchAll(/path:\s*'([^']+)'/g)].map((m) => `/${m[1]}`);
  if (paths.length === 0) {
    throw new Error(`${file}: no global-prefix exclusions found (health routes moved?)`);
  }
  return paths;
}
