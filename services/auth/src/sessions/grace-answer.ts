import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { TokenPairDto } from './dto/login.dto.js';

/**
 * The answer a refresh token's rotation gave, sealed for whoever holds that token: the key is
 * derived from the token (which the database never stores), so the stored answer, whose new
 * refresh token is a credential, is useless to anyone reading the database.
 */
function keyOf(refreshToken: string): Buffer {
  return createHash('sha256').update(`stocklab:refresh-grace:${refreshToken}`).digest();
}

export function sealGraceAnswer(refreshToken: string, answer: TokenPairDto): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyOf(refreshToken), iv);
  const data = Buffer.concat([cipher.update(JSON.stringify(answer), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), data]);
}

/** The sealed answer, or undefined when it does not open with this token. */
export function openGraceAnswer(refreshToken: string, sealed: Buffer): TokenPairDto | undefined {
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyOf(refreshToken), sealed.subarray(0, 12));
    decipher.setAuthTag(sealed.subarray(12, 28));
    const plain = Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]).toString('utf8');
    return JSON.parse(plain) as TokenPairDto;
  } catch {
    return undefined;
  }
}
