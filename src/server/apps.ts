/**
 * Apps ("AppServices"): who may post, for which appid, with which deep-link
 * schemes. Used by the REST route, the CLI and the dashboard alike.
 */
import { perDatabase, type Database } from './db/client.ts';
import { AppError, Errno } from './errors.ts';
import { isRegistrableScheme } from './notifications/action.ts';
import { digestSecret, digestsMatch, newSecret } from './secrets.ts';

/** Lower-case URL-safe slug, 1 to 40 characters, no leading or trailing dash. */
const appidSyntax = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

/** First path segments the service uses itself: an app named so would shadow them. */
export const RESERVED_APPIDS: ReadonlySet<string> = new Set([
  'admin', 'api', 'app', 'device', 'devices', 'presence', 'healthz', 'metrics', 'trpc', 'static', 'public', 'login', 'logout', 'docs',
]);

/** An app as the service uses it to authorise a POST. */
export interface AppIdentity {
  id: string;
  name: string;
  schemes: string[];
}

const appSelect = { id: true, name: true, schemes: true, createdAt: true } as const;

export function isValidAppid(appid: string): boolean {
  return appidSyntax.test(appid) && !RESERVED_APPIDS.has(appid);
}

function checkSchemes(schemes: readonly string[]): string[] {
  const normalised = [...new Set(schemes.map((s) => s.toLowerCase().replace(/:$/, '')))];
  const bad = normalised.filter((s) => !isRegistrableScheme(s));
  if (bad.length > 0) {
    throw new AppError(Errno.InvalidArgument, `scheme not allowed: ${bad.join(', ')} (letters, digits, + . -; never http, https, javascript, data, file, vbscript, blob)`);
  }
  return normalised;
}

/** Creates an app and returns its key, which is shown this once. */
export async function createApp(db: Database, input: { appid: string; name?: string; schemes?: readonly string[] }): Promise<{ appid: string; key: string }> {
  if (!appidSyntax.test(input.appid)) {
    throw new AppError(Errno.InvalidArgument, 'appid must be 1 to 40 lower-case letters, digits or dashes, not starting or ending with a dash');
  }
  if (RESERVED_APPIDS.has(input.appid)) throw new AppError(Errno.InvalidArgument, `appid "${input.appid}" is reserved by the service`);
  const name = (input.name ?? input.appid).trim();
  if (name.length === 0 || name.length > 100) throw new AppError(Errno.InvalidArgument, 'app name must be 1 to 100 characters');
  const schemes = checkSchemes(input.schemes ?? []);
  const key = newSecret('app');
  const created = await db.prisma.app.createMany({
    data: [{ id: input.appid, name, schemes, keyDigest: digestSecret(key) }],
    skipDuplicates: true,
  });
  if (created.count === 0) throw new AppError(Errno.Conflict, `appid "${input.appid}" already exists`);
  return { appid: input.appid, key };
}

/** Replaces an app's key; the old one stops working at once. Returns the new key, shown this once. */
export async function rotateAppKey(db: Database, appid: string): Promise<{ appid: string; key: string }> {
  const key = newSecret('app');
  const updated = await db.prisma.app.updateMany({ where: { id: appid }, data: { keyDigest: digestSecret(key) } });
  if (updated.count === 0) throw new AppError(Errno.NotFound, `no app "${appid}"`);
  checkedKeysOf(db).delete(appid);
  return { appid, key };
}

/** The app `appid` (for operators: no key needed), or 304. */
export async function getApp(db: Database, appid: string): Promise<AppIdentity> {
  const app = await db.prisma.app.findUnique({ where: { id: appid }, select: { id: true, name: true, schemes: true } });
  if (!app) throw new AppError(Errno.NotFound, `no app "${appid}"`);
  return app;
}

export async function listApps(db: Database) {
  return db.prisma.app.findMany({ select: { ...appSelect, _count: { select: { uids: true } } }, orderBy: { id: 'asc' } });
}

// Compared against when the app does not exist, so that "no such app" takes
// as long as "wrong key".
const absentAppDigest = digestSecret(newSecret('app'));

const LOOKUP_APP_SQL = `SELECT id, name, schemes, key_digest, NULL::int AS count FROM apps WHERE id = $1 AND $2::bytea IS NOT NULL`;

const LOOKUP_AND_COUNT_SQL = `
  WITH app AS (SELECT id, name, schemes, key_digest FROM apps WHERE id = $1),
       counted AS (
         INSERT INTO rate_windows (app_id, window_start, count)
         SELECT id, date_trunc('second', clock_timestamp()), 1 FROM app WHERE key_digest = $2
         ON CONFLICT (app_id, window_start) DO UPDATE SET count = rate_windows.count + 1
         RETURNING count)
  SELECT app.id, app.name, app.schemes, app.key_digest, (SELECT count FROM counted) AS count FROM app`;

/**
 * How long a node trusts a key it checked without asking the database again
 * (requests without a rate limit only): a rotated key stops working at once
 * on the node that rotated it, and within this time on the others.
 */
const CHECKED_KEY_MS = 1_000;

interface CheckedKey {
  app: AppIdentity;
  digest: Buffer;
  until: number;
}

const checkedKeysOf = perDatabase(() => new Map<string, CheckedKey>());

/** An authenticated app, with how many requests it made in the current second (this one included). */
export interface AuthenticatedApp extends AppIdentity {
  requestsThisSecond: number;
}

/**
 * The app whose key this is, if the key belongs to `appid`; otherwise the one
 * refusal for wrong key, another app's key and no such app (111). In the same
 * round trip, counts the request against the app's per-second rate window
 * (shared by every node); only requests with the right key are counted, so
 * nobody can spend an app's quota without its key. With `countRequest: false`
 * (no rate limit configured) nothing is written.
 */
export async function authenticateApp(db: Database, appid: string, key: string, options: { countRequest?: boolean } = {}): Promise<AuthenticatedApp> {
  const presented = digestSecret(key);
  const countRequest = options.countRequest !== false;
  const checked = countRequest ? undefined : checkedKeysOf(db).get(appid);
  if (checked && checked.until > performance.now() && digestsMatch(presented, checked.digest)) return { ...checked.app, requestsThisSecond: 1 };
  const { rows } = appidSyntax.test(appid)
    ? await db.pool.query<{ id: string; name: string; schemes: string[]; key_digest: Buffer; count: number | null }>(
        countRequest ? LOOKUP_AND_COUNT_SQL : LOOKUP_APP_SQL,
        [appid, presented],
      )
    : { rows: [] };
  const app = rows[0];
  const matches = digestsMatch(presented, app?.key_digest ?? absentAppDigest);
  if (!app || !matches) throw new AppError(Errno.InvalidKey, 'key not valid for this appid');
  const identity = { id: app.id, name: app.name, schemes: app.schemes };
  if (!countRequest) checkedKeysOf(db).set(app.id, { app: identity, digest: app.key_digest, until: performance.now() + CHECKED_KEY_MS });
  return { ...identity, requestsThisSecond: app.count ?? 1 };
}
