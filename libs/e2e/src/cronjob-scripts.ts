import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

/** One CronJob of the trading-cronjob component: its name and the shell script its container runs. */
export interface CronJobScript {
  name: string;
  script: string;
}

interface CronJobDocument {
  kind?: string;
  metadata?: { name?: string };
  spec?: { jobTemplate?: { spec?: { template?: { spec?: { containers?: { args?: string[] }[] } } } } };
}

/**
 * The scripts of `k8s/components/trading-cronjob/cronjobs.yaml` as the manifest has them, with
 * the in-cluster addresses of auth and trading replaced by `baseUrl` (the gateway of a running
 * platform), so that a test runs exactly what a CronJob's container runs.
 */
export function tradingCronJobScripts(repoRoot: string, baseUrl: string): CronJobScript[] {
  const text = readFileSync(join(repoRoot, 'k8s/components/trading-cronjob/cronjobs.yaml'), 'utf8');
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as CronJobDocument)
    .filter((doc) => doc.kind === 'CronJob')
    .map((doc) => {
      const script = doc.spec?.jobTemplate?.spec?.template?.spec?.containers?.[0]?.args?.[0];
      if (!script) {
        throw new Error(`CronJob ${doc.metadata?.name} has no script`);
      }
      return {
        name: doc.metadata?.name ?? '',
        script: script.replaceAll('http://auth:3001', baseUrl).replaceAll('http://trading:3003', baseUrl),
      };
    });
}
