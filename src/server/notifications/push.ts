/**
 * The insert-then-prune transaction: the one place notifications are stored.
 *
 * Concurrent pushes share a transaction (group commit, see db/coalescer.ts):
 * one lock of all their queues in UID order, one insert in arrival order, one
 * prune, one wake-up, one commit; each push is answered only after that
 * commit. When a statement fails, the group is run again with a savepoint
 * per push, so one bad request never fails its neighbours.
 */
import type pg from 'pg';
import { inTransaction, isStorageUnavailable, type Database } from '../db/client.ts';
import { Coalescer, type JobOutcome } from '../db/coalescer.ts';
import { AppError, Errno, type ItemError } from '../errors.ts';
import { uidPattern } from '../secrets.ts';
import { WAKE_USERS_SQL } from '../delivery/signals.ts';
import { lockQueues, QUEUE_CAP, type LockedQueue } from '../queues.ts';
import { CLAIM_KEYS_SQL, IdempotencyKeyTaken, priorAck, RECORD_ACKS_SQL, type IdempotentRequest } from './idempotency.ts';
import type { NotificationInput } from './validate.ts';

/** The body of a successful POST. */
export interface Ack {
  result: 'OK';
  /** Size of the queue of the batch's last item. */
  queue_size: number;
  queue_sizes: Record<string, number>;
}

/** One validated request to store. */
export interface Push {
  appId: string;
  items: NotificationInput[];
  /** Makes the push replayable under this key (see idempotency.ts). */
  idempotency?: IdempotentRequest | null;
}

/** What a push stored and what the cap pushed out, for metrics. */
export interface PushOutcome {
  ack: Ack;
  stored: number;
  /** Items dropped from full queues to make room. */
  droppedByCap: number;
}

export interface PushOptions {
  /** Longest the transaction holding this push may run, in ms. */
  timeoutMs?: number;
  idempotency?: IdempotentRequest | null;
}

// The statements of the transaction, in order (after the queue lock of queues.ts).

/** $1 apps, $2 UIDs, $3 messages, $4 actions, $5 ttls (seconds or null), aligned by arrival order. */
export const INSERT_ITEMS_SQL = `
  INSERT INTO queue_items (uid, app_id, message, action, expires_at)
  SELECT t.uid, t.app_id, t.message, t.action,
         CASE WHEN t.ttl IS NULL THEN NULL ELSE now() + make_interval(secs => t.ttl) END
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[]) WITH ORDINALITY AS t(app_id, uid, message, action, ttl, n)
   ORDER BY t.n`;

/**
 * $1 UIDs, $2 the cap: deletes expired items and all but the newest $2 live
 * items of each queue, stores the exact sizes, and returns them with the live
 * count before the cap. One statement: the size is computed from the same
 * snapshot the deletion uses.
 */
export const PRUNE_AND_COUNT_SQL = `
  WITH live AS (
    SELECT id, uid, row_number() OVER (PARTITION BY uid ORDER BY id DESC) AS newer
      FROM queue_items
     WHERE uid = ANY($1::text[]) AND (expires_at IS NULL OR expires_at > now())
  ), pruned AS (
    DELETE FROM queue_items
     WHERE uid = ANY($1::text[])
       AND (expires_at <= now() OR id IN (SELECT id FROM live WHERE newer > $2))
  ), counts AS (
    SELECT u.uid, count(live.id)::int AS live
      FROM unnest($1::text[]) AS u(uid) LEFT JOIN live ON live.uid = u.uid
     GROUP BY u.uid
  )
  UPDATE queues q
     SET size = LEAST(counts.live, $2)
    FROM counts
   WHERE q.uid = counts.uid
  RETURNING q.uid, counts.live`;

/** $1 JSON array of {app_id, item_count, uids, queue_size}: one ack log entry per push. */
export const ACK_LOG_SQL = `
  INSERT INTO ack_log (app_id, result, item_count, uids, queue_size)
  SELECT e.app_id, 'OK', e.item_count, ARRAY(SELECT jsonb_array_elements_text(e.uids)), e.queue_size
    FROM jsonb_to_recordset($1::jsonb) AS e(app_id text, item_count int, uids jsonb, queue_size int)`;

/** The most notifications one group transaction takes (a single larger request goes alone). */
const GROUP_MAX_ITEMS = 2_000;
/** Group transactions in flight per process: one commits while the next one gathers. */
const GROUPS_IN_FLIGHT = 2;
const DEFAULT_TIMEOUT_MS = 10_000;

interface GroupJob extends Push {
  timeoutMs: number;
}

const committers = new WeakMap<Database, Coalescer<GroupJob, PushOutcome | IdempotencyKeyTaken>>();

function committerOf(db: Database): Coalescer<GroupJob, PushOutcome | IdempotencyKeyTaken> {
  let committer = committers.get(db);
  if (!committer) {
    committer = new Coalescer(
      async (jobs) => {
        const timeoutMs = Math.min(...jobs.map((j) => j.timeoutMs));
        try {
          return await inTransaction(db.pool, (client) => storeGroup(client, jobs), { timeoutMs });
        } catch (error) {
          // One push's statement failed the group: run it again with a savepoint per push.
          if (jobs.length === 1 || isStorageUnavailable(error)) throw error;
          return inTransaction(db.pool, (client) => storeGroup(client, jobs, { isolate: true }), { timeoutMs });
        }
      },
      {
        concurrency: GROUPS_IN_FLIGHT,
        maxWeight: GROUP_MAX_ITEMS,
        weight: (job) => job.items.length,
        // Two claims of one key in one statement would collide; the second waits for the first's answer.
        exclusiveKey: (job) => (job.idempotency ? `${job.appId}\n${job.idempotency.key}` : null),
      },
    );
    committers.set(db, committer);
  }
  return committer;
}

/**
 * Stores a validated batch for `appId`, all or nothing: locks the affected
 * queues, refuses the batch (105) if any UID is not one of this app's, inserts
 * the items in batch order, drops expired items and everything beyond the
 * newest {@link QUEUE_CAP} of each queue, updates the sizes and logs the ack.
 * Resolves only after the commit of the group transaction that holds it.
 */
export async function pushNotifications(db: Database, appId: string, items: NotificationInput[], options: PushOptions = {}): Promise<PushOutcome> {
  const { idempotency = null } = options;
  const stored = await committerOf(db).submit({ appId, items, idempotency, timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS });
  if (!(stored instanceof IdempotencyKeyTaken)) return stored;
  // A retry with the same key committed first: answer as it was answered.
  const replay = idempotency ? await priorAck(db, appId, idempotency) : null;
  if (!replay) throw new AppError(Errno.StorageUnavailable, 'a request with this Idempotency-Key is still in progress; retry later');
  return { ack: replay, stored: 0, droppedByCap: 0 };
}

type PushResult = JobOutcome<PushOutcome | IdempotencyKeyTaken>;

/**
 * The group transaction, on `client` inside BEGIN (the caller commits):
 * answers each push in order. With `isolate`, each push's writes run in a
 * savepoint of their own, so a failing one is refused alone. Exported for the
 * benchmark's ceiling, which runs it with one push per transaction.
 */
export async function storeGroup(client: pg.ClientBase, pushes: readonly Push[], options: { isolate?: boolean } = {}): Promise<PushResult[]> {
  const locked = await lockQueues(client, pushes.flatMap((p) => p.items.map((i) => i.uid).filter((uid) => uidPattern.test(uid))));
  const results: (PushResult | null)[] = pushes.map((push) => refuseUnknownUids(push, locked));
  const accepted = pushes.flatMap((push, i) => (results[i] === null ? [i] : []));
  if (accepted.length === 0) return results as PushResult[];

  if (!options.isolate) {
    await claimAndInsert(client, accepted.map((i) => pushes[i] as Push), results, accepted);
  } else {
    for (const i of accepted) {
      await client.query('SAVEPOINT push');
      try {
        await claimAndInsert(client, [pushes[i] as Push], results, [i]);
        await client.query('RELEASE SAVEPOINT push');
      } catch (error) {
        if (isStorageUnavailable(error)) throw error;
        await client.query('ROLLBACK TO SAVEPOINT push');
        results[i] = { ok: false, error };
      }
    }
  }

  const stored = accepted.filter((i) => results[i] === null);
  if (stored.length > 0) await finishStored(client, pushes, stored, locked, results);
  return results as PushResult[];
}

/** 105 for every item whose UID is not a locked queue of the push's app; null when all are. */
function refuseUnknownUids(push: Push, locked: ReadonlyMap<string, LockedQueue>): PushResult | null {
  const unknown: ItemError[] = [];
  push.items.forEach((item, index) => {
    if (locked.get(item.uid)?.appId !== push.appId) unknown.push({ index, field: 'UID', errno: Errno.UnknownUid, error: 'unknown UID' });
  });
  return unknown.length > 0 ? { ok: false, error: AppError.forItems(unknown) } : null;
}

/**
 * Claims the idempotency keys of `group` (a push whose key is taken is marked
 * so in `results` and stores nothing), then inserts the items of the others
 * in arrival order, one statement for the whole group.
 */
async function claimAndInsert(client: pg.ClientBase, group: readonly Push[], results: (PushResult | null)[], indexes: readonly number[]): Promise<void> {
  const keyed = group.filter((p) => p.idempotency);
  let claimed = new Set<string>();
  if (keyed.length > 0) {
    const { rows } = await client.query<{ app_id: string; key: string }>(CLAIM_KEYS_SQL, [
      keyed.map((p) => p.appId),
      keyed.map((p) => p.idempotency?.key),
      keyed.map((p) => p.idempotency?.bodyDigest.toString('hex')),
    ]);
    claimed = new Set(rows.map((r) => `${r.app_id}\n${r.key}`));
  }
  const storing = group.filter((push, g) => {
    const taken = push.idempotency !== null && push.idempotency !== undefined && !claimed.has(`${push.appId}\n${push.idempotency.key}`);
    if (taken) results[indexes[g] as number] = { ok: true, value: new IdempotencyKeyTaken() };
    return !taken;
  });
  const items = storing.flatMap((push) => push.items.map((item) => ({ appId: push.appId, ...item })));
  if (items.length === 0) return;
  await client.query(INSERT_ITEMS_SQL, [
    items.map((i) => i.appId),
    items.map((i) => i.uid),
    items.map((i) => i.message),
    items.map((i) => i.action),
    items.map((i) => i.ttl ?? null),
  ]);
}

/**
 * After the inserts: prunes the queues, wakes their users' daemons (on
 * commit, never before it, and never lost to a crash between the two), logs
 * one ack per push and records the acks of keyed pushes for replays.
 */
async function finishStored(
  client: pg.ClientBase,
  pushes: readonly Push[],
  stored: readonly number[],
  locked: ReadonlyMap<string, LockedQueue>,
  results: (PushResult | null)[],
): Promise<void> {
  const uids = [...new Set(stored.flatMap((i) => (pushes[i] as Push).items.map((item) => item.uid)))];
  const { rows } = await client.query<{ uid: string; live: number }>(PRUNE_AND_COUNT_SQL, [uids, QUEUE_CAP]);
  const sizes = new QueueSizes(rows, stored.map((i) => pushes[i] as Push));
  await client.query(WAKE_USERS_SQL, [[...new Set(uids.map((uid) => locked.get(uid)?.userId as string))]]);

  const entries: { app_id: string; item_count: number; uids: string[]; queue_size: number }[] = [];
  const replays: { app_id: string; key: string; response: Ack }[] = [];
  for (const i of stored) {
    const push = pushes[i] as Push;
    const outcome = sizes.apply(push);
    results[i] = { ok: true, value: outcome };
    entries.push({ app_id: push.appId, item_count: push.items.length, uids: [...new Set(push.items.map((item) => item.uid))].sort(), queue_size: outcome.ack.queue_size });
    if (push.idempotency) replays.push({ app_id: push.appId, key: push.idempotency.key, response: outcome.ack });
  }
  await client.query(ACK_LOG_SQL, [JSON.stringify(entries)]);
  if (replays.length > 0) await client.query(RECORD_ACKS_SQL, [JSON.stringify(replays)]);
}

/**
 * Each push's ack as if the group's pushes had committed one by one in
 * arrival order: the size of a queue after a push is its size before the
 * group plus what the group added up to that push, capped.
 */
class QueueSizes {
  private readonly size = new Map<string, number>();

  constructor(rows: readonly { uid: string; live: number }[], stored: readonly Push[]) {
    const added = new Map<string, number>();
    for (const push of stored) for (const item of push.items) added.set(item.uid, (added.get(item.uid) ?? 0) + 1);
    // Live before the group = live after its inserts minus what it inserted (the cap pruned nothing yet then).
    for (const row of rows) this.size.set(row.uid, Math.min(QUEUE_CAP, row.live - (added.get(row.uid) ?? 0)));
  }

  apply(push: Push): PushOutcome {
    let droppedByCap = 0;
    for (const item of push.items) {
      const before = this.size.get(item.uid) ?? 0;
      if (before >= QUEUE_CAP) droppedByCap++;
      this.size.set(item.uid, Math.min(QUEUE_CAP, before + 1));
    }
    const queueSizes = Object.fromEntries(push.items.map((item) => [item.uid, this.size.get(item.uid) as number]));
    const lastUid = (push.items[push.items.length - 1] as NotificationInput).uid;
    return { ack: { result: 'OK', queue_size: queueSizes[lastUid] ?? 0, queue_sizes: queueSizes }, stored: push.items.length, droppedByCap };
  }
}
