import type { ComposeFile, ComposeService } from './compose.js';
import { parseDockerfile } from './dockerfile.js';
import { serviceOfImage } from './repo.js';
import type { Problems } from './rules.js';

/**
 * The role of a long-running StockLab container: its service, or `backtest-worker` for the queue
 * consumer (dist/bundle/worker.js); undefined for third-party images and one-shot containers.
 */
export function roleOf(s: ComposeService): string | undefined {
  const service = s.image === undefined ? undefined : serviceOfImage(s.image);
  if (service === undefined || s.restart === 'no') {
    return undefined;
  }
  const command = Array.isArray(s.command) ? s.command.join(' ') : (s.command ?? '');
  return command.includes('dist/bundle/worker.js') ? `${service}-worker` : service;
}

/** The compose services of each role (auth: [auth-1, auth-2], ...): the replicas, as Kubernetes counts them. */
export function composeReplicas(compose: ComposeFile): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, s] of Object.entries(compose.services)) {
    const role = roleOf(s);
    if (role !== undefined) {
      (out[role] ??= []).push(name);
    }
  }
  return out;
}

/** The network aliases a service carries on the default network. */
export function aliasesOf(s: ComposeService): string[] {
  const networks = s.networks;
  return Array.isArray(networks) || networks === undefined ? [] : (networks.default?.aliases ?? []);
}

/** The stage names of a Dockerfile, in order (`FROM x AS <name>`). */
export function dockerStages(dockerfile: string): string[] {
  return parseDockerfile(dockerfile)
    .filter((i) => i.op === 'FROM')
    .map((i) => /\s+AS\s+(\S+)$/i.exec(i.args)?.[1] ?? '');
}

/**
 * Every container of a StockLab image is built by `docker compose build` from this repository's
 * Dockerfile, at its final stage (the runtime image; an earlier stage holds the compiler and the
 * dev dependencies) with the image's SERVICE; and every one has a POD_NAME of its own: the
 * trading leader's identity and the `pod` of every log line and metric, which replicas of one
 * compose service would share (Compose sets the same variables on each), so none has replicas.
 */
export function checkComposeImages(compose: ComposeFile, dockerfile: string): Problems {
  const problems: Problems = [];
  const stages = dockerStages(dockerfile);
  const runtime = stages[stages.length - 1];
  const podNames = new Map<string, string>();
  for (const [name, s] of Object.entries(compose.services)) {
    const service = s.image === undefined ? undefined : serviceOfImage(s.image);
    if (service === undefined) {
      continue;
    }
    const build = typeof s.build === 'string' ? { context: s.build } : s.build;
    if (build === undefined) {
      problems.push(`compose ${name}: no build: for ${String(s.image)} (docker compose up would try to pull it)`);
    } else {
      if (build.context !== '.' || (build.dockerfile ?? 'Dockerfile') !== 'Dockerfile') {
        problems.push(`compose ${name}: must build the repository's Dockerfile (context .)`);
      }
      if (build.target !== runtime) {
        problems.push(
          `compose ${name}: build target ${String(build.target)}, expected the final stage ${String(runtime)}`,
        );
      }
      if (build.args?.SERVICE !== service) {
        problems.push(`compose ${name}: build arg SERVICE=${String(build.args?.SERVICE)}, the image is ${service}'s`);
      }
    }
    if ((s.deploy?.replicas ?? 1) !== 1) {
      problems.push(
        `compose ${name}: ${String(s.deploy?.replicas)} replicas would share one POD_NAME; one service per replica`,
      );
    }
    const pod = s.environment?.POD_NAME;
    if (typeof pod !== 'string' || pod === '') {
      problems.push(`compose ${name}: no POD_NAME (the service would report "local")`);
    } else if (podNames.has(pod)) {
      problems.push(`compose ${name}: POD_NAME ${pod} is also ${String(podNames.get(pod))}'s`);
    } else {
      podNames.set(pod, name);
    }
  }
  return problems;
}
