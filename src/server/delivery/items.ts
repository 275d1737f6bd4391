/**
 * What a daemon receives and acknowledges: the pending items of all its
 * user's queues.
 */
import type { Database } from '../db/client.ts';
import { lockQueues, recountQueues } from '../queues.ts';
import { announceSql } from './signals.ts';

/** One notification as the daemon channel sends it. */
export interface DeliveredItem {
  /** A string: database ids are 64-bit. */
  id: string;
  appid: string;
  appName: string;
  message: string;
  action: string;
  /** ISO 8601. */
  createdAt: string;
  expiresAt?: string;
}

interface ItemRow {
  id: string;
  appid: string;
  app_name: string;
  message: string;
  action: string;
  created_at: Date;
  expires_at: Date | null;
}

/**
 * Every unexpired item in the queues of `userId`, oldest first, except those
 * in `skip`. Ids of different queues can commit out of order, so callers keep
 * the set of ids they sent instead of a "greater than" bookmark.
 */
export async function pendingItems(db: Database, userId: string, skip: ReadonlySet<string> = new Set()): Promise<DeliveredItem[]> {
  const { rows } = await db.pool.query<ItemRow>(
    `SELECT i.id::text, i.app_id AS appid, a.name AS app_name, i.message, i.action, i.created_at, i.expires_at
       FROM uids u
       JOIN queue_items i ON i.uid = u.uid
       JOIN apps a ON a.id = i.app_id
      WHERE u.user_id = $1::uuid AND (i.expires_at IS NULL OR i.expires_at > now())
        AND NOT (i.id = ANY($2::bigint[]))
      ORDER BY i.created_at, i.id`,
    [userId, [...skip]],
  );
  return rows.map((r) => ({
    id: r.id,
    appid: r.appid,
    appName: r.app_name,
    message: r.message,
    action: r.action,
    createdAt: r.created_at.toISOString(),
    ...(r.expires_at ? { expiresAt: r.expires_at.toISOString() } : {}),
  }));
}

// Prisma's defaults (2 s to get a connection) fail acks in a reconnect storm,
// and a failed ack means the items come again: wait as long as a push does.
const ACK_TRANSACTION_LIMITS = { maxWait: 5_000, timeout: 10_000 };

/**
 * Deletes the listed items from the queues of `userId` ("purge after
 * receipt"), through the queue lock, and keeps the sizes exact. Ids that are
 * gone already or belong to someone else are ignored: acks are idempotent.
 * Returns how many items this call removed.
 */
export async function ackItems(db: Database, userId: string, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  return db.prisma.$transaction(async (tx) => {
    const owned = await tx.$queryRawUnsafe<{ uid: string }[]>(
      `SELECT DISTINCT i.uid FROM queue_items i JOIN uids u ON u.uid = i.uid
        WHERE i.id = ANY($1::bigint[]) AND u.user_id = $2::uuid`,
      [...ids],
      userId,
    );
    if (owned.length === 0) return 0;
    const locked = [...(await lockQueues(tx, owned.map((r) => r.uid))).keys()];
    const deleted = await tx.$executeRawUnsafe(
      `DELETE FROM queue_items WHERE id = ANY($1::bigint[]) AND uid = ANY($2::text[])`,
      [...ids],
      locked,
    );
    await recountQueues(tx, locked);
    await tx.$executeRawUnsafe(announceSql('queues'));
    return deleted;
  }, ACK_TRANSACTION_LIMITS);
}
