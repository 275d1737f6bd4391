/**
 * Apps ("AppServices"): who may post, for which appid, with which deep-link
 * schemes. Used by the REST route, the CLI and the dashboard alike.
 */
import { Coalescer, type JobOutcome } from '../platform/db/coalescer.ts';
import { perDatabase, type Database } from '../platform/db/client.ts';
import { AppError, Errno } from './errors.ts';
import { isRegistrableScheme } from '../../shared/action.ts';
import { redirectUrisProblem } from '../../shared/redirectUri.ts';
import { prepared } from '../platform/db/prepared.ts';
import { APP_KEY_ROTATED_SIGNAL } from '../platform/signals.ts';
import { RateWindows, type WindowPlace } from './rateWindows.ts';
import { checkIdArgument, checkName, isOperatorText } from './operatorInput.ts';
import { digestSecret, digestsMatch, newSecret } from './secrets.ts';

/** Lower-case URL-safe slug, 1 to 40 characters, no leading or trailing dash. */
const appidSyntax = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

/** First path segments the service uses itself: an app named so would shadow them. */
const RESERVED_APPIDS: ReadonlySet<string> = new Set([
  'admin',
  'api',
  'app',
  'device',
  'devices',
  'presence',
  'healthz',
  'metrics',
  'trpc',
  'static',
  'public',
  'login',
  'logout',
  'docs',
  'pair',
]);

/** An app as the service uses it to authorise a POST. */
export interface AppIdentity {
  id: string;
  name: string;
  schemes: string[];
}

const appSelect = { id: true, name: true, schemes: true, redirectUris: true, createdAt: true } as const;

function checkSchemes(schemes: readonly string[]): string[] {
  const normalised = [...new Set(schemes.map((s) => s.toLowerCase().replace(/:$/, '')))];
  const bad = normalised.filter((s) => !isRegistrableScheme(s));
  if (bad.length > 0) {
    // Quoted as JSON, so that a control character in one is shown, not sent to a terminal.
    const named = bad.map((s) => (isOperatorText(s) ? s : JSON.stringify(s))).join(', ');
    throw new AppError(
      Errno.InvalidArgument,
      `scheme not allowed: ${named} (letters, digits, + . -; never http(s), nor one whose handler runs code or opens files, such as javascript, data, file, ms-msdt, search-ms, intent: see the README)`,
    );
  }
  return normalised;
}

/** The redirect URIs to store (duplicates once, in the order given), or 300 saying which breaks the rule. */
function checkRedirectUris(uris: readonly string[]): string[] {
  const problem = redirectUrisProblem(uris);
  if (problem) throw new AppError(Errno.InvalidArgument, problem);
  return [...new Set(uris)];
}

/** An appid argument: 300 if it is not printable text; false if it is malformed and so names no app. */
function isAppidArgument(appid: string): boolean {
  return appidSyntax.test(checkIdArgument('appid', appid));
}

/** Creates an app and returns its key, which is shown this once. */
export async function createApp(
  db: Database,
  input: { appid: string; name?: string | undefined; schemes?: readonly string[]; redirectUris?: readonly string[] },
): Promise<{ appid: string; key: string }> {
  if (!isAppidArgument(input.appid)) {
    throw new AppError(Errno.InvalidArgument, 'appid must be 1 to 40 lower-case letters, digits or dashes, not starting or ending with a dash');
  }
  if (RESERVED_APPIDS.has(input.appid)) throw new AppError(Errno.InvalidArgument, `appid "${input.appid}" is reserved by the service`);
  const name = checkName('app', input.name ?? input.appid);
  const schemes = checkSchemes(input.schemes ?? []);
  const redirectUris = checkRedirectUris(input.redirectUris ?? []);
  const key = newSecret('app');
  const created = await db.prisma.app.createMany({
    data: [{ id: input.appid, name, schemes, redirectUris, keyDigest: digestSecret(key) }],
    skipDuplicates: true,
  });
  if (created.count === 0) throw new AppError(Errno.Conflict, `appid "${input.appid}" already exists`);
  return { appid: input.appid, key };
}

/**
 * Replaces an app's key; the old one stops working at once: every node that
 * knew the old key's digest hears of the change on commit ({@link KnownApps}).
 * Returns the new key, shown this once.
 */
export async function rotateAppKey(db: Database, appid: string): Promise<{ appid: string; key: string }> {
  if (!isAppidArgument(appid)) throw new AppError(Errno.NotFound, `no app "${appid}"`);
  const key = newSecret('app');
  const { rowCount } = await db.pool.query(
    `WITH rotated AS (UPDATE apps SET key_digest = $2 WHERE id = $1 RETURNING id)
     SELECT pg_notify('${APP_KEY_ROTATED_SIGNAL}', id) FROM rotated`,
    [appid, Buffer.from(digestSecret(key))],
  );
  if (rowCount === 0) throw new AppError(Errno.NotFound, `no app "${appid}"`);
  knownApps.get(db)?.forget(appid);
  return { appid, key };
}

/** Replaces the redirect URIs of an app (an empty list turns its grant page off). */
export async function setAppRedirectUris(db: Database, appid: string, uris: readonly string[]): Promise<{ appid: string; redirectUris: string[] }> {
  if (!isAppidArgument(appid)) throw new AppError(Errno.NotFound, `no app "${appid}"`);
  const redirectUris = checkRedirectUris(uris);
  const updated = await db.prisma.app.updateMany({ where: { id: appid }, data: { redirectUris } });
  if (updated.count === 0) throw new AppError(Errno.NotFound, `no app "${appid}"`);
  return { appid, redirectUris };
}

/** The app `appid` (for operators: no key needed), or 304. */
export async function getApp(db: Database, appid: string): Promise<AppIdentity> {
  if (!isAppidArgument(appid)) throw new AppError(Errno.NotFound, `no app "${appid}"`);
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
 * Key checks arriving together, in one statement: $1 appids, $2 presented
 * digests (hex), $3 whether to count each, aligned. Returns each check (by
 * its position n) whose app exists, with the app and, for the apps whose
 * right-key requests were counted, the window's count after this statement.
 * Only requests with the right key are counted (the digest comparison here
 * decides what to count; the answer is decided in constant time below).
 */
const CHECK_KEYS = prepared(
  'check-keys',
  `
  WITH asked AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::bool[]) WITH ORDINALITY AS a(app_id, digest, counted, n)
  ), known AS (
    SELECT a.n, a.counted, p.id, p.name, p.schemes, p.key_digest, p.key_digest = decode(a.digest, 'hex') AS right_key
      FROM asked a JOIN apps p ON p.id = a.app_id
  ), windows AS (
    INSERT INTO rate_windows (app_id, window_start, count)
    SELECT id, date_trunc('second', clock_timestamp()), count(*) FROM known WHERE right_key AND counted GROUP BY id
    ON CONFLICT (app_id, window_start) DO UPDATE SET count = rate_windows.count + EXCLUDED.count
    RETURNING app_id, count, extract(epoch FROM window_start)::bigint::text AS second
  )
  SELECT k.n::int, k.id, k.name, k.schemes, k.key_digest, w.count AS window_count, w.second AS window_second
    FROM known k LEFT JOIN windows w ON w.app_id = k.id
   ORDER BY k.n`,
);

/** Key checks in one statement: at most this many. */
const KEY_CHECKS_PER_QUERY = 1_000;

interface KeyCheck {
  appid: string;
  digest: Uint8Array;
  countRequest: boolean;
}

interface AppRow {
  id: string;
  name: string;
  schemes: string[];
  key_digest: Buffer;
}

/** What the database said of one key check: the app (if it exists) and, if counted, this request's place in the window of that second. */
interface KeyCheckRow {
  app: AppRow | null;
  counted: WindowPlace | null;
}

const keyCheckerOf = perDatabase(
  (db) =>
    new Coalescer<KeyCheck, KeyCheckRow>(
      async (checks) => {
        const { rows } = await db.pool.query<AppRow & { n: number; window_count: number | null; window_second: string | null }>({
          ...CHECK_KEYS,
          values: [checks.map((c) => c.appid), checks.map((c) => Buffer.from(c.digest).toString('hex')), checks.map((c) => c.countRequest)],
        });
        const byPosition = new Map(rows.map((r) => [r.n - 1, r]));
        const counted = checks.map((check, i) => {
          const row = byPosition.get(i);
          return row !== undefined && check.countRequest && row.window_count !== null && digestsMatch(check.digest, row.key_digest);
        });
        // The counted requests of an app, numbered in arrival order, end at the window's count after this statement.
        const stillToCome = new Map<string, number>();
        counted.forEach((isCounted, i) => {
          const id = byPosition.get(i)?.id as string;
          if (isCounted) stillToCome.set(id, (stillToCome.get(id) ?? 0) + 1);
        });
        return checks.map((_, i): JobOutcome<KeyCheckRow> => {
          const row = byPosition.get(i);
          if (!row || !counted[i]) return { ok: true, value: { app: row ?? null, counted: null } };
          const after = (stillToCome.get(row.id) as number) - 1;
          stillToCome.set(row.id, after);
          return { ok: true, value: { app: row, counted: { place: (row.window_count as number) - after, second: Number(row.window_second) } } };
        });
      },
      { maxWeight: KEY_CHECKS_PER_QUERY },
    ),
);

/** How long a node uses an app's key digest it read, at most (it forgets it at once when it hears of a rotation). */
const KNOWN_APP_MS = 30_000;
/** Apps one node keeps at most (operators create apps, so this is a bound, not a working size); past it, it starts afresh. */
const KNOWN_APPS_AT_MOST = 10_000;

/**
 * The apps whose keys this node checked, kept while something tells it of
 * every key rotation (the channel, which hears `presence_app_key_rotated`,
 * `watchAppKeys`): a key check then costs no round trip (it was a third of
 * the statements of a delivered item: docs/benchmarks.md), and the node
 * counts the app's rate window itself (rateWindows.ts). Only apps that exist
 * are kept, so creating one needs no signal.
 */
export class KnownApps {
  private readonly apps = new Map<string, { app: AppRow; until: number }>();
  /** Set while a listener hears every rotation. */
  private trusted = false;
  /** Bumped whenever something is forgotten: a read that began before is not kept. */
  private generation = 0;

  get(appid: string, now = Date.now()): AppRow | undefined {
    const known = this.trusted ? this.apps.get(appid) : undefined;
    return known && known.until > now ? known.app : undefined;
  }

  /** A mark to pass to {@link keep}: taken before the read. */
  mark(): number {
    return this.generation;
  }

  /** Keeps what a read that began at `mark` found, unless something was forgotten since. */
  keep(app: AppRow, mark: number, now = Date.now()): void {
    if (!this.trusted || mark !== this.generation) return;
    if (this.apps.size >= KNOWN_APPS_AT_MOST) this.apps.clear();
    this.apps.set(app.id, { app, until: now + KNOWN_APP_MS });
  }

  /** Forgets one app's key, or every app's. */
  forget(appid?: string): void {
    this.generation++;
    if (appid === undefined) this.apps.clear();
    else this.apps.delete(appid);
  }

  /** While nothing would tell of a rotation (the listener is away), nothing is kept or used. */
  trust(trusted: boolean): void {
    this.forget();
    this.trusted = trusted;
  }
}

const knownApps = new WeakMap<object, KnownApps>();

/**
 * Key checks through `db` use what they read before, until {@link unwatchAppKeys},
 * while trusted: call `trust(true)` once listening, and `forget` on every rotation heard.
 */
export function watchAppKeys(db: object): KnownApps {
  const known = new KnownApps();
  knownApps.set(db, known);
  return known;
}

export function unwatchAppKeys(db: object, known: KnownApps): void {
  if (knownApps.get(db) === known) knownApps.delete(db);
}

const rateWindowsOf = perDatabase((db) => new RateWindows(db));

/**
 * The app `appid` as a key check sees it, and the request's place in its
 * rate window if counted: from what this node knows (counted here, see
 * rateWindows.ts) or from the database.
 */
async function checkKey(db: Database, check: KeyCheck): Promise<{ app: AppRow | null; requestsThisSecond: number | null }> {
  const known = knownApps.get(db);
  const app = known?.get(check.appid);
  if (app) {
    // As in the statement: only a request with the right key is counted.
    const counted = check.countRequest && digestsMatch(check.digest, app.key_digest);
    const place = counted ? rateWindowsOf(db).count(app.id) : null;
    if (!counted || place !== null) return { app, requestsThisSecond: place };
  }
  const mark = known?.mark() ?? 0;
  const checked = check.countRequest
    ? await rateWindowsOf(db).countThere(
        check.appid,
        () => keyCheckerOf(db).submit(check),
        (answer) => answer.counted,
      )
    : await keyCheckerOf(db).submit(check);
  if (known && checked.app) known.keep(checked.app, mark);
  return { app: checked.app, requestsThisSecond: checked.counted?.place ?? null };
}

/** An authenticated app, with how many requests it made in the current second (this one included). */
export interface AuthenticatedApp extends AppIdentity {
  requestsThisSecond: number;
}

/**
 * The app whose key this is, if the key belongs to `appid`; otherwise the one
 * refusal for wrong key, another app's key and no such app (111). In the same
 * round trip, counts the request against the app's per-second rate window
 * (shared by every node); only requests with the right key are counted, so
 * nobody can spend an app's quota without its key. Checks arriving together
 * share one statement. With `countRequest: false` (no rate limit configured)
 * nothing is written. A node that knows the app's key digest
 * ({@link KnownApps}) does not ask the database at all: it counts the
 * request itself and adds its counts to the shared window in the background.
 */
export async function authenticateApp(db: Database, appid: string, key: string, options: { countRequest?: boolean } = {}): Promise<AuthenticatedApp> {
  const presented = digestSecret(key);
  const { app, requestsThisSecond } = appidSyntax.test(appid)
    ? await checkKey(db, { appid, digest: presented, countRequest: options.countRequest !== false })
    : { app: null, requestsThisSecond: null };
  const matches = digestsMatch(presented, app?.key_digest ?? absentAppDigest);
  if (!app || !matches) throw new AppError(Errno.InvalidKey, 'key not valid for this appid');
  return { id: app.id, name: app.name, schemes: app.schemes, requestsThisSecond: requestsThisSecond ?? 1 };
}
