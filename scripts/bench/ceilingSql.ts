/**
 * "The ceiling of this machine for that design": the service's
 * insert-then-prune transaction sent straight to PostgreSQL over `pg`, one
 * transaction per request, without HTTP, JSON validation, Prisma or the app
 * authentication in front of it. The statements are the service's own,
 * imported from src/server/queues.ts (the queue lock),
 * src/server/notifications/push.ts (insert, prune/recount, ack log) and
 * src/server/delivery/signals.ts (the wake-up), so the two cannot drift apart.
 */
import type pg from 'pg';
import { WAKE_USERS_SQL } from '../../src/server/delivery/signals.ts';
import { ACK_LOG_SQL, INSERT_ITEMS_SQL, PRUNE_AND_COUNT_SQL } from '../../src/server/notifications/push.ts';
import { LOCK_QUEUES_SQL, QUEUE_CAP } from '../../src/server/queues.ts';
import type { Item } from './workload.ts';

export interface CeilingOptions {
  /** Diagnostics only: leave out the pg_notify (to see what its commit-time serialisation costs). */
  withoutNotify?: boolean;
}

/** One push as the service does it, on a dedicated connection. Resolves after COMMIT. */
export async function pushDirect(client: pg.Client, appId: string, items: readonly Item[], options: CeilingOptions = {}): Promise<void> {
  await client.query('BEGIN');
  try {
    const uids = items.map((i) => i.UID);
    const distinct = [...new Set(uids)].sort();
    const locked = await client.query<{ uid: string; user_id: string }>(LOCK_QUEUES_SQL, [distinct, appId]);
    if (locked.rowCount !== distinct.length) throw new Error(`ceiling: ${distinct.length - (locked.rowCount ?? 0)} unknown UIDs`);
    await client.query(INSERT_ITEMS_SQL, [appId, uids, items.map((i) => i.message), items.map((i) => i.action), items.map(() => null)]);
    const sizes = await client.query<{ uid: string; size: number }>(PRUNE_AND_COUNT_SQL, [locked.rows.map((r) => r.uid), QUEUE_CAP]);
    if (!options.withoutNotify) await client.query(WAKE_USERS_SQL, [[...new Set(locked.rows.map((r) => r.user_id))]]);
    const last = uids[uids.length - 1];
    const queueSize = sizes.rows.find((r) => r.uid === last)?.size ?? 0;
    await client.query(ACK_LOG_SQL, [appId, items.length, locked.rows.map((r) => r.uid), queueSize]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
