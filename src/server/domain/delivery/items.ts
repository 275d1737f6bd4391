/**
 * What a daemon receives and acknowledges: the pending items of all its
 * user's queues.
 */
import { perDatabase, queryWithin, type Database } from '../../platform/db/client.ts';
import { Coalescer, type JobOutcome } from '../../platform/db/coalescer.ts';
import type { DeliveredItem } from '../../../shared/delivery.ts';
import { prepared } from '../../platform/db/prepared.ts';
import { announceSoon } from '../../platform/signals.ts';

interface ItemRow {
  id: string;
  appid: string;
  app_name: string;
  message: string;
  action: string;
  created_at: Date;
  expires_at: Date | null;
  tag: string | null;
}

/** $1 user ids: their unexpired items, oldest first. */
const READ_PENDING = prepared(
  'read-pending',
  `SELECT u.user_id::text, i.id::text, i.app_id AS appid, a.name AS app_name, i.message, i.action, i.created_at, i.expires_at, i.tag
     FROM uids u
     JOIN queue_items i ON i.uid = u.uid
     JOIN apps a ON a.id = i.app_id
    WHERE u.user_id = ANY($1::uuid[]) AND (i.expires_at IS NULL OR i.expires_at > now())
    ORDER BY i.created_at, i.id`,
);

/** Users whose pending items one query reads, at most (a reconnect storm asks for thousands at once). */
const USERS_PER_READ = 50;

const readerOf = perDatabase(
  (db) =>
    new Coalescer<string, DeliveredItem[]>(
      async (userIds) => {
        const { rows } = await db.pool.query<ItemRow & { user_id: string }>({ ...READ_PENDING, values: [[...new Set(userIds)]] });
        const byUser = new Map<string, DeliveredItem[]>(userIds.map((id) => [id, []]));
        for (const row of rows) byUser.get(row.user_id)?.push(toDeliveredItem(row));
        return userIds.map((id) => ({ ok: true, value: byUser.get(id) ?? [] }));
      },
      { maxWeight: USERS_PER_READ },
    ),
);

function toDeliveredItem(r: ItemRow): DeliveredItem {
  return {
    id: r.id,
    appid: r.appid,
    appName: r.app_name,
    message: r.message,
    action: r.action,
    createdAt: r.created_at.toISOString(),
    ...(r.expires_at ? { expiresAt: r.expires_at.toISOString() } : {}),
    ...(r.tag === null ? {} : { tag: r.tag }),
  };
}

/**
 * Every unexpired item in the queues of `userId`, oldest first, except those
 * in `skip`. Ids of different queues can commit out of order, so callers keep
 * the set of ids they sent instead of a "greater than" bookmark. Reads for
 * many users arriving together share one query.
 */
export async function pendingItems(db: Database, userId: string, skip: ReadonlySet<string> = new Set()): Promise<DeliveredItem[]> {
  const items = await readerOf(db).submit(userId);
  return skip.size === 0 ? items : items.filter((item) => !skip.has(item.id));
}

interface AckRequest {
  userId: string;
  ids: readonly string[];
}

/** Acks in one transaction: at most this many ids (a larger single ack goes alone). */
const ACK_GROUP_MAX_IDS = 5_000;
/** A failed ack means the items come again; wait as long as a push does before giving up. */
const ACK_TIMEOUT_MS = 10_000;
/**
 * An ack waits this long for others to share its statement: nobody waits on
 * an ack's commit (the daemon has shown its items already), and a trickle of
 * deliveries otherwise costs a statement, and PostgreSQL a transaction, per
 * item (docs/benchmarks.md, "Seventh step").
 */
const ACK_GATHER_MS = 20;

const ackCommitterOf = perDatabase(
  (db) =>
    new Coalescer<AckRequest, number>((requests) => deleteAcked(db, requests), {
      maxWeight: ACK_GROUP_MAX_IDS,
      weight: (request) => request.ids.length,
      gatherMs: ACK_GATHER_MS,
    }),
);

/**
 * Deletes the listed items from the queues of `userId` ("purge after
 * receipt"), through the queue lock, and keeps the sizes exact. Ids that are
 * gone already or belong to someone else are ignored: acks are idempotent.
 * Acks of many daemons share a transaction (group commit). Returns how many
 * items this call removed.
 */
export async function ackItems(db: Database, userId: string, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  return ackCommitterOf(db).submit({ userId, ids });
}

/**
 * The acks of a group in one round trip: ack_items (its latest migration,
 * prisma/migrations/20261202060000_ack_items_planned_once) locks the queues
 * holding each user's own acked items in UID order, deletes those items and
 * sets the sizes. A lone ack takes ack_one (prisma/migrations/
 * 20261202121000_ack_one), the same for one item by plain statements.
 *
 * Its commit does not wait for the disk (synchronous_commit off for this
 * transaction only). An ack promises nothing to anyone: if PostgreSQL stops
 * before its WAL reaches the disk (at most a fraction of a second later, or
 * at the next push's commit, which flushes it too), the acked items are
 * pending again, come again on the next connection, and the daemon drops
 * them by id, as after any lost ack. A push's commit, which its ack does
 * promise, still waits.
 */
const ACK_ITEMS = prepared('ack-items', unflushed('ack_items($1::bigint[], $2::uuid[])'));

/** $1 the item id, $2 the user acking it. */
const ACK_ONE = prepared('ack-one', unflushed('ack_one($1::bigint, $2::uuid)'));

/** The rows of `call` (ack_items or ack_one), in a transaction whose commit does not wait for the disk. */
function unflushed(call: string): string {
  return `WITH unflushed AS (SELECT set_config('synchronous_commit', 'off', true))
   SELECT item_id, owner_id FROM unflushed, ${call}`;
}

/** One statement for a group of acks: each request's count of items it removed, in order. */
async function deleteAcked(db: Database, requests: readonly AckRequest[]): Promise<JobOutcome<number>[]> {
  const ids = requests.flatMap((r) => r.ids);
  const users = requests.flatMap((r) => r.ids.map(() => r.userId));
  const statement = ids.length === 1 ? { ...ACK_ONE, values: [ids[0], users[0]] } : { ...ACK_ITEMS, values: [ids, users] };
  const { rows } = await queryWithin<{ item_id: string; owner_id: string }>(db.pool, statement, ACK_TIMEOUT_MS);
  // The dashboard hears of it once for all the acks of the next moment: a NOTIFY per ack cost a third as much as the ack.
  if (rows.length > 0) announceSoon(db, 'queues');
  // Each removed item, with the user whose queue held it.
  const removedFor = new Map(rows.map((row) => [row.item_id, row.owner_id]));
  // An item counts for the first request of its own user that listed it.
  return requests.map((request) => {
    let removed = 0;
    for (const id of request.ids) {
      if (removedFor.get(id) !== request.userId) continue;
      removedFor.delete(id);
      removed++;
    }
    return { ok: true, value: removed };
  });
}
