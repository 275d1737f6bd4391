/**
 * "The ceiling of this machine for that design": the service's
 * insert-then-prune transaction sent straight to PostgreSQL over `pg`, one
 * transaction per request, without HTTP, JSON validation, group commit or
 * the app authentication in front of it.
 *
 * It is the fixed reference the ingest ratios are read against, so it is
 * kept here as the service ran it until push_group
 * (prisma/migrations/20261202030000_push_group): BEGIN, the queue lock, the
 * store statement with its window over each queue, COMMIT. Until then the
 * ceiling ran the service's own `storeGroup`; from then on, what the
 * service gains in its SQL shows in the ratios instead of moving the
 * reference with it.
 */
import type pg from 'pg';
import { QUEUE_CAPACITY } from '../../src/shared/limits.ts';
import type { Item } from './workload.ts';

const LOCK = {
  name: 'ceiling-lock',
  text: `
  SELECT q.uid, q.app_id, a.name AS app_name, u.user_id::text
    FROM queues q JOIN uids u ON u.uid = q.uid JOIN apps a ON a.id = q.app_id
   WHERE q.uid = ANY($1::text[])
   ORDER BY q.uid
     FOR UPDATE OF q`,
};

/** $1 apps, $2 UIDs, $3 messages, $4 actions, $5 ttls, $6 the cap, $7 the users to wake, $8 the ack log entry. */
const STORE = {
  name: 'ceiling-store',
  text: `
  WITH batch AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[]) WITH ORDINALITY AS t(app_id, uid, message, action, ttl, n)
  ), inserted AS (
    INSERT INTO queue_items (uid, app_id, message, action, expires_at)
    SELECT uid, app_id, message, action, CASE WHEN ttl IS NULL THEN NULL ELSE now() + make_interval(secs => ttl) END
      FROM batch ORDER BY n
    RETURNING id, uid
  ), added AS (
    SELECT uid, count(*)::int AS k FROM batch GROUP BY uid
  ), existing AS (
    SELECT i.id, i.uid, row_number() OVER (PARTITION BY i.uid ORDER BY i.id DESC) AS newer
      FROM queue_items i
     WHERE i.uid IN (SELECT uid FROM added) AND (i.expires_at IS NULL OR i.expires_at > now())
  ), pruned AS (
    DELETE FROM queue_items d
     WHERE d.uid IN (SELECT uid FROM added)
       AND (d.expires_at <= now() OR d.id IN (SELECT e.id FROM existing e JOIN added a ON a.uid = e.uid WHERE e.newer > $6 - a.k))
  ), counts AS (
    SELECT a.uid, a.k, count(e.id)::int AS before FROM added a LEFT JOIN existing e ON e.uid = a.uid GROUP BY a.uid, a.k
  ), sized AS (
    UPDATE queues q SET size = LEAST($6, c.before + c.k) FROM counts c WHERE q.uid = c.uid
  ), logged AS (
    INSERT INTO ack_log (app_id, result, item_count, uids, tags, queue_size)
    SELECT e.app_id, 'OK', e.item_count, ARRAY(SELECT jsonb_array_elements_text(e.uids)), '{}', LEAST($6, coalesce(c.before, 0) + e.upto)
      FROM jsonb_to_recordset($8::jsonb) AS e(app_id text, item_count int, uids jsonb, last_uid text, upto int)
      LEFT JOIN counts c ON c.uid = e.last_uid
  ), woken AS (
    SELECT pg_notify('presence_wakeup', string_agg(id, ',')) FROM unnest($7::text[]) AS id
  )
  SELECT uid, before, (SELECT count(*) FROM woken) AS notified, NULL AS id FROM counts
  UNION ALL
  SELECT uid, NULL, NULL, id::text FROM inserted`,
};

/** One push as the service did it, on a dedicated connection. Resolves after COMMIT. */
export async function pushDirect(client: pg.Client, appId: string, items: readonly Item[]): Promise<void> {
  await client.query('BEGIN');
  try {
    const uids = [...new Set(items.map((i) => i.UID))].sort();
    const { rows: locked } = await client.query<{ uid: string; app_id: string; user_id: string }>({ ...LOCK, values: [uids] });
    if (locked.length !== uids.length || locked.some((q) => q.app_id !== appId)) throw new Error('ceiling: a UID is not one of the app’s');
    const upto = items.filter((i) => i.UID === (items[items.length - 1] as Item).UID).length;
    const entry = { app_id: appId, item_count: items.length, uids, last_uid: (items[items.length - 1] as Item).UID, upto };
    await client.query({
      ...STORE,
      values: [
        items.map(() => appId),
        items.map((i) => i.UID),
        items.map((i) => i.message),
        items.map((i) => i.action),
        items.map(() => null),
        QUEUE_CAPACITY,
        [...new Set(locked.map((q) => q.user_id))],
        JSON.stringify([entry]),
      ],
    });
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
