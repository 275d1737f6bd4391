/**
 * The expiry sweep: items past their ttl are never delivered nor counted
 * (the queries skip them), and this removes them and corrects the sizes,
 * through the queue lock like every other write.
 */
import type { Database } from '../../platform/db/client.ts';
import { announceSql } from '../../platform/signals.ts';
import { lockQueues, recountQueues } from '../queues.ts';

/** Removes expired items from up to `batch` queues; returns how many items went. */
export async function sweepExpiredItems(db: Database, batch = 500): Promise<number> {
  const { rows } = await db.pool.query<{ uid: string }>('SELECT DISTINCT uid FROM queue_items WHERE expires_at IS NOT NULL AND expires_at <= now() LIMIT $1', [
    batch,
  ]);
  if (rows.length === 0) return 0;
  return db.prisma.$transaction(async (tx) => {
    const locked = [
      ...(
        await lockQueues(
          tx,
          rows.map((r) => r.uid),
        )
      ).keys(),
    ];
    const removed = await tx.$executeRawUnsafe('DELETE FROM queue_items WHERE uid = ANY($1::text[]) AND expires_at <= now()', locked);
    await recountQueues(tx, locked);
    if (removed > 0) await tx.$executeRawUnsafe(announceSql('queues'));
    return removed;
  });
}
