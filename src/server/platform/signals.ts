/**
 * Signals between nodes, through PostgreSQL NOTIFY. Payloads carry ids only
 * (a NOTIFY payload must stay under 8,000 bytes), and a NOTIFY sent inside a
 * transaction is delivered only if and when it commits.
 */
import { EventEmitter } from 'node:events';
import pg from 'pg';
import { backoffDelay } from '../../shared/backoff.ts';

/**
 * "These users have new items": comma-separated user ids, then `@` and the
 * origin of the node that stored them when it handed them to its own
 * daemons already (domain/delivery/handoff.ts). A node that reads a payload
 * without knowing the marker finds no daemon of a user "@…": nothing breaks.
 */
const WAKEUP_SIGNAL = 'presence_wakeup';
/** "This device was revoked": its id. */
export const DEVICE_REVOKED_SIGNAL = 'presence_device_revoked';
/** "This app's key was replaced": its appid (nodes forget the key they knew, domain/apps.ts). */
export const APP_KEY_ROTATED_SIGNAL = 'presence_app_key_rotated';
/** "A device of this user clicked or dismissed these items": `userId deviceId id,id,…`. */
const DISMISSED_SIGNAL = 'presence_dismissed';
/** "An app took back these tagged items of this user": JSON {@link Retraction}. */
const RETRACTED_SIGNAL = 'presence_retracted';
/** "Something operators watch changed": an {@link ActivityTopic}. */
export const ACTIVITY_SIGNAL = 'presence_activity';

/**
 * What the dashboard can watch change. A push changes queues and acks (its
 * wake-up says so); "sessions" means an operator signed out, so open
 * dashboards must check that theirs still holds.
 */
export type ActivityTopic = 'queues' | 'acks' | 'devices' | 'sessions';

/** SQL that announces a change to every node's dashboard subscriptions (on commit, inside a transaction). */
const activityTopics: ReadonlySet<string> = new Set<ActivityTopic>(['queues', 'acks', 'devices', 'sessions']);

export function announceSql(topic: ActivityTopic): string {
  return `SELECT pg_notify('${ACTIVITY_SIGNAL}', '${topic}')`;
}

/** How long a change announced with {@link announceSoon} may wait: the dashboard's watch waits as long before it looks (trpc/routers/admin.ts). */
const ANNOUNCE_WITHIN_MS = 200;

/** The topics each pool has an announcement due for. */
const dueAnnouncements = new WeakMap<pg.Pool, Set<ActivityTopic>>();

/**
 * Announces a change on `topic` within {@link ANNOUNCE_WITHIN_MS}, once for
 * every change made meanwhile: for writes too frequent to pay for a NOTIFY
 * each (daemon acks). Sent after their commit, so a failure changes nothing
 * they wrote; a lost announcement only waits for the dashboard's next refresh.
 */
export function announceSoon(db: { pool: pg.Pool }, topic: ActivityTopic): void {
  let due = dueAnnouncements.get(db.pool);
  if (!due) dueAnnouncements.set(db.pool, (due = new Set()));
  if (due.has(topic)) return;
  due.add(topic);
  const announce = () => {
    due.delete(topic);
    db.pool.query(announceSql(topic)).catch(() => undefined);
  };
  // Never what keeps a process alive.
  setTimeout(announce, ANNOUNCE_WITHIN_MS).unref();
}

/** 150 UUIDs and their commas stay well under the 8,000-byte payload limit. */
const USERS_PER_PAYLOAD = 150;

/**
 * SQL that wakes the daemons of the user ids in the text-array parameter
 * `users` (on commit): one NOTIFY per 150 users, each marked with the text
 * parameter `origin` when that is not null.
 */
export function wakeUsersSql(users: string, origin: string): string {
  return `
    SELECT pg_notify('${WAKEUP_SIGNAL}', string_agg(id, ',') || coalesce(',@' || ${origin}::text, ''))
      FROM (SELECT id, (row_number() OVER () - 1) / ${USERS_PER_PAYLOAD} AS chunk FROM unnest(${users}::text[]) AS id) AS ids
     GROUP BY chunk`;
}

/** Wakes these users' daemons at once (outside a transaction): the wake-up bus's way round a publish it could not confirm. */
export async function wakeUsersNow(db: { pool: pg.Pool }, userIds: readonly string[], origin: string | null = null): Promise<void> {
  await db.pool.query(wakeUsersSql('$1', '$2'), [userIds, origin]);
}

/** A dismissal as it travels between nodes. */
export interface Dismissal {
  userId: string;
  /** The device the user dismissed on: it is not told again. */
  fromDeviceId: string;
  ids: string[];
}

/**
 * Sends a dismissal to every node (at once, or on commit inside a transaction).
 * Its ids are bounded by the caller (MAX_IDS_PER_DISMISS), so the payload stays small.
 */
export async function signalDismissal(db: { pool: pg.Pool }, dismissal: Dismissal): Promise<void> {
  const payload = `${dismissal.userId} ${dismissal.fromDeviceId} ${dismissal.ids.join(',')}`;
  await db.pool.query(`SELECT pg_notify('${DISMISSED_SIGNAL}', $1)`, [payload]);
}

function parseDismissal(payload: string): Dismissal | null {
  const [userId, fromDeviceId, ids] = payload.split(' ');
  if (!userId || !fromDeviceId || !ids) return null;
  return { userId, fromDeviceId, ids: ids.split(',').filter(Boolean) };
}

/** A retraction as it travels between nodes: what the user's devices close. */
export interface Retraction {
  userId: string;
  tags: { appid: string; tag: string }[];
}

/** An appid (40) and a tag (64) with JSON's quotes take under 150 bytes: 40 pairs stay well under 8,000. */
const TAGS_PER_PAYLOAD = 40;

/** The payloads that tell every node of these retractions: one per user and 40 tags. */
export function retractionPayloads(retractions: Iterable<Retraction>): string[] {
  const payloads: string[] = [];
  for (const { userId, tags } of retractions) {
    for (let i = 0; i < tags.length; i += TAGS_PER_PAYLOAD) payloads.push(JSON.stringify({ userId, tags: tags.slice(i, i + TAGS_PER_PAYLOAD) }));
  }
  return payloads;
}

/** SQL that sends the payloads in the text-array parameter `param` (on commit); a SELECT: read it so it runs. */
export function signalRetractionsSql(param: string): string {
  return `SELECT pg_notify('${RETRACTED_SIGNAL}', p) FROM unnest(${param}::text[]) AS p`;
}

function parseRetraction(payload: string): Retraction | null {
  try {
    const parsed = JSON.parse(payload) as Partial<Retraction>;
    return typeof parsed.userId === 'string' && Array.isArray(parsed.tags) ? { userId: parsed.userId, tags: parsed.tags } : null;
  } catch {
    return null;
  }
}

export interface SignalEvents {
  /** `origin`: the storing node's mark, when it handed the items to its own daemons. */
  wakeup: [userIds: string[], origin: string | null];
  deviceRevoked: [deviceId: string];
  appKeyRotated: [appid: string];
  activity: [topic: ActivityTopic];
  dismissed: [dismissal: Dismissal];
  retracted: [retraction: Retraction];
  /** The listening connection came back after a loss: anything may have been missed. */
  resumed: [];
  /** The listening connection failed (it is retried). */
  lost: [error: Error];
}

/**
 * One node's LISTEN connection. It reconnects by itself with backoff; after a
 * reconnect it emits `resumed`, so every local subscriber re-checks what it
 * may have missed while nothing was listening.
 */
export class SignalListener extends EventEmitter<SignalEvents> {
  private client: pg.Client | null = null;
  private stopped = false;
  private retry: NodeJS.Timeout | null = null;
  private failures = 0;

  constructor(
    private readonly databaseUrl: string,
    /** Shown in pg_stat_activity, to tell the nodes' listeners apart. */
    private readonly applicationName = 'presence-listener',
  ) {
    super();
  }

  /** Resolves once listening; later losses are retried in the background. */
  async start(): Promise<void> {
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.databaseUrl, keepAlive: true, application_name: this.applicationName });
    // Both are needed: 'error' alone would leave a dead client; without a
    // listener an error event crashes the process.
    client.on('error', (error) => this.handleLoss(client, error));
    client.on('end', () => this.handleLoss(client, new Error('listening connection ended')));
    client.on('notification', (message) => this.dispatch(message.channel, message.payload ?? ''));
    try {
      await client.connect();
      await client.query(`LISTEN ${WAKEUP_SIGNAL}`);
      await client.query(`LISTEN ${DEVICE_REVOKED_SIGNAL}`);
      await client.query(`LISTEN ${APP_KEY_ROTATED_SIGNAL}`);
      await client.query(`LISTEN ${ACTIVITY_SIGNAL}`);
      await client.query(`LISTEN ${DISMISSED_SIGNAL}`);
      await client.query(`LISTEN ${RETRACTED_SIGNAL}`);
    } catch (error) {
      await client.end().catch(() => undefined); // not half-open: a retry makes a new one
      throw error;
    }
    // Stopped while connecting: an open connection would keep the process alive.
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    const resumed = this.failures > 0;
    this.client = client;
    this.failures = 0;
    if (resumed) this.emit('resumed');
  }

  private handleLoss(client: pg.Client, error: Error): void {
    if (this.stopped || this.client !== client) return;
    this.client = null;
    client.end().catch(() => undefined);
    this.emit('lost', error);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.retry) return;
    const delay = backoffDelay(this.failures, 100, 5_000);
    this.failures++;
    this.retry = setTimeout(() => {
      this.retry = null;
      this.connect().catch((error: Error) => {
        this.emit('lost', error);
        this.scheduleReconnect();
      });
    }, delay);
    this.retry.unref();
  }

  /** `signal` is the NOTIFY channel name, PostgreSQL's term for what this file calls a signal. */
  private dispatch(signal: string, payload: string): void {
    if (signal === WAKEUP_SIGNAL) {
      const ids = payload.split(',');
      const origin = ids[ids.length - 1]?.startsWith('@') ? (ids.pop() as string).slice(1) : null;
      this.emit('wakeup', ids.filter(Boolean), origin);
    } else if (signal === DEVICE_REVOKED_SIGNAL && payload) this.emit('deviceRevoked', payload);
    else if (signal === APP_KEY_ROTATED_SIGNAL && payload) this.emit('appKeyRotated', payload);
    else if (signal === ACTIVITY_SIGNAL && activityTopics.has(payload)) this.emit('activity', payload as ActivityTopic);
    else if (signal === DISMISSED_SIGNAL) {
      const dismissal = parseDismissal(payload);
      if (dismissal) this.emit('dismissed', dismissal);
    } else if (signal === RETRACTED_SIGNAL) {
      const retraction = parseRetraction(payload);
      if (retraction) this.emit('retracted', retraction);
    }
  }
}
