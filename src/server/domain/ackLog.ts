/**
 * The ack log the dashboard shows: recent acks (written by the push
 * transaction itself) and refusals of authenticated apps (written here,
 * best-effort, outside any transaction). Kept to the newest entries.
 */
import type { Database } from '../platform/db/client.ts';
import { announceSql } from '../platform/signals.ts';
import type { AppError } from './errors.ts';

/** Which route an entry answered: a push (`notification`) or a retraction (`retract`). */
export type AckKind = 'notification' | 'retract';

/** Records a refusal for an authenticated app; a failure to log is not the caller's problem. */
export async function logRefusal(db: Database, appId: string, refusal: AppError, itemCount: number, kind: AckKind = 'notification'): Promise<void> {
  await db.pool
    .query(
      `WITH entry AS (INSERT INTO ack_log (app_id, kind, result, errno, item_count, uids) VALUES ($1, $4, 'KO', $2, $3, '{}'))
       ${announceSql('acks')}`,
      [appId, refusal.errno, itemCount, kind],
    )
    .catch(() => undefined);
}

/** Deletes all but the newest `keep` entries. */
export async function trimAckLog(db: Database, keep: number): Promise<number> {
  return db.prisma.$executeRawUnsafe(`DELETE FROM ack_log WHERE id <= (SELECT id FROM ack_log ORDER BY id DESC OFFSET $1 LIMIT 1)`, keep);
}

/** One entry as the dashboard shows it. */
export interface AckLogView {
  id: string;
  at: string;
  appId: string;
  kind: AckKind;
  result: 'OK' | 'KO';
  errno: number | null;
  itemCount: number;
  uids: string[];
  /** The distinct tags the entry's items carried, or the tags it retracted. */
  tags: string[];
  queueSize: number | null;
}

/** The newest entries, newest first. */
export async function recentAcks(db: Database, limit = 100): Promise<AckLogView[]> {
  const entries = await db.prisma.ackLogEntry.findMany({ orderBy: { id: 'desc' }, take: limit });
  return entries.map((e) => ({
    ...e,
    id: e.id.toString(),
    at: e.at.toISOString(),
    kind: e.kind === 'retract' ? 'retract' : 'notification',
    result: e.result === 'OK' ? 'OK' : 'KO',
  }));
}

/** Acks and refusals per minute over the last `minutes` minutes, oldest first, with empty minutes as zeros. */
export async function acksPerMinute(db: Database, minutes = 30): Promise<{ minute: string; ok: number; ko: number }[]> {
  const { rows } = await db.pool.query<{ minute: Date; ok: number; ko: number }>(
    `SELECT m.minute,
            count(a.id) FILTER (WHERE a.result = 'OK')::int AS ok,
            count(a.id) FILTER (WHERE a.result = 'KO')::int AS ko
       FROM generate_series(date_trunc('minute', now()) - make_interval(mins => $1 - 1), date_trunc('minute', now()), interval '1 minute') AS m(minute)
       LEFT JOIN ack_log a ON a.at >= m.minute AND a.at < m.minute + interval '1 minute'
      GROUP BY m.minute
      ORDER BY m.minute`,
    [minutes],
  );
  return rows.map((r) => ({ minute: r.minute.toISOString(), ok: r.ok, ko: r.ko }));
}
