/**
 * Consent: a user grants an app their UID themselves (README.md, "Consent").
 * The grant page checks the app's request, knows the user by a session of
 * its own (opened with a device token or a pairing code), and on Allow issues
 * a one-time code; the app exchanges the code, with its key, for the UID that
 * `presence uid grant` would give. Session secrets and codes are stored only
 * as SHA-256 digests, like every other secret.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Database } from '../platform/db/client.ts';
import { GRANT_CODE_LIFETIME_SECONDS, MAX_GRANT_STATE_LENGTH } from '../../shared/limits.ts';
import { authenticateDevice } from './devices.ts';
import { AppError, Errno } from './errors.ts';
import { normalisePairingCode } from './pairing.ts';
import { digestSecret } from './secrets.ts';
import { grantUid } from './uids.ts';

/** The grant page's session cookie: SameSite=Lax, so it comes along when another site sends the browser here. */
export const USER_SESSION_COOKIE = 'presence_user';
/** How long a grant page sign-in lasts. */
export const USER_SESSION_LIFETIME_MS = 12 * 3600 * 1000;
/** Spent and expired codes are kept this long (so a late exchange is refused as such), then deleted. */
const KEEP_SPENT_CODES_MS = 24 * 3600 * 1000;

/** An appid as routes match it: anything else names no app. */
const appidSyntax = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

/** A request of the grant page that may be answered with a redirect: its app, registered redirect URI and state. */
export interface GrantRequest {
  app: { id: string; name: string };
  redirectUri: string;
  /** Returned verbatim; null when the app sent none. */
  state: string | null;
}

/** Why the grant page shows an error and redirects nowhere: an HTTP status and words for the user. */
export class GrantRequestRefused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'GrantRequestRefused';
  }
}

/**
 * Checks what an app asks of the grant page. Only an existing app and a
 * redirect URI it registered, byte for byte, may be redirected to; anything
 * else throws {@link GrantRequestRefused}, so the page redirects nowhere.
 */
export async function checkGrantRequest(db: Database, input: { appid: string; params: URLSearchParams }): Promise<GrantRequest> {
  const app = appidSyntax.test(input.appid)
    ? await db.prisma.app.findUnique({ where: { id: input.appid }, select: { id: true, name: true, redirectUris: true } })
    : null;
  if (!app) throw new GrantRequestRefused(404, 'No such app: the link that brought you here is wrong.');
  const uris = input.params.getAll('redirect_uri');
  if (uris.length !== 1) throw new GrantRequestRefused(400, 'The app sent no redirect_uri (or more than one), so there is nowhere to send you back.');
  const redirectUri = uris[0] as string;
  if (!app.redirectUris.includes(redirectUri)) {
    throw new GrantRequestRefused(400, 'The app asked to send you back to an address it has not registered, so you are not sent there.');
  }
  const states = input.params.getAll('state');
  if (states.length > 1) throw new GrantRequestRefused(400, 'The app sent more than one state.');
  const state = states[0] ?? null;
  if (state !== null && state.length > MAX_GRANT_STATE_LENGTH) {
    throw new GrantRequestRefused(400, `The app sent a state longer than ${MAX_GRANT_STATE_LENGTH} characters.`);
  }
  return { app: { id: app.id, name: app.name }, redirectUri, state };
}

/** `redirectUri` with these parameters appended, after its own query if it has one (registered URIs have no fragment). */
export function redirectWith(redirectUri: string, params: Record<string, string | null>): string {
  const query = Object.entries(params)
    .filter((entry): entry is [string, string] => entry[1] !== null)
    .map(([name, value]) => `${name}=${encodeURIComponent(value)}`)
    .join('&');
  const joiner = !redirectUri.includes('?') ? '?' : redirectUri.endsWith('?') || redirectUri.endsWith('&') ? '' : '&';
  return `${redirectUri}${joiner}${query}`;
}

/** A signed-in user of the grant page. */
export interface UserSession {
  userId: string;
  userName: string;
}

async function openUserSession(db: Database, userId: string, deviceId: string | null): Promise<string> {
  const secret = randomBytes(32).toString('base64url');
  await db.pool.query(
    `WITH expired AS (DELETE FROM user_sessions WHERE expires_at < now())
     INSERT INTO user_sessions (id_digest, user_id, device_id, expires_at) VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond')`,
    [digestSecret(secret), userId, deviceId, USER_SESSION_LIFETIME_MS],
  );
  return secret;
}

/** Signs in with a device token: a session of that device's user, ended when the device is revoked. Null for a token that opens nothing. */
export async function signInWithDeviceToken(db: Database, token: string): Promise<string | null> {
  const device = await authenticateDevice(db, token);
  return device ? openUserSession(db, device.userId, device.deviceId) : null;
}

/** Signs in with a pairing code (used up like a pairing): a session of the code's user. Null for a code that is unknown, used or expired. */
export async function signInWithPairingCode(db: Database, code: string): Promise<string | null> {
  const { rows } = await db.pool.query<{ user_id: string }>(
    'UPDATE pairing_codes SET used_at = now() WHERE code_digest = $1 AND used_at IS NULL AND expires_at > now() RETURNING user_id::text',
    [digestSecret(normalisePairingCode(code))],
  );
  return rows[0] ? openUserSession(db, rows[0].user_id, null) : null;
}

/** The user a session cookie's secret opens, or null (none, expired, or its device was revoked). */
export async function userSession(db: Database, secret: string | undefined): Promise<UserSession | null> {
  if (!secret) return null;
  const { rows } = await db.pool.query<{ user_id: string; name: string }>(
    `SELECT s.user_id::text, u.name FROM user_sessions s JOIN users u ON u.id = s.user_id WHERE s.id_digest = $1 AND s.expires_at > now()`,
    [digestSecret(secret)],
  );
  return rows[0] ? { userId: rows[0].user_id, userName: rows[0].name } : null;
}

/** Ends a session. */
export async function closeUserSession(db: Database, secret: string | undefined): Promise<void> {
  if (secret) await db.pool.query('DELETE FROM user_sessions WHERE id_digest = $1', [digestSecret(secret)]);
}

/** The token a consent form must carry: derived from the session's secret, so only a page of that session knows it. */
export function consentFormToken(sessionSecret: string): string {
  return createHash('sha256').update(`presence consent form\0${sessionSecret}`).digest('base64url');
}

/** Whether `presented` is the consent form token of this session, compared in constant time. */
export function consentFormTokenMatches(sessionSecret: string, presented: string): boolean {
  const expected = Buffer.from(consentFormToken(sessionSecret));
  const given = Buffer.from(presented);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** Issues a one-time code for this user and app, valid {@link GRANT_CODE_LIFETIME_SECONDS}; shown to the app once, in the redirect. */
export async function issueGrantCode(db: Database, input: { appid: string; userId: string }): Promise<string> {
  const code = randomBytes(32).toString('base64url');
  await db.pool.query(
    `WITH spent AS (
       DELETE FROM grant_codes WHERE app_id = $2 AND coalesce(used_at, expires_at) < now() - $5 * interval '1 millisecond'
     )
     INSERT INTO grant_codes (id, code_digest, app_id, user_id, expires_at) VALUES ($1, $3, $2, $4, now() + $6 * interval '1 second')`,
    [randomUUID(), input.appid, digestSecret(code), input.userId, KEEP_SPENT_CODES_MS, GRANT_CODE_LIFETIME_SECONDS],
  );
  return code;
}

/**
 * Exchanges a code issued for `appid` for the user's UID of that app: the
 * same UID while a grant is active, a new one otherwise (`grantUid`). Marking
 * the code used is one statement, so of two concurrent exchanges of one code
 * only one finds it unused. An unknown, used, expired or another app's code
 * is one refusal.
 */
export async function exchangeGrantCode(db: Database, input: { appid: string; code: string }): Promise<{ uid: string }> {
  const { rows } = await db.pool.query<{ user_id: string }>(
    `UPDATE grant_codes SET used_at = now() WHERE code_digest = $1 AND app_id = $2 AND used_at IS NULL AND expires_at > now() RETURNING user_id::text`,
    [digestSecret(input.code), input.appid],
  );
  const claimed = rows[0];
  if (!claimed) throw new AppError(Errno.GrantCodeInvalid, 'grant code not valid: unknown, used already, expired, or issued for another app');
  return grantUid(db, { appid: input.appid, userId: claimed.user_id });
}
