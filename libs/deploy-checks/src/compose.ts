import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot, serviceOfImage, type ServiceName } from './repo.js';
import { imageProblems, type Problems } from './rules.js';
import type { ConfigSchemaLike } from './service-config.js';

export interface ComposeBuild {
  context?: string;
  dockerfile?: string;
  target?: string;
  args?: Record<string, string>;
}
export interface ComposeService {
  image?: string;
  build?: ComposeBuild | string;
  networks?: string[] | Record<string, { aliases?: string[] } | null>;
  command?: string[] | string;
  deploy?: { replicas?: number };
  environment?: Record<string, string | number | boolean | null>;
  healthcheck?: { test?: string[] | string };
  depends_on?: Record<string, { condition?: string }>;
  restart?: string;
}
export interface ComposeFile {
  services: Record<string, ComposeService>;
}

/** docker-compose.yml, parsed with merge keys (<<) resolved as Compose does. */
export function loadCompose(root = repoRoot()): ComposeFile {
  const text = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
  return parse(text, { merge: true, maxAliasCount: 1000 }) as ComposeFile;
}

const ONE_SHOT = (s: ComposeService): boolean => s.restart === 'no';

/**
 * The compose topology: pinned images; a healthcheck on every long-running service; one-shot
 * services only where expected; dependencies wait for health (or successful completion);
 * service containers set only variables their service reads, with values it accepts.
 */
export function checkCompose(compose: ComposeFile, schemas: Record<ServiceName, ConfigSchemaLike>): Problems {
  const problems: Problems = [];
  const services = compose.services;
  problems.push(
    ...imageProblems(Object.entries(services).map(([name, s]) => [`compose ${name}`, s.image ?? '(none)'])),
  );
  for (const [name, s] of Object.entries(services)) {
    if (!ONE_SHOT(s) && s.healthcheck?.test === undefined) {
      problems.push(`compose ${name}: long-running service without healthcheck`);
    }
    for (const [dep, cond] of Object.entries(s.depends_on ?? {})) {
      const target = services[dep];
      if (target === undefined) {
        problems.push(`compose ${name}: depends on missing service ${dep}`);
        continue;
      }
      const expected = ONE_SHOT(target) ? 'service_completed_successfully' : 'service_healthy';
      if (cond.condition !== expected) {
        problems.push(`compose ${name}: depends_on ${dep} must use condition ${expected}`);
      }
    }
    const service = s.image === undefined ? undefined : serviceOfImage(s.image);
    if (service === undefined) {
      continue;
    }
    const schema = schemas[service];
    for (const [key, raw] of Object.entries(s.environment ?? {})) {
      const spec = schema[key];
      if (spec === undefined) {
        problems.push(`compose ${name}: sets ${key}, which the ${service} service does not read`);
        continue;
      }
      try {
        spec.parse(String(raw ?? ''), key);
      } catch (error) {
        problems.push(`compose ${name}: ${key} is rejected by the service: ${String(error)}`);
      }
    }
    if (!ONE_SHOT(s)) {
      for (const dep of ['postgres', 'redis']) {
        if (s.depends_on?.[dep] === undefined) {
          problems.push(`compose ${name}: must start after ${dep} is healthy`);
        }
      }
      if (!Object.keys(s.depends_on ?? {}).some((d) => d.startsWith('migrate'))) {
        problems.push(`compose ${name}: must start after the migrations`);
      }
    }
  }
  return problems;
}

/** nginx `location <path> { proxy_pass http://<upstream>; }` with the upstream's servers. */
export function nginxRoutes(conf: string): { path: string; service: string; port: number }[] {
  const upstreams = new Map<string, { host: string; port: number }[]>();
  for (const m of conf.matchAll(/upstream\s+([\w-]+)\s*\{([^}]*)\}/g)) {
    const servers = [...(m[2] ?? '').matchAll(/server\s+([\w.-]+):(\d+)/g)].map((s) => ({
      host: s[1] ?? '',
      port: Number(s[2]),
    }));
    upstreams.set(m[1] ?? '', servers);
  }
  const routes: { path: string; service: string; port: number }[] = [];
  for (const m of conf.matchAll(/location\s+([^\s{=]+)\s*\{([^}]*)\}/g)) {
    const target = /proxy_pass\s+http:\/\/([\w.-]+)(?::(\d+))?/.exec(m[2] ?? '');
    if (target?.[1] === undefined) {
      continue;
    }
    const servers = upstreams.get(target[1]) ?? [{ host: target[1], port: Number(target[2] ?? 80) }];
    for (const server of servers) {
      routes.push({ path: m[1] ?? '', service: server.host, port: server.port });
    }
  }
  return routes;
}

export function loadNginxConf(root = repoRoot()): string {
  return readFileSync(join(root, 'deploy', 'nginx', 'nginx.conf'), 'utf8');
}
