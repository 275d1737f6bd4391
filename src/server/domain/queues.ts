/**
 * The per-(UID, app) queues. Every write to a queue — push, daemon ack,
 * expiry, purge, revoke — first calls {@link lockQueues}, which locks the
 * queue rows in one fixed order (by UID): the cap and the FIFO order hold
 * under any number of concurrent writers, and batches that touch several
 * queues never deadlock.
 */
import type pg from 'pg';
import type { Database } from '../platform/db/client.ts';
import type { Prisma } from '../platform/db/generated/client.ts';
import { prepared, type PreparedStatement } from '../platform/db/prepared.ts';
import { announceSql } from '../platform/signals.ts';
import { AppError, Errno } from './errors.ts';

/** Where a transaction's statements run: a Prisma interactive transaction, or a pg client inside BEGIN. */
export type Transaction = Prisma.TransactionClient | pg.ClientBase;

/** Runs one statement of a transaction and returns its rows, whichever client runs it (pg prepares it). */
async function queryRows<R>(tx: Transaction, statement: PreparedStatement, values: unknown[]): Promise<R[]> {
  if ('$queryRawUnsafe' in tx) return tx.$queryRawUnsafe<R[]>(statement.text, ...values);
  return (await tx.query({ ...statement, values })).rows as R[];
}

/** Locks queue rows in UID order ($1: UIDs sorted), with their apps and users. */
const LOCK_QUEUES = prepared(
  'lock-queues',
  `
  SELECT q.uid, q.app_id, a.name AS app_name, u.user_id::text
    FROM queues q JOIN uids u ON u.uid = q.uid JOIN apps a ON a.id = q.app_id
   WHERE q.uid = ANY($1::text[])
   ORDER BY q.uid
     FOR UPDATE OF q`,
);

/** A locked queue: whose it is. */
export interface LockedQueue {
  appId: string;
  /** The app's name as daemons show it. */
  appName: string;
  userId: string;
}

/**
 * Locks the queues of `uids` (those that exist) until the transaction ends,
 * in UID order. Returns the queues locked by UID. A group of pushes locks all
 * its queues in one call, so groups too take their locks in one order.
 */
export async function lockQueues(tx: Transaction, uids: readonly string[]): Promise<Map<string, LockedQueue>> {
  const distinct = [...new Set(uids)].sort();
  if (distinct.length === 0) return new Map();
  const rows = await queryRows<{ uid: string; app_id: string; app_name: string; user_id: string }>(tx, LOCK_QUEUES, [distinct]);
  return new Map(rows.map((r) => [r.uid, { appId: r.app_id, appName: r.app_name, userId: r.user_id }]));
}

/** $1 UIDs: their live items counted into their queue rows. */
const RECOUNT_QUEUES = prepared(
  'recount-queues',
  `UPDATE queues q
      SET size = (SELECT count(*) FROM queue_items i
                   WHERE i.uid = q.uid AND (i.expires_at IS NULL OR i.expires_at > now()))
    WHERE q.uid = ANY($1::text[])`,
);

/** Recounts the live items of `uids` into their queue rows; call with those queues locked. */
export async function recountQueues(tx: Transaction, uids: readonly string[]): Promise<void> {
  await queryRows(tx, RECOUNT_QUEUES, [[...uids]]);
}

/** One queue as operators see it. */
export interface QueueSummary {
  uid: string;
  appId: string;
  userId: string;
  userName: string;
  size: number;
}

/** Every queue with its size, largest first. */
export async function listQueues(db: Database): Promise<QueueSummary[]> {
  const queues = await db.prisma.queue.findMany({
    select: { uid: true, appId: true, size: true, owner: { select: { userId: true, user: { select: { name: true } } } } },
    orderBy: [{ size: 'desc' }, { appId: 'asc' }, { uid: 'asc' }],
  });
  return queues.map((q) => ({ uid: q.uid, appId: q.appId, userId: q.owner.userId, userName: q.owner.user.name, size: q.size }));
}

/** One queued item as operators see it. */
export interface QueueItemView {
  id: string;
  message: string;
  action: string;
  createdAt: string;
  expiresAt: string | null;
  /** The app's tag for what the item is about, or null. */
  tag: string | null;
}

/** The live items of one queue, oldest first. */
export async function listQueueItems(db: Database, uid: string): Promise<QueueItemView[]> {
  const { rows } = await db.pool.query<{ id: string; message: string; action: string; created_at: Date; expires_at: Date | null; tag: string | null }>(
    `SELECT id::text, message, action, created_at, expires_at, tag FROM queue_items
      WHERE uid = $1 AND (expires_at IS NULL OR expires_at > now())
      ORDER BY id`,
    [uid],
  );
  return rows.map((r) => ({
    id: r.id,
    message: r.message,
    action: r.action,
    createdAt: r.created_at.toISOString(),
    expiresAt: r.expires_at?.toISOString() ?? null,
    tag: r.tag,
  }));
}

/** Empties one queue (through the queue lock). Returns how many items were removed. */
export async function purgeQueue(db: Database, uid: string): Promise<number> {
  return db.prisma.$transaction(async (tx) => {
    const locked = await lockQueues(tx, [uid]);
    if (locked.size === 0) throw new AppError(Errno.NotFound, `no queue for UID "${uid}"`);
    const removed = await tx.$executeRawUnsafe('DELETE FROM queue_items WHERE uid = $1', uid);
    await recountQueues(tx, [uid]);
    await tx.$executeRawUnsafe(announceSql('queues'));
    return removed;
  });
}
