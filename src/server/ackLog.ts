/**
 * The ack log the dashboard shows: recent acks (written by the push
 * transaction itself) and refusals of authenticated apps (written here,
 * best-effort, outside any transaction). Kept to the newest entries.
 */
import type { Database } from './db/client.ts';
import type { AppError } from './errors.ts';

/** Records a refusal for an authenticated app; a failure to log is not the caller's problem. */
export async function logRefusal(db: Database, appId: string, refusal: AppError, itemCount: number): Promise<void> {
  await db.prisma.ackLogEntry
    .create({ data: { appId, result: 'KO', errno: refusal.errno, itemCount, uids: [] } })
    .catch(() => undefined);
}

/** Deletes all but the newest `keep` entries. */
export async function trimAckLog(db: Database, keep: number): Promise<number> {
  return db.prisma.$executeRawUnsafe(
    `DELETE FROM ack_log WHERE id <= (SELECT id FROM ack_log ORDER BY id DESC OFFSET $1 LIMIT 1)`,
    keep,
  );
}

export async function recentAcks(db: Database, limit = 100) {
  return db.prisma.ackLogEntry.findMany({ orderBy: { id: 'desc' }, take: limit });
}
