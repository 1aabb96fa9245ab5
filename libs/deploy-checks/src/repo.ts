import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The monorepo root: the nearest folder above this file whose package.json declares workspaces. */
export function repoRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { workspaces?: unknown };
      if (Array.isArray(pkg.workspaces)) {
        return dir;
      }
    }
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(`no workspace root above ${from}`);
    }
    dir = parent;
  }
}

/** The services that ship as images, with their port and entry points inside the image. */
export const SERVICES = {
  auth: { port: 3001, entryPoints: ['dist/bundle/main.js', 'dist/bundle/migrate.js'] },
  backtest: { port: 3002, entryPoints: ['dist/bundle/main.js', 'dist/bundle/migrate.js', 'dist/bundle/worker.js'] },
  trading: { port: 3003, entryPoints: ['dist/bundle/main.js', 'dist/bundle/migrate.js'] },
} as const;
export type ServiceName = keyof typeof SERVICES;
export const SERVICE_NAMES = Object.keys(SERVICES) as ServiceName[];

export function isServiceName(value: string): value is ServiceName {
  return Object.hasOwn(SERVICES, value);
}

/** ghcr.io/stocklab/<service>:<tag> -> service, else undefined (third-party images). */
export function serviceOfImage(image: string): ServiceName | undefined {
  const match = /^ghcr\.io\/stocklab\/([a-z-]+)[:@]/.exec(image);
  return match?.[1] !== undefined && isServiceName(match[1]) ? match[1] : undefined;
}
