import type { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  NoSuchKey,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { DomainError } from '@stocklab/platform';
import type { BacktestConfig } from '../config.js';

/**
 * Files shared by every replica: uploads and exports live in S3-compatible storage, never on a
 * pod's disk. Streams in and out; nothing is buffered whole.
 */
export class ObjectStorage {
  readonly bucket: string;

  constructor(
    private readonly client: S3Client,
    bucket: string,
  ) {
    this.bucket = bucket;
  }

  static fromConfig(config: BacktestConfig): ObjectStorage {
    const credentials =
      config.S3_ACCESS_KEY_ID && config.S3_SECRET_ACCESS_KEY
        ? { accessKeyId: config.S3_ACCESS_KEY_ID, secretAccessKey: config.S3_SECRET_ACCESS_KEY }
        : undefined;
    const client = new S3Client({
      endpoint: config.S3_ENDPOINT,
      region: config.S3_REGION,
      forcePathStyle: config.S3_FORCE_PATH_STYLE,
      credentials,
      // checksums only where S3 requires them: s3rver and some gateways corrupt streamed
      // uploads with the SDK's default trailing checksums
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 3,
    });
    return new ObjectStorage(client, config.S3_BUCKET);
  }

  async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch {
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
    }
  }

  /** Streams `body` to `key` (multipart for large bodies); resolves once stored. */
  async put(key: string, body: Readable | Buffer | string, contentType: string, signal?: AbortSignal): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: body, ContentType: contentType },
      queueSize: 2,
      partSize: 8 * 1024 * 1024,
    });
    if (signal) {
      signal.addEventListener('abort', () => void upload.abort(), { once: true });
    }
    await upload.done();
  }

  /** The object as a stream; 404 NOT_FOUND when it does not exist. */
  async get(
    key: string,
  ): Promise<{ body: Readable; contentLength: number | undefined; contentType: string | undefined }> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return { body: out.Body as Readable, contentLength: out.ContentLength, contentType: out.ContentType };
    } catch (error) {
      if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') {
        throw new DomainError(404, 'FILE_NOT_FOUND', 'The file does not exist');
      }
      throw new DomainError(503, 'STORAGE_UNAVAILABLE', 'Object storage is not reachable right now', {
        'Retry-After': '2',
      });
    }
  }

  /** The whole object in memory (for objects read at once, like market snapshots); undefined when absent. */
  async read(key: string): Promise<Buffer | undefined> {
    let object: Awaited<ReturnType<ObjectStorage['get']>>;
    try {
      object = await this.get(key);
    } catch (error) {
      if (error instanceof DomainError && error.code === 'FILE_NOT_FOUND') {
        return undefined;
      }
      throw error;
    }
    // filled in place when the size is known: no second copy of a large object
    const size = object.contentLength;
    const whole = size === undefined ? undefined : Buffer.allocUnsafe(size);
    const chunks: Buffer[] = [];
    let received = 0;
    for await (const chunk of object.body as AsyncIterable<Buffer>) {
      if (whole && received + chunk.length <= whole.length) {
        chunk.copy(whole, received);
      } else {
        chunks.push(chunk);
      }
      received += chunk.length;
    }
    if (!whole) {
      return Buffer.concat(chunks);
    }
    if (received === whole.length) {
      return whole;
    }
    throw new DomainError(503, 'STORAGE_UNAVAILABLE', `Object ${key} arrived with ${received} of ${size} bytes`, {
      'Retry-After': '2',
    });
  }

  /** Keys under `prefix` (every page). */
  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      keys.push(...(page.Contents ?? []).flatMap((o) => (o.Key ? [o.Key] : [])));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  /** Readiness: can we reach the bucket? */
  async ping(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
  }

  destroy(): void {
    this.client.destroy();
  }
}
