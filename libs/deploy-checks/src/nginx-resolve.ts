import { nginxSize } from './parity.js';
import type { Problems } from './rules.js';

/** Docker's embedded DNS server, the one that knows the compose services and their aliases. */
const DOCKER_DNS = '127.0.0.11';
/** How long a resolved address may be used: a restarted replica is found again within this. */
const MAX_VALID_SECONDS = 10;
/** The first open-source nginx with `resolve` on upstream servers (and `resolver` in upstream). */
const RESOLVE_SINCE = [1, 27, 3];

function version(image: string): number[] | undefined {
  const match = /^nginx:(\d+)\.(\d+)\.(\d+)/.exec(image);
  return match === null ? undefined : [Number(match[1]), Number(match[2]), Number(match[3])];
}

function atLeast(v: number[], min: number[]): boolean {
  for (let i = 0; i < min.length; i += 1) {
    if ((v[i] ?? 0) !== (min[i] ?? 0)) {
      return (v[i] ?? 0) > (min[i] ?? 0);
    }
  }
  return true;
}

/**
 * nginx resolves a host name in `server` or `proxy_pass` once, at start, unless told otherwise: a
 * replica restarted with a new address would then get no traffic (or another container's) until
 * nginx restarts. So: Docker's resolver with a short `valid=`, every upstream in a shared memory
 * `zone` with `resolve` on each server, every proxy_pass to one of those upstreams, in an nginx
 * image recent enough to have `resolve`; and uploads as large as the backtest service takes.
 */
export function checkNginxReresolves(conf: string, nginxImage: string, maxUploadBytes: number): Problems {
  const problems: Problems = [];
  const text = conf.replace(/#[^\n]*/g, '');
  const resolver = /^\s*resolver\s+([^;]+);/m.exec(text)?.[1]?.split(/\s+/) ?? [];
  if (!resolver.includes(DOCKER_DNS)) {
    problems.push(`nginx: no resolver ${DOCKER_DNS} (Docker's DNS): upstream addresses are resolved once`);
  }
  const valid = /^valid=(\d+)s$/.exec(resolver.find((w) => w.startsWith('valid=')) ?? '')?.[1];
  if (valid === undefined || Number(valid) > MAX_VALID_SECONDS) {
    problems.push(`nginx: the resolver needs valid=<= ${MAX_VALID_SECONDS}s (Docker's DNS answers with a long TTL)`);
  }
  const upstreams = new Set<string>();
  for (const m of text.matchAll(/upstream\s+([\w-]+)\s*\{([^}]*)\}/g)) {
    const [, name = '', body = ''] = m;
    upstreams.add(name);
    if (!/^\s*zone\s+\S+\s+\d+[kKmM]?\s*;/m.test(body)) {
      problems.push(`nginx upstream ${name}: no zone (resolve needs the upstream in shared memory)`);
    }
    for (const server of body.matchAll(/^\s*server\s+([^;]+);/gm)) {
      const words = (server[1] ?? '').split(/\s+/);
      if (!/^\d+\.\d+\.\d+\.\d+(:\d+)?$/.test(words[0] ?? '') && !words.includes('resolve')) {
        problems.push(`nginx upstream ${name}: server ${String(words[0])} without resolve is looked up once`);
      }
    }
  }
  for (const m of text.matchAll(/proxy_pass\s+https?:\/\/([^/;\s]+)/g)) {
    const host = m[1] ?? '';
    if (!upstreams.has(host) && !host.includes('$')) {
      problems.push(`nginx: proxy_pass to ${host}, not an upstream: resolved once at start`);
    }
  }
  const v = version(nginxImage);
  if (v === undefined || !atLeast(v, RESOLVE_SINCE)) {
    problems.push(`nginx: ${nginxImage} predates ${RESOLVE_SINCE.join('.')}, the first open-source nginx with resolve`);
  }
  const body = /client_max_body_size\s+(\w+)\s*;/.exec(text)?.[1];
  if (body === undefined || !(nginxSize(body) >= maxUploadBytes)) {
    problems.push(
      `nginx: client_max_body_size ${String(body)} is under the ${maxUploadBytes} bytes an upload may have`,
    );
  }
  return problems;
}
