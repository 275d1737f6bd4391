/**
 * Secrets (app keys, device tokens, the operator token) are random enough
 * that a SHA-256 digest is all the storage needs: a slow password hash would
 * cost more than the whole insert on every request.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export type SecretKind = 'app' | 'dev' | 'adm';

/** A new secret, 256 random bits, with a prefix that says what it opens (and helps secret scanners). */
export function newSecret(kind: SecretKind): string {
  return `prs_${kind}_${randomBytes(32).toString('base64url')}`;
}

/** SHA-256 of a secret: the only form in which it is stored. */
export function digestSecret(secret: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(createHash('sha256').update(secret, 'utf8').digest());
}

/** Constant-time comparison of two digests (the presented secret's and the stored one). */
export function digestsMatch(presented: Uint8Array, stored: Uint8Array): boolean {
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}

/** Constant-time comparison of a presented secret with a stored digest. */
export function secretMatches(secret: string, digest: Uint8Array): boolean {
  return digestsMatch(digestSecret(secret), digest);
}

/** A new UID: 128 random bits, URL-safe (22 characters). */
export function newUid(): string {
  return randomBytes(16).toString('base64url');
}

/** The shape every UID has; anything else is refused like an unknown UID. */
export const uidPattern = /^[A-Za-z0-9_-]{22}$/;
