/**
 * The insert-then-prune transaction: the one place notifications are stored.
 */
import { AppError, Errno, type ItemError } from '../errors.ts';
import type { Database } from '../db/client.ts';
import { uidPattern } from '../secrets.ts';
import { wakeUsers } from '../delivery/signals.ts';
import { lockQueues, QUEUE_CAP, type Transaction } from '../queues.ts';
import { claimKey, IdempotencyKeyTaken, priorAck, recordAck, type IdempotentRequest } from './idempotency.ts';
import type { NotificationInput } from './validate.ts';

/** The body of a successful POST. */
export interface Ack {
  result: 'OK';
  /** Size of the queue of the batch's last item. */
  queue_size: number;
  queue_sizes: Record<string, number>;
}

// The statements of the transaction, in order (after the queue lock of
// queues.ts). Exported so the benchmark's ceiling runs exactly these.

/** $1 app, $2 UIDs, $3 messages, $4 actions, $5 ttls (seconds or null), aligned by batch position. */
export const INSERT_ITEMS_SQL = `
  INSERT INTO queue_items (uid, app_id, message, action, expires_at)
  SELECT t.uid, $1, t.message, t.action,
         CASE WHEN t.ttl IS NULL THEN NULL ELSE now() + make_interval(secs => t.ttl) END
    FROM unnest($2::text[], $3::text[], $4::text[], $5::int[]) WITH ORDINALITY AS t(uid, message, action, ttl, n)
   ORDER BY t.n`;

/**
 * $1 UIDs, $2 the cap: deletes expired items and all but the newest $2 live
 * items of each queue, stores the exact sizes, and returns them with how many
 * items the cap dropped. One statement: the size is computed from the same
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
    RETURNING uid, expires_at <= now() AS expired
  ), counts AS (
    SELECT u.uid,
           (SELECT count(*) FROM live WHERE live.uid = u.uid)::int AS n,
           (SELECT count(*) FROM pruned WHERE pruned.uid = u.uid AND NOT coalesce(pruned.expired, false))::int AS dropped
      FROM unnest($1::text[]) AS u(uid)
  )
  UPDATE queues q
     SET size = LEAST(counts.n, $2)
    FROM counts
   WHERE q.uid = counts.uid
  RETURNING q.uid, q.size, counts.dropped`;

/** $1 app, $2 item count, $3 UIDs, $4 the ack's queue_size. */
export const ACK_LOG_SQL = `INSERT INTO ack_log (app_id, result, item_count, uids, queue_size) VALUES ($1, 'OK', $2, $3::text[], $4)`;

export interface PushOptions {
  /** Longest the transaction may wait for a connection, in ms. */
  maxWaitMs?: number;
  /** Longest the transaction may run, in ms. */
  timeoutMs?: number;
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

/**
 * Stores a validated batch for `appId`, all or nothing: locks the affected
 * queues, refuses the batch (105) if any UID is not one of this app's, inserts
 * the items in batch order, drops expired items and everything beyond the
 * newest {@link QUEUE_CAP} of each queue, updates the sizes and logs the ack.
 * Resolves only after the commit.
 */
export async function pushNotifications(db: Database, appId: string, items: NotificationInput[], options: PushOptions = {}): Promise<PushOutcome> {
  const { idempotency } = options;
  try {
    return await db.prisma.$transaction(
      async (tx) => {
        if (idempotency) await claimKey(tx, appId, idempotency);
        const uids = items.map((item) => item.uid);
        const locked = await lockQueues(tx, uids.filter((uid) => uidPattern.test(uid)), appId);
        const unknown: ItemError[] = [];
        uids.forEach((uid, index) => {
          if (!locked.has(uid)) unknown.push({ index, field: 'UID', errno: Errno.UnknownUid, error: 'unknown UID' });
        });
        if (unknown.length > 0) throw AppError.forItems(unknown);

        await insertItems(tx, appId, items);
        const { sizes, droppedByCap } = await pruneAndCount(tx, [...locked.keys()]);
        // Delivered with the commit, never before it, and never lost to a crash between the two.
        await wakeUsers(tx, [...new Set(locked.values())]);
        const lastUid = uids[uids.length - 1] as string;
        const ack: Ack = { result: 'OK', queue_size: sizes[lastUid] ?? 0, queue_sizes: sizes };
        await tx.$executeRawUnsafe(
          ACK_LOG_SQL,
          appId,
          items.length,
          [...locked.keys()],
          ack.queue_size,
        );
        if (idempotency) await recordAck(tx, appId, idempotency, ack);
        return { ack, stored: items.length, droppedByCap };
      },
      { maxWait: options.maxWaitMs ?? 5_000, timeout: options.timeoutMs ?? 10_000 },
    );
  } catch (error) {
    // A concurrent retry with the same key committed first: answer as it was answered.
    if (!(error instanceof IdempotencyKeyTaken) || !idempotency) throw error;
    const replay = await priorAck(db, appId, idempotency);
    if (!replay) throw new AppError(Errno.StorageUnavailable, 'a request with this Idempotency-Key is still in progress; retry later');
    return { ack: replay, stored: 0, droppedByCap: 0 };
  }
}

// One statement for the whole batch; ids follow batch order, and since the
// queues are locked, ids within a queue follow commit order too (FIFO).
async function insertItems(tx: Transaction, appId: string, items: NotificationInput[]): Promise<void> {
  await tx.$executeRawUnsafe(
    INSERT_ITEMS_SQL,
    appId,
    items.map((i) => i.uid),
    items.map((i) => i.message),
    items.map((i) => i.action),
    items.map((i) => i.ttl ?? null),
  );
}

/** Prunes the queues to QUEUE_CAP and returns their sizes by UID, and how many items the cap dropped. */
async function pruneAndCount(tx: Transaction, uids: string[]): Promise<{ sizes: Record<string, number>; droppedByCap: number }> {
  const rows = await tx.$queryRawUnsafe<{ uid: string; size: number; dropped: number }[]>(PRUNE_AND_COUNT_SQL, uids, QUEUE_CAP);
  return {
    sizes: Object.fromEntries(rows.map((r) => [r.uid, r.size])),
    droppedByCap: rows.reduce((sum, r) => sum + r.dropped, 0),
  };
}
