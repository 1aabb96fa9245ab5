import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import busboy from 'busboy';
import { DomainError, isForbiddenCodePoint } from '@stocklab/platform';
import { isMarketKind, MARKET_KINDS, type MarketKind } from '../market/market-csv.js';
import type { ObjectStorage } from '../storage/object-storage.js';

export interface ReceivedDataset {
  kind: MarketKind;
  /** the client's file name, checked (no paths, no control characters) */
  fileName: string;
  objectKey: string;
  sizeBytes: number;
  sha256: string;
}

/** Content types browsers and tools send for .csv files. */
const CSV_CONTENT_TYPES = new Set([
  'text/csv',
  'application/csv',
  'text/plain',
  'application/vnd.ms-excel',
  'application/octet-stream',
]);
/**
 * A character no file name may carry: the text fields' forbidden set (C0 and C1 controls, bidi
 * overrides that make `evil\u202Ecsv.exe` read as `evilexe.csv`), any tab or newline, and U+FFFD,
 * which is what busboy makes of bytes that were not UTF-8 (a lone surrogate among them).
 */
function hasForbiddenCharacter(name: string): boolean {
  for (const ch of name) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp < 0x20 || cp === 0xfffd || isForbiddenCodePoint(cp)) {
      return true;
    }
  }
  return false;
}

/** Rejects names that try to be paths or carry control characters; returns the name itself. */
export function checkFileName(name: string | undefined): string {
  if (!name || name.trim() === '') {
    throw new DomainError(400, 'INVALID_FILE_NAME', 'The file needs a name ending in .csv');
  }
  if (
    hasForbiddenCharacter(name) ||
    name.includes('/') ||
    name.includes('\\') ||
    name.includes('..') ||
    name.length > 200
  ) {
    throw new DomainError(
      400,
      'INVALID_FILE_NAME',
      'The file name must be a plain name (no path, no "..", no control or bidi characters, valid UTF-8, at most 200 characters)',
    );
  }
  if (!/\.csv$/i.test(name)) {
    throw new DomainError(415, 'NOT_CSV', 'Only .csv files are accepted');
  }
  return name;
}

/** The name as it appears in the object key: ASCII letters, digits, dot, dash, underscore only. */
export function storageSafeName(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[.]+/, '_');
  return safe.slice(-100);
}

/** Counts and hashes what passes through; refuses binary content (NUL bytes). */
class Fingerprint extends Transform {
  private readonly hash = createHash('sha256');
  size = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (chunk.includes(0)) {
      callback(new DomainError(415, 'NOT_CSV', 'The file is not a text CSV (it contains binary data)'));
      return;
    }
    this.size += chunk.length;
    this.hash.update(chunk);
    callback(null, chunk);
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

/**
 * Reads a multipart/form-data upload straight from the request stream into object storage:
 * a text field `kind` first, then exactly one file field `file`. The file never touches the
 * local disk; it is hashed and measured on the way, and cut off (with the partial object
 * removed) once it exceeds `maxBytes`.
 */
export async function receiveDatasetUpload(
  req: IncomingMessage,
  storage: ObjectStorage,
  maxBytes: number,
  datasetId: string,
): Promise<ReceivedDataset> {
  const contentType = req.headers['content-type'] ?? '';
  if (!/^multipart\/form-data\s*;/i.test(contentType)) {
    throw new DomainError(415, 'MULTIPART_REQUIRED', 'Send the dataset as multipart/form-data (fields: kind, file)');
  }
  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: req.headers,
      defParamCharset: 'utf8',
      // keep directory parts in the name we are given, so that a name with a path is refused, not trimmed
      preservePath: true,
      limits: { fileSize: maxBytes, files: 1, fields: 4, fieldSize: 1024, parts: 6, headerPairs: 20 },
    });
  } catch {
    throw new DomainError(400, 'INVALID_MULTIPART', 'The multipart body could not be read');
  }

  return new Promise<ReceivedDataset>((resolve, reject) => {
    let kind: MarketKind | undefined;
    let failure: DomainError | Error | undefined;
    let upload: Promise<void> | undefined;
    let fingerprint: Fingerprint | undefined;
    let fileName: string | undefined;
    let objectKey: string | undefined;
    let settled = false;

    const finish = async (): Promise<void> => {
      if (settled) {
        return;
      }
      settled = true;
      // whatever was stored must be gone before we answer with an error
      const stored = upload?.then(
        () => true,
        () => false,
      );
      const wasStored = stored ? await stored : false;
      if (failure) {
        if (objectKey && upload) {
          await storage.delete(objectKey).catch(() => undefined);
        }
        reject(failure);
        return;
      }
      if (!upload || !fingerprint || !objectKey || !fileName || !kind || !wasStored) {
        reject(new DomainError(400, 'FILE_REQUIRED', 'A file field named "file" is required'));
        return;
      }
      if (fingerprint.size === 0) {
        await storage.delete(objectKey).catch(() => undefined);
        reject(new DomainError(400, 'EMPTY_FILE', 'The file is empty'));
        return;
      }
      resolve({ kind, fileName, objectKey, sizeBytes: fingerprint.size, sha256: fingerprint.digest() });
    };

    const fail = (error: DomainError | Error): void => {
      failure ??= error;
      // A file still arriving is cut off, so that its upload fails before the store has it whole
      // (the store never gets a complete body; a multipart upload is aborted by the uploader). A
      // file that has arrived is left to land and is deleted in finish(): aborting its PUT once
      // sent let the store finish writing it after our delete (an orphan object under load).
      if (fingerprint && !fingerprint.readableEnded && !fingerprint.destroyed) {
        fingerprint.destroy(failure instanceof Error ? failure : new Error(String(failure)));
      }
      // stop parsing; let the rest of the request drain so that the client reads our answer
      req.unpipe(parser);
      req.resume();
      void finish();
    };

    parser.on('field', (name, value) => {
      if (failure) {
        return;
      }
      if (name !== 'kind') {
        fail(new DomainError(400, 'UNKNOWN_FIELD', `Unknown form field "${name.slice(0, 40)}"`));
        return;
      }
      if (!isMarketKind(value)) {
        fail(new DomainError(400, 'INVALID_KIND', `kind must be one of ${MARKET_KINDS.join(', ')}`));
        return;
      }
      kind = value;
    });

    parser.on('file', (name, stream, info) => {
      if (failure || upload) {
        stream.resume();
        return;
      }
      try {
        if (name !== 'file') {
          throw new DomainError(400, 'UNKNOWN_FIELD', 'The file field must be named "file"');
        }
        if (!kind) {
          throw new DomainError(
            400,
            'KIND_REQUIRED',
            'The form field "kind" is required and must come before the file',
          );
        }
        fileName = checkFileName(info.filename);
        if (!CSV_CONTENT_TYPES.has(info.mimeType.toLowerCase())) {
          throw new DomainError(415, 'NOT_CSV', 'Only CSV files (text/csv) are accepted');
        }
      } catch (error) {
        stream.resume();
        fail(error as DomainError);
        return;
      }
      objectKey = `datasets/${datasetId}/${storageSafeName(fileName)}`;
      const hashing = new Fingerprint();
      fingerprint = hashing;
      stream.on('limit', () =>
        fail(new DomainError(413, 'FILE_TOO_LARGE', `The file is larger than the limit of ${maxBytes} bytes`)),
      );
      stream.on('error', (error) => hashing.destroy(error));
      hashing.on('error', (error) => fail(error instanceof DomainError ? error : new Error(error.message)));
      upload = storage.put(objectKey, stream.pipe(hashing), 'text/csv');
      upload.catch((error: unknown) => {
        if (!failure) {
          fail(new DomainError(503, 'STORAGE_UNAVAILABLE', `Object storage did not take the file (${String(error)})`));
        }
      });
    });

    parser.on('filesLimit', () => fail(new DomainError(400, 'TOO_MANY_FILES', 'Send exactly one file per upload')));
    parser.on('partsLimit', () => fail(new DomainError(400, 'TOO_MANY_PARTS', 'Too many form parts')));
    parser.on('fieldsLimit', () => fail(new DomainError(400, 'TOO_MANY_FIELDS', 'Too many form fields')));
    parser.on('error', () => fail(new DomainError(400, 'INVALID_MULTIPART', 'The multipart body could not be read')));
    parser.on('close', () => void finish());
    req.on('aborted', () => fail(new DomainError(400, 'UPLOAD_ABORTED', 'The upload was interrupted')));
    req.pipe(parser);
  });
}
