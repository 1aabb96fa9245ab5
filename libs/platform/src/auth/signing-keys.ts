import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';

export type JwtAlgorithm = 'EdDSA' | 'ES256';

export interface VerificationKey {
  kid: string;
  alg: JwtAlgorithm;
  key: KeyObject;
  jwk: JWK;
}

export function algorithmOf(key: KeyObject): JwtAlgorithm {
  if (key.asymmetricKeyType === 'ed25519') {
    return 'EdDSA';
  }
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
    return 'ES256';
  }
  throw new Error(`unsupported JWT key type ${key.asymmetricKeyType ?? 'unknown'} (use Ed25519 or P-256)`);
}

/** kid = RFC 7638 thumbprint of the public key, so every replica derives the same id from the same key. */
export async function toVerificationKey(publicPem: string): Promise<VerificationKey> {
  const key = createPublicKey(publicPem);
  const alg = algorithmOf(key);
  const jwk = await exportJWK(key);
  const kid = await calculateJwkThumbprint(jwk, 'sha256');
  return { kid, alg, key, jwk: { ...jwk, kid, alg, use: 'sig' } };
}

export interface SigningKeyPair {
  privateKeyPem: string;
  publicKeyPem: string;
}

export function generateSigningKeyPair(): SigningKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export function publicPemOf(privateKeyPem: string): string {
  return createPublicKey(createPrivateKey(privateKeyPem)).export({ type: 'spki', format: 'pem' }).toString();
}

export const defaultDevKeysFile = (): string => join(tmpdir(), 'stocklab-dev-jwt-ed25519.pem');

/**
 * Development only: the key pair shared by every process on this machine that was started without
 * keys. The first process publishes it, the others read it, so tokens
 * signed by one replica verify on all of them.
 */
export function loadOrCreateDevKeyPair(file = defaultDevKeysFile()): SigningKeyPair {
  try {
    const privateKeyPem = readFileSync(file, 'utf8');
    return { privateKeyPem, publicKeyPem: publicPemOf(privateKeyPem) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw error;
    }
  }
  mkdirSync(dirname(file), { recursive: true });
  const pair = generateSigningKeyPair();
  const temp = `${file}.${process.pid}.tmp`;
  const fd = openSync(temp, 'w', 0o600);
  writeSync(fd, pair.privateKeyPem);
  closeSync(fd);
  try {
    // link() fails when the file exists, so exactly one process publishes its key; the rest read it.
    linkSync(temp, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw error;
    }
  } finally {
    unlinkSync(temp);
  }
  const privateKeyPem = readFileSync(file, 'utf8');
  return { privateKeyPem, publicKeyPem: publicPemOf(privateKeyPem) };
}
