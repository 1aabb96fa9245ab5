import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

export interface LocalS3 {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** the S3_* variables a service needs to use it */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * An S3-compatible server (s3rver) on a free port with one bucket, for tests and the local
 * platform. Clients must disable the SDK's default streaming checksums (s3rver would store the
 * chunk-signed body as is): the services do.
 */
export async function startLocalS3(
  bucket = 'stocklab-test',
  options: { directory?: string; port?: number } = {},
): Promise<LocalS3> {
  // a given directory is kept (the local platform's files survive restarts); a temporary one is removed
  const keep = options.directory !== undefined;
  const directory = options.directory ?? mkdtempSync(join(tmpdir(), 'stocklab-s3-'));
  mkdirSync(directory, { recursive: true });
  const server = new S3rver({ port: options.port ?? 0, address: '127.0.0.1', silent: true, directory });
  const { port } = (await server.run()) as { port: number };
  const endpoint = `http://127.0.0.1:${port}`;
  const accessKeyId = 'S3RVER';
  const secretAccessKey = 'S3RVER';
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
  });
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    // a kept directory already has it
    if (
      (error as { name?: string }).name !== 'BucketAlreadyOwnedByYou' &&
      (error as { name?: string }).name !== 'BucketAlreadyExists'
    ) {
      throw error;
    }
  } finally {
    client.destroy();
  }
  return {
    endpoint,
    bucket,
    accessKeyId,
    secretAccessKey,
    env: {
      S3_ENDPOINT: endpoint,
      S3_BUCKET: bucket,
      S3_REGION: 'us-east-1',
      S3_ACCESS_KEY_ID: accessKeyId,
      S3_SECRET_ACCESS_KEY: secretAccessKey,
      S3_FORCE_PATH_STYLE: 'true',
    },
    async stop() {
      await server.close();
      if (!keep) {
        rmSync(directory, { recursive: true, force: true });
      }
    },
  };
}
