import { createHash, createPrivateKey, createPublicKey, randomUUID, sign, type KeyObject } from 'node:crypto';

export interface MintOptions {
  roles?: string[];
  issuer?: string;
  audience?: string;
  lifetimeSeconds?: number;
}

/** RFC 7638 thumbprint of a public key: the `kid` the platform derives from the same key. */
export function thumbprintOf(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' }) as Record<string, string>;
  const members =
    jwk.kty === 'OKP' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

/**
 * An access token for `userId`, signed with `privateKeyPem` the way the auth service signs them
 * (EdDSA or ES256, kid = thumbprint, typ at+jwt). Services other than auth only verify tokens,
 * so their tests mint them directly.
 */
export function mintAccessToken(privateKeyPem: string, userId: string, options: MintOptions = {}): string {
  const key = createPrivateKey(privateKeyPem);
  const isEd = key.asymmetricKeyType === 'ed25519';
  const alg = isEd ? 'EdDSA' : 'ES256';
  const now = Date.now() / 1000;
  const payload = {
    sub: userId,
    jti: randomUUID(),
    sid: randomUUID(),
    roles: options.roles ?? ['user'],
    iat: now,
    exp: Math.floor(now) + (options.lifetimeSeconds ?? 3600),
    iss: options.issuer ?? 'stocklab-auth',
    aud: options.audience ?? 'stocklab',
  };
  const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${encode({ alg, kid: thumbprintOf(createPublicKey(key)), typ: 'at+jwt' })}.${encode(payload)}`;
  const signature = isEd
    ? sign(null, Buffer.from(input), key)
    : sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}
