/**
 * Operators: one shared operator token (ADMIN_TOKEN, or on the embedded
 * default one generated once and kept in the data folder) opens a dashboard
 * session, kept in the database so that every node honours it.
 */
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Database } from '../platform/db/client.ts';
import { announceSql } from '../platform/signals.ts';
import { digestSecret, newSecret, secretMatches } from './secrets.ts';

export const SESSION_COOKIE = 'presence_operator';
export const SESSION_LIFETIME_MS = 12 * 3600 * 1000;

export function operatorTokenPath(dataDir: string): string {
  return path.join(dataDir, 'admin-token');
}

/** The embedded default's operator token: read, or generated once (owner-only file). */
export async function ensureOperatorToken(dataDir: string): Promise<string> {
  const file = operatorTokenPath(dataDir);
  const saved = await readFile(file, 'utf8').then(
    (text) => text.trim(),
    () => '',
  );
  if (saved) return saved;
  const token = newSecret('adm');
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return token;
}

/** Checks a presented operator token against the configured one, in constant time. */
export function operatorTokenMatches(expected: string | null, presented: string): boolean {
  return expected !== null && secretMatches(presented, digestSecret(expected));
}

/** Starts a session opened with `operatorToken`; returns the secret for the cookie. */
export async function openOperatorSession(db: Database, operatorToken: string, now = new Date()): Promise<string> {
  const secret = newSecret('adm');
  await db.prisma.operatorSession.create({
    data: { idDigest: digestSecret(secret), tokenDigest: digestSecret(operatorToken), expiresAt: new Date(now.getTime() + SESSION_LIFETIME_MS) },
  });
  // Expired sessions are dead weight: clear them while we are here.
  await db.prisma.operatorSession.deleteMany({ where: { expiresAt: { lt: now } } });
  return secret;
}

export async function operatorSessionValid(db: Database, secret: string | undefined): Promise<boolean> {
  if (!secret) return false;
  const session = await db.prisma.operatorSession.findUnique({ where: { idDigest: digestSecret(secret) }, select: { expiresAt: true } });
  return session !== null && session.expiresAt > new Date();
}

/** Ends a session; open dashboards on every node notice at once (see the "sessions" activity). */
export async function closeOperatorSession(db: Database, secret: string | undefined): Promise<void> {
  if (!secret) return;
  await db.prisma.operatorSession.deleteMany({ where: { idDigest: digestSecret(secret) } });
  await db.pool.query(announceSql('sessions'));
}

/**
 * Ends every session opened with another operator token: a node that starts
 * with a changed token closes the sessions of the old one on every node.
 * Returns how many ended.
 */
export async function endSessionsOfOtherTokens(db: Database, operatorToken: string): Promise<number> {
  const { count } = await db.prisma.operatorSession.deleteMany({ where: { tokenDigest: { not: digestSecret(operatorToken) } } });
  if (count > 0) await db.pool.query(announceSql('sessions'));
  return count;
}

/** Ends every session ("sign out everywhere"); open dashboards on every node notice at once. */
export async function closeAllOperatorSessions(db: Database): Promise<number> {
  const { count } = await db.prisma.operatorSession.deleteMany({});
  await db.pool.query(announceSql('sessions'));
  return count;
}

/** The value of one cookie in a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}
