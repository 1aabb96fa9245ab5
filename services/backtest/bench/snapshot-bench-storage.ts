import { S3Client } from '@aws-sdk/client-s3';
import { ObjectStorage } from '../src/storage/object-storage.js';

/** What a cold-start child (snapshot-bench-child.ts) reports, times from its own process start. */
export interface ChildReport {
  source: string;
  /** from the process's start to its first statement: module loading */
  importMs: number;
  loadMs: number;
  firstBacktestAtMs: number;
  backtestMs: number;
  trades: number;
  peakRssMb: number;
}

/** What a data-version-change child reports. */
export interface MemoryReport {
  mode: string;
  days: number;
  stocks: number;
  /** bytes each stock-day takes in the seven price columns as held (float32 prices: 40, else 56) */
  bytesPerBar: number;
  secondLoadMs: number;
  peakRssMb: number;
}

/** The bench's object storage (s3rver), as the services reach theirs. */
export const storageOf = (endpoint: string, bucket: string): ObjectStorage =>
  new ObjectStorage(
    new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    }),
    bucket,
  );
