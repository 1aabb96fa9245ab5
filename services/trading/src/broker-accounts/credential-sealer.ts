import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Broker credentials at rest: envelope encryption with AES-256-GCM. Each record has a data key of
 * its own that encrypts the credentials (authenticated with the record's id, so a sealed value
 * copied onto another record does not open); the data key is stored wrapped by a key-encryption
 * key (KEK) named by its id. KEKs come from the environment (or a KMS that fills it); rotating one
 * re-wraps the data keys only (`rewrap`), the credentials' ciphertext stays as it is.
 */
export interface Sealed {
  v: 1;
  /** the id of the KEK that wraps the data key */
  kek: string;
  /** the data key, wrapped: iv.tag.ciphertext, base64 each */
  dek: string;
  iv: string;
  tag: string;
  data: string;
}

export class SealingError extends Error {}

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

function encrypt(key: Buffer, plain: Buffer, aad: string): { iv: Buffer; tag: Buffer; data: Buffer } {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const data = Buffer.concat([cipher.update(plain), cipher.final()]);
  return { iv, tag: cipher.getAuthTag(), data };
}

function decrypt(key: Buffer, iv: Buffer, tag: Buffer, data: Buffer, aad: string): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(data), decipher.final()]);
  } catch {
    throw new SealingError('sealed credentials do not open (wrong key, or altered)');
  }
}

/**
 * `id:base64key[,id:base64key...]`, each key 32 bytes: the KEKs that may open records; the first
 * (or `activeId`) seals new ones.
 */
export function parseKeyEncryptionKeys(spec: string): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  for (const part of spec
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const colon = part.indexOf(':');
    const id = part.slice(0, colon);
    const key = Buffer.from(part.slice(colon + 1), 'base64');
    if (colon < 1 || !KEY_ID.test(id) || key.length !== 32 || keys.has(id)) {
      throw new SealingError('each key must be id:base64 of 32 bytes, ids unique ([A-Za-z0-9._-], up to 64)');
    }
    keys.set(id, key);
  }
  if (keys.size === 0) {
    throw new SealingError('no key');
  }
  return keys;
}

export class CredentialSealer {
  readonly activeKeyId: string;

  constructor(
    private readonly keys: ReadonlyMap<string, Buffer>,
    activeId?: string,
  ) {
    const active = activeId ?? [...keys.keys()][0];
    if (active === undefined || !keys.has(active)) {
      throw new SealingError(`the active key ${String(active)} is not among the keys`);
    }
    this.activeKeyId = active;
  }

  /** Seals `plain` for the record `recordId` with a new data key wrapped by the active KEK. */
  seal(recordId: string, plain: string): Sealed {
    const dataKey = randomBytes(32);
    const body = encrypt(dataKey, Buffer.from(plain, 'utf8'), `record:${recordId}`);
    return { v: 1, ...this.wrap(dataKey), iv: b64(body.iv), tag: b64(body.tag), data: b64(body.data) };
  }

  open(recordId: string, sealed: Sealed): string {
    const dataKey = this.unwrap(sealed);
    return decrypt(dataKey, unb64(sealed.iv), unb64(sealed.tag), unb64(sealed.data), `record:${recordId}`).toString(
      'utf8',
    );
  }

  /** The same record with its data key wrapped by the active KEK (key rotation). */
  rewrap(sealed: Sealed): Sealed {
    return { ...sealed, ...this.wrap(this.unwrap(sealed)) };
  }

  private wrap(dataKey: Buffer): { kek: string; dek: string } {
    const kek = this.keys.get(this.activeKeyId) as Buffer;
    const wrapped = encrypt(kek, dataKey, `kek:${this.activeKeyId}`);
    return { kek: this.activeKeyId, dek: [wrapped.iv, wrapped.tag, wrapped.data].map(b64).join('.') };
  }

  private unwrap(sealed: Sealed): Buffer {
    const kek = this.keys.get(sealed.kek);
    if (!kek) {
      throw new SealingError(`the key ${sealed.kek} that sealed these credentials is not configured`);
    }
    const [iv, tag, data] = sealed.dek.split('.').map(unb64);
    if (!iv || !tag || !data) {
      throw new SealingError('a wrapped data key is malformed');
    }
    return decrypt(kek, iv, tag, data, `kek:${sealed.kek}`);
  }
}

const b64 = (b: Buffer): string => b.toString('base64');
const unb64 = (s: string): Buffer => Buffer.from(s, 'base64');
