/**
 * class-transformer's @Transform for names and other text a person reads: trimmed and in Unicode
 * NFC, so that a Hangul name typed as conjoining jamo (NFD, as macOS writes file names) and the
 * same name precomposed are one name: one nickname, not two that look alike. Passwords are left
 * as typed (their hashes were made from the bytes sent).
 */
export const normalizeText = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' ? value.normalize('NFC').trim() : value;
