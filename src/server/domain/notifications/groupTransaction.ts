/**
 * The insert-then-prune transaction, for a group of pushes (one or many):
 * lock every queue of the group in UID order, then one statement that
 * inserts the items in arrival order, prunes each queue to its newest
 * {@link QUEUE_CAPACITY}, stores the exact sizes, wakes the users' daemons (on
 * commit) and logs one ack per push. Four round trips with BEGIN and COMMIT,
 * however many pushes the group holds.
 */
import type pg from 'pg';
import { isStorageUnavailable } from '../../platform/db/client.ts';
import type { JobOutcome } from '../../platform/db/coalescer.ts';
import { wakeUsersSql } from '../../platform/signals.ts';
import { AppError, Errno, type ItemError } from '../errors.ts';
import { QUEUE_CAPACITY } from '../../../shared/limits.ts';
import { lockQueues, type LockedQueue } from '../queues.ts';
import { uidPattern } from '../secrets.ts';
import type { Ack } from './ack.ts';
import { CLAIM_KEYS_SQL, IdempotencyKeyTaken, RECORD_ACKS_SQL, type IdempotentRequest } from './idempotency.ts';
import type { NotificationInput } from './validate.ts';

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

/** A push's answer: stored, its key taken by an earlier request, or its own refusal. */
export type PushResult = JobOutcome<PushOutcome | IdempotencyKeyTaken>;

/**
 * The statement after the lock. Every part reads the snapshot taken before
 * the insert, so "existing" is what the queues held before this statement:
 * each queue keeps its newest (cap − k) existing items when k items arrive
 * (the caller never sends more than the cap for one queue).
 *
 * $1 apps, $2 UIDs, $3 messages, $4 actions, $5 ttls (seconds or null),
 * aligned in arrival order; $6 the cap; $7 the users to wake; $8 the ack log
 * entries as JSON [{app_id, item_count, uids, last_uid, upto}], where `upto`
 * counts the items for `last_uid` up to and including that push. Returns
 * each queue's live items before the statement.
 */
const STORE_SQL = `
  WITH batch AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[]) WITH ORDINALITY AS t(app_id, uid, message, action, ttl, n)
  ), inserted AS (
    INSERT INTO queue_items (uid, app_id, message, action, expires_at)
    SELECT uid, app_id, message, action, CASE WHEN ttl IS NULL THEN NULL ELSE now() + make_interval(secs => ttl) END
      FROM batch ORDER BY n
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
    INSERT INTO ack_log (app_id, result, item_count, uids, queue_size)
    SELECT e.app_id, 'OK', e.item_count, ARRAY(SELECT jsonb_array_elements_text(e.uids)), LEAST($6, coalesce(c.before, 0) + e.upto)
      FROM ROWS FROM (jsonb_to_recordset($8::jsonb) AS (app_id text, item_count int, uids jsonb, last_uid text, upto int))
           WITH ORDINALITY AS e(app_id, item_count, uids, last_uid, upto, n)
      LEFT JOIN counts c ON c.uid = e.last_uid
     ORDER BY e.n
  ), woken AS (${wakeUsersSql('$7')})
  -- A SELECT in WITH runs only if it is read: counting woken sends its NOTIFYs.
  SELECT uid, before, (SELECT count(*) FROM woken) AS notified FROM counts`;

/**
 * Runs the group transaction on `client` inside BEGIN (the caller commits)
 * and answers each push in order. With `isolate`, each push runs in a
 * savepoint of its own, so a failing one is refused alone. Exported for the
 * benchmark's ceiling, which runs it with one push per transaction.
 */
export async function storeGroup(client: pg.ClientBase, pushes: readonly Push[], options: { isolate?: boolean } = {}): Promise<PushResult[]> {
  const locked = await lockQueues(
    client,
    pushes.flatMap((p) => p.items.map((i) => i.uid).filter((uid) => uidPattern.test(uid))),
  );
  const results: (PushResult | null)[] = pushes.map((push) => refuseUnknownUids(push, locked));
  const accepted = pushes.flatMap((push, i) => (results[i] === null ? [i] : []));
  if (!options.isolate) {
    if (accepted.length > 0) await storeTogether(client, accepted, pushes, locked, results);
    return results as PushResult[];
  }
  for (const i of accepted) {
    await client.query('SAVEPOINT push');
    try {
      await storeTogether(client, [i], pushes, locked, results);
      await client.query('RELEASE SAVEPOINT push');
    } catch (error) {
      if (isStorageUnavailable(error)) throw error;
      await client.query('ROLLBACK TO SAVEPOINT push');
      results[i] = { ok: false, error };
    }
  }
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
 * Claims the idempotency keys of the pushes at `indexes` (a push whose key is
 * taken stores nothing), stores the others with one {@link STORE_SQL}, and
 * sets their results.
 */
async function storeTogether(
  client: pg.ClientBase,
  indexes: readonly number[],
  pushes: readonly Push[],
  locked: ReadonlyMap<string, LockedQueue>,
  results: (PushResult | null)[],
): Promise<void> {
  const claimed = await claimKeys(
    client,
    indexes.map((i) => pushes[i] as Push),
  );
  const storing = indexes.filter((i) => {
    const push = pushes[i] as Push;
    if (!push.idempotency || claimed.has(keyOf(push.appId, push.idempotency.key))) return true;
    results[i] = { ok: true, value: new IdempotencyKeyTaken() };
    return false;
  });
  if (storing.length === 0) return;

  const group = storing.map((i) => pushes[i] as Push);
  const items = newestPerQueue(group.flatMap((push) => push.items.map((item) => ({ appId: push.appId, ...item }))));
  const uids = [...new Set(items.map((i) => i.uid))];
  const upto = new Map<string, number>();
  const entries = group.map((push) => {
    for (const item of push.items) upto.set(item.uid, (upto.get(item.uid) ?? 0) + 1);
    const lastUid = (push.items[push.items.length - 1] as NotificationInput).uid;
    return {
      app_id: push.appId,
      item_count: push.items.length,
      uids: [...new Set(push.items.map((i) => i.uid))].sort(),
      last_uid: lastUid,
      upto: upto.get(lastUid),
    };
  });
  const { rows } = await client.query<{ uid: string; before: number }>(STORE_SQL, [
    items.map((i) => i.appId),
    items.map((i) => i.uid),
    items.map((i) => i.message),
    items.map((i) => i.action),
    items.map((i) => i.ttl ?? null),
    QUEUE_CAPACITY,
    [...new Set(uids.map((uid) => (locked.get(uid) as LockedQueue).userId))],
    JSON.stringify(entries),
  ]);

  const sizes = new QueueSizes(rows);
  const replays: { app_id: string; key: string; response: Ack }[] = [];
  storing.forEach((i, g) => {
    const push = group[g] as Push;
    const outcome = sizes.apply(push);
    results[i] = { ok: true, value: outcome };
    if (push.idempotency) replays.push({ app_id: push.appId, key: push.idempotency.key, response: outcome.ack });
  });
  if (replays.length > 0) await client.query(RECORD_ACKS_SQL, [JSON.stringify(replays)]);
}

function keyOf(appId: string, key: string): string {
  return `${appId}\n${key}`;
}

/** Claims the keys of the keyed pushes in one statement; returns those claimed. */
async function claimKeys(client: pg.ClientBase, pushes: readonly Push[]): Promise<Set<string>> {
  const keyed = pushes.flatMap((p) => (p.idempotency ? [{ appId: p.appId, ...p.idempotency }] : []));
  if (keyed.length === 0) return new Set();
  const { rows } = await client.query<{ app_id: string; key: string }>(CLAIM_KEYS_SQL, [
    keyed.map((k) => k.appId),
    keyed.map((k) => k.key),
    keyed.map((k) => k.bodyDigest.toString('hex')),
  ]);
  return new Set(rows.map((r) => keyOf(r.app_id, r.key)));
}

/** Leaves out the items the cap would drop at once: more than QUEUE_CAPACITY arriving for one queue keeps the newest. */
function newestPerQueue<T extends { uid: string }>(items: T[]): T[] {
  const perQueue = new Map<string, number>();
  for (const item of items) perQueue.set(item.uid, (perQueue.get(item.uid) ?? 0) + 1);
  if ([...perQueue.values()].every((n) => n <= QUEUE_CAPACITY)) return items;
  const skip = new Map([...perQueue].map(([uid, n]) => [uid, Math.max(0, n - QUEUE_CAPACITY)]));
  return items.filter((item) => {
    const left = skip.get(item.uid) ?? 0;
    if (left === 0) return true;
    skip.set(item.uid, left - 1);
    return false;
  });
}

/**
 * Each push's ack as if the group's pushes had committed one by one in
 * arrival order: a queue's size after a push is its size before the
 * statement plus what the group added up to that push, capped.
 */
class QueueSizes {
  private readonly size: Map<string, number>;

  constructor(before: readonly { uid: string; before: number }[]) {
    this.size = new Map(before.map((row) => [row.uid, row.before]));
  }

  apply(push: Push): PushOutcome {
    let droppedByCap = 0;
    for (const item of push.items) {
      const size = this.size.get(item.uid) ?? 0;
      if (size >= QUEUE_CAPACITY) droppedByCap++;
      this.size.set(item.uid, Math.min(QUEUE_CAPACITY, size + 1));
    }
    const queueSizes = Object.fromEntries(push.items.map((item) => [item.uid, this.size.get(item.uid) as number]));
    const lastUid = (push.items[push.items.length - 1] as NotificationInput).uid;
    return { ack: { result: 'OK', queue_size: queueSizes[lastUid] ?? 0, queue_sizes: queueSizes }, stored: push.items.length, droppedByCap };
  }
}
