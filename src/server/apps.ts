/**
 * Apps ("AppServices"): who may post, for which appid, with which deep-link
 * schemes. Used by the REST route, the CLI and the dashboard alike.
 */
import type { Database } from './db/client.ts';
import { AppError, Errno } from './errors.ts';
import { isRegistrableScheme } from './notifications/action.ts';
import { digestSecret, newSecret, secretMatches } from './secrets.ts';

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

/**
 * The app whose key this is, if the key belongs to `appid`; otherwise the one
 * refusal for wrong key, another app's key and no such app (111).
 */
export async function authenticateApp(db: Database, appid: string, key: string): Promise<AppIdentity> {
  const app = appidSyntax.test(appid)
    ? await db.prisma.app.findUnique({ where: { id: appid }, select: { id: true, name: true, schemes: true, keyDigest: true } })
    : null;
  const matches = secretMatches(key, app?.keyDigest ?? absentAppDigest);
  if (!app || !matches) throw new AppError(Errno.InvalidKey, 'key not valid for this appid');
  return { id: app.id, name: app.name, schemes: app.schemes };
}
