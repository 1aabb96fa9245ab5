import type { SnapshotStore } from '@stocklab/market-data';
import type { ObjectStorage } from '../storage/object-storage.js';

const PREFIX = 'market-snapshots/';
/** Versions kept behind the newest: a process may still be reading the previous one. */
const KEEP_PREVIOUS = 1;

const keyOf = (version: string): string => `${PREFIX}v${version}.bin`;
const versionOf = (key: string): number | undefined => {
  const match = /^market-snapshots\/v(\d+)\.bin$/.exec(key);
  return match ? Number(match[1]) : undefined;
};

/**
 * Market snapshots in the bucket every replica shares: one object per data version (a whole
 * snapshot, or an increment on the version before), written by the import job (or by the first
 * process that had to build it), read whole by any process. Writing version N deletes the
 * snapshots older than `keepFrom`: N - 1 by default, the whole snapshot an increment chain
 * stands on when the import job stores increments.
 */
export class ObjectStorageSnapshotStore implements SnapshotStore {
  constructor(private readonly storage: ObjectStorage) {}

  read(version: string): Promise<Buffer | undefined> {
    return this.storage.read(keyOf(version));
  }

  async write(version: string, bytes: Buffer, keepFrom = String(Number(version) - KEEP_PREVIOUS)): Promise<void> {
    await this.storage.put(keyOf(version), bytes, 'application/octet-stream');
    const oldest = Number(keepFrom);
    for (const key of await this.storage.list(PREFIX)) {
      const old = versionOf(key);
      if (old !== undefined && old < oldest) {
        await this.storage.delete(key);
      }
    }
  }
}
