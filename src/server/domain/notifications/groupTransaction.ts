/**
 * The insert-then-prune transaction, for a group of pushes (one or many):
 * lock every queue of the group in UID order, then one statement that
 * inserts the items in arrival order, prunes each queue to its newest
 * {@link QUEUE_CAPACITY}, stores the exact sizes, wakes the users' daemons (on
 * commit) and logs one ack per push. Four round trips with BEGIN and COMMIT,
 * however many pushes the group holds. Only a group with tagged items takes
 * one more: the delete of the pending items those tags replace. Retractions
 * (`POST /<appid>/retract`) share the group: consecutive ones run as one
 * delete, in arrival order with the pushes around them.
 *
 * A group of untagged pushes takes one round trip instead (pushGroup.ts);
 * this transaction answers the rest, and each push of a group that has one
 * to refuse. Both store through the same database function, store_items.
 */
import type pg from 'pg';
import { isStorageUnavailable } from '../../platform/db/client.ts';
import type { JobOutcome } from '../../platform/db/coalescer.ts';
import { prepared } from '../../platform/db/prepared.ts';
import { retractionPayloads, signalRetractionsSql, wakeUsersSql, type Retraction as RetractionSignal } from '../../platform/signals.ts';
import { AppError, Errno, type ItemError } from '../errors.ts';
import { QUEUE_CAPACITY } from '../../../shared/limits.ts';
import { lockQueues, type LockedQueue } from '../queues.ts';
import { uidPattern } from '../secrets.ts';
import type { Ack, RetractAck } from './ack.ts';
import { CLAIM_KEYS, IdempotencyKeyTaken, keyColumns, RECORD_ACKS, type IdempotentRequest } from './idempotency.ts';
import type { NotificationInput } from './validate.ts';
import type { StoredItem } from '../delivery/handoff.ts';

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

/** One (UID, tag) a retraction takes back. */
export interface RetractionInput {
  uid: string;
  tag: string;
}

/** One validated retraction to store. */
export interface Retraction {
  appId: string;
  retract: RetractionInput[];
  idempotency?: IdempotentRequest | null;
}

/** What a retraction deleted. */
export interface RetractOutcome {
  ack: RetractAck;
}

/** What one group transaction stores: pushes and retractions, in arrival order. */
export type GroupJob = Push | Retraction;

/** A job's answer: stored, its key taken by an earlier request, or its own refusal. */
export type PushResult = JobOutcome<PushOutcome | RetractOutcome | IdempotencyKeyTaken>;

/** The (UID-bearing) entries of a job: a push's items or a retraction's tags. */
export function jobTargets(job: GroupJob): readonly { uid: string }[] {
  return 'retract' in job ? job.retract : job.items;
}

/**
 * The statement after the lock: store_items (its migration,
 * prisma/migrations/20261202030000_push_group) inserts in arrival order,
 * prunes each queue to its newest {@link QUEUE_CAPACITY}, stores the exact
 * sizes and logs one ack per push (recording the acks of pushes with a key),
 * and this statement wakes the users' daemons on commit.
 *
 * $1 apps, $2 UIDs, $3 messages, $4 actions, $5 ttls (seconds or null), $6
 * tags (or null), aligned in arrival order; $7 the cap; $8 the ack log
 * entries ({@link PushRun}); $9 the users to wake, $10 the origin their
 * wake-ups carry (or null). Returns each queue's live items before the
 * statement, then the id of each item inserted (`before` null), all with
 * the statement's time.
 */
const STORE = prepared(
  'store',
  `
  WITH stored AS (
    SELECT * FROM store_items($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::int, $8::jsonb)
  ), woken AS (${wakeUsersSql('$9', '$10')})
  -- A SELECT in WITH runs only if it is read: counting woken sends its NOTIFYs.
  SELECT uid, before, id::text AS id, stored_at, (SELECT count(*) FROM woken) AS notified FROM stored`,
);

/**
 * $1 UIDs, $2 tags, aligned: deletes the items these tags replace (expired
 * ones too, which the unique (uid, tag) index would otherwise refuse), before
 * the insert, and takes the live ones off their queues' sizes (store_items
 * counts a queue by its size when none of its items can have expired).
 * Returns which were still live: those the new items replace.
 */
const REPLACE = prepared(
  'replace-tagged',
  `
  WITH deleted AS (
    DELETE FROM queue_items i USING unnest($1::text[], $2::text[]) AS t(uid, tag)
     WHERE i.uid = t.uid AND i.tag = t.tag
    RETURNING i.uid, i.tag, (i.expires_at IS NULL OR i.expires_at > now()) AS live
  ), resized AS (
    UPDATE queues q SET size = q.size - (SELECT count(*)::int FROM deleted d WHERE d.uid = q.uid AND d.live)
     WHERE q.uid = ANY (ARRAY(SELECT d.uid FROM deleted d WHERE d.live))
  )
  SELECT uid, tag, live FROM deleted`,
);

/**
 * $1 UIDs, $2 tags, aligned; $3 the distinct UIDs; $4 the retraction
 * signals' payloads (sent on commit). Deletes the tagged items, sets the
 * exact sizes, and returns each deleted item, then each queue's live items
 * before the statement (rows with a null tag).
 */
const RETRACT = prepared(
  'retract',
  `
  WITH deleted AS (
    DELETE FROM queue_items i USING unnest($1::text[], $2::text[]) AS t(uid, tag)
     WHERE i.uid = t.uid AND i.tag = t.tag
    RETURNING i.uid, i.tag, (i.expires_at IS NULL OR i.expires_at > now()) AS live
  ), counts AS (
    SELECT q.uid, (SELECT count(*)::int FROM queue_items i WHERE i.uid = q.uid AND (i.expires_at IS NULL OR i.expires_at > now())) AS before
      FROM unnest($3::text[]) AS q(uid)
  ), sized AS (
    UPDATE queues q SET size = c.before - (SELECT count(*)::int FROM deleted d WHERE d.uid = c.uid AND d.live) FROM counts c WHERE q.uid = c.uid
  ), signalled AS (${signalRetractionsSql('$4')})
  SELECT uid, tag, live, NULL::int AS before, NULL::bigint AS notified FROM deleted
  UNION ALL
  -- Reading signalled sends its NOTIFYs (every retraction has a queue).
  SELECT uid, NULL, NULL, before, (SELECT count(*) FROM signalled) FROM counts`,
);

/** $1 the ack log entries of retractions as JSON [{app_id, item_count, uids, tags, queue_size}], in order. */
const LOG_RETRACTIONS = prepared(
  'log-retractions',
  `
  INSERT INTO ack_log (app_id, kind, result, item_count, uids, tags, queue_size)
  SELECT e.app_id, 'retract', 'OK', e.item_count, ARRAY(SELECT jsonb_array_elements_text(e.uids)), ARRAY(SELECT jsonb_array_elements_text(e.tags)), e.queue_size
    FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (app_id text, item_count int, uids jsonb, tags jsonb, queue_size int))
         WITH ORDINALITY AS e(app_id, item_count, uids, tags, queue_size, n)
   ORDER BY e.n`,
);

export interface StoreOptions {
  /** A savepoint per job, so that a failing one is refused alone. */
  isolate?: boolean;
  /** With the wake-up bus: the users to wake are added here, for the caller to publish after COMMIT, instead of a NOTIFY. */
  wakeLater?: Set<string>;
  /**
   * For the handoff (domain/delivery/handoff.ts): what each store statement
   * inserted is added here, for the caller to hand to this node's daemons
   * after COMMIT ({@link handedItems}), and the wake-ups carry `origin`.
   */
  handoff?: { origin: string; stored: StoredRun[] };
}

/**
 * Runs the group transaction on `client` inside BEGIN (the caller commits)
 * and answers each job in order. With `isolate`, each job runs in a
 * savepoint of its own, so a failing one is refused alone. Exported for the
 * benchmark's ceiling, which runs it with one push per transaction.
 */
export async function storeGroup(client: pg.ClientBase, pushes: readonly GroupJob[], options: StoreOptions = {}): Promise<PushResult[]> {
  const locked = await lockQueues(
    client,
    pushes.flatMap((p) => jobTargets(p).flatMap((i) => (uidPattern.test(i.uid) ? [i.uid] : []))),
  );
  const results: (PushResult | null)[] = pushes.map((push) => refuseUnknownUids(push, locked));
  const accepted = pushes.flatMap((push, i) => (results[i] === null ? [i] : []));
  if (!options.isolate) {
    if (accepted.length > 0) await storeTogether(client, accepted, pushes, locked, results, options);
    return results as PushResult[];
  }
  for (const i of accepted) {
    await client.query('SAVEPOINT push');
    try {
      await storeTogether(client, [i], pushes, locked, results, options);
      await client.query('RELEASE SAVEPOINT push');
    } catch (error) {
      if (isStorageUnavailable(error)) throw error;
      await client.query('ROLLBACK TO SAVEPOINT push');
      // A push's store is its last statement: one rolled back here never reached the handoff.
      results[i] = { ok: false, error };
    }
  }
  return results as PushResult[];
}

/** 105 for every item whose UID is not a locked queue of the job's app; null when all are. */
function refuseUnknownUids(push: GroupJob, locked: ReadonlyMap<string, LockedQueue>): PushResult | null {
  const unknown: ItemError[] = [];
  jobTargets(push).forEach((item, index) => {
    if (locked.get(item.uid)?.appId !== push.appId) unknown.push({ index, field: 'UID', errno: Errno.UnknownUid, error: 'unknown UID' });
  });
  return unknown.length > 0 ? { ok: false, error: AppError.forItems(unknown) } : null;
}

/**
 * Claims the idempotency keys of the jobs at `indexes` (a job whose key is
 * taken stores nothing), stores the others, each run of pushes with one
 * {@link STORE} and each run of retractions with one {@link RETRACT},
 * in arrival order, and sets their results.
 */
async function storeTogether(
  client: pg.ClientBase,
  indexes: readonly number[],
  pushes: readonly GroupJob[],
  locked: ReadonlyMap<string, LockedQueue>,
  results: (PushResult | null)[],
  options: StoreOptions,
): Promise<void> {
  const claimed = await claimKeys(
    client,
    indexes.map((i) => pushes[i] as GroupJob),
  );
  const storing = indexes.filter((i) => {
    const push = pushes[i] as GroupJob;
    if (!push.idempotency || claimed.has(keyOf(push.appId, push.idempotency.key))) return true;
    results[i] = { ok: true, value: new IdempotencyKeyTaken() };
    return false;
  });
  if (storing.length === 0) return;

  // A push's ack is recorded for replay by the statement that stores it; a retraction's here.
  const replays: { app_id: string; key: string; response: RetractAck }[] = [];
  for (let start = 0; start < storing.length;) {
    const retracting = 'retract' in (pushes[storing[start] as number] as GroupJob);
    let end = start + 1;
    while (end < storing.length && 'retract' in (pushes[storing[end] as number] as GroupJob) === retracting) end++;
    const run = storing.slice(start, end);
    const outcomes = retracting
      ? await storeRetractions(
          client,
          run.map((i) => pushes[i] as Retraction),
          locked,
        )
      : await storePushes(
          client,
          run.map((i) => pushes[i] as Push),
          locked,
          options,
        );
    run.forEach((i, g) => {
      const push = pushes[i] as GroupJob;
      const outcome = outcomes[g] as PushOutcome | RetractOutcome;
      results[i] = { ok: true, value: outcome };
      if (push.idempotency && retracting) replays.push({ app_id: push.appId, key: push.idempotency.key, response: outcome.ack as RetractAck });
    });
    start = end;
  }
  if (replays.length > 0) await client.query({ ...RECORD_ACKS, values: [JSON.stringify(replays)] });
}

/** Stores a run of pushes with one statement (two when some items are tagged); their outcomes in order. */
async function storePushes(
  client: pg.ClientBase,
  group: readonly Push[],
  locked: ReadonlyMap<string, LockedQueue>,
  { wakeLater, handoff }: StoreOptions,
): Promise<PushOutcome[]> {
  const tagged = group.some((push) => push.items.some((item) => item.tag !== undefined));
  // The tags' pending items, deleted before the insert: only groups with tags pay for it.
  let replaced: readonly ReplacedItem[] = [];
  if (tagged) {
    const tags = laterTagWins(group.flatMap((push) => push.items)).flatMap((i) => (i.tag === undefined ? [] : [i]));
    ({ rows: replaced } = await client.query<ReplacedItem>({
      ...REPLACE,
      values: [tags.map((i) => i.uid), tags.map((i) => i.tag)],
    }));
  }
  const run = new PushRun(group, replaced);
  const users = [...new Set(run.uids.map((uid) => (locked.get(uid) as LockedQueue).userId))];
  for (const user of wakeLater ? users : []) wakeLater?.add(user);
  const { rows } = await client.query<StoreRow>({
    ...STORE,
    values: [...run.columns(), run.tags(), QUEUE_CAPACITY, run.entries(), wakeLater ? [] : users, handoff?.origin ?? null],
  });
  handoff?.stored.push({ items: run.items, rows, locked });
  return run.outcomes(rows);
}

/** A pending item a tagged push replaced, and whether it was still live. */
interface ReplacedItem {
  uid: string;
  tag: string;
  live: boolean;
}

/**
 * A run of pushes as one store statement takes it, and their answers from
 * what it returns. Both ways of storing use it: the group transaction
 * (storePushes) and the one round trip of pushGroup.ts.
 */
export class PushRun {
  /** The items to insert, in arrival order: a tag's latest only, and no more than the cap for one queue. */
  readonly items: readonly (NotificationInput & { appId: string })[];
  /** The queues the run stores in. */
  readonly uids: readonly string[];

  constructor(
    private readonly group: readonly Push[],
    private readonly replaced: readonly ReplacedItem[] = [],
  ) {
    this.items = newestPerQueue(laterTagWins(group.flatMap((push) => push.items.map((item) => ({ appId: push.appId, ...item })))));
    this.uids = [...new Set(this.items.map((i) => i.uid))];
  }

  /** One ack log entry per push, as JSON (store_items' `entries`); made on demand, since push_one takes none. */
  entries(): string {
    const growth = new QueueSizes([], this.replaced);
    const tagged = this.items.some((item) => item.tag !== undefined);
    return JSON.stringify(
      this.group.map((push) => {
        for (const item of push.items) growth.add(item);
        const uids = [...new Set(push.items.map((i) => i.uid))];
        return {
          app_id: push.appId,
          item_count: push.items.length,
          uids: [...uids].sort(),
          // Absent on untagged pushes: the statement reads a missing array as empty.
          tags: tagged ? distinctTags(push.items) : undefined,
          last_uid: (push.items[push.items.length - 1] as NotificationInput).uid,
          upto: Object.fromEntries(uids.map((uid) => [uid, growth.of(uid)])),
          key: push.idempotency?.key ?? null,
        };
      }),
    );
  }

  /** The items' columns as store_items takes them: apps, UIDs, messages, actions, ttls. */
  columns(): unknown[][] {
    const { items } = this;
    return [items.map((i) => i.appId), items.map((i) => i.uid), items.map((i) => i.message), items.map((i) => i.action), items.map((i) => i.ttl ?? null)];
  }

  /** The items' tags (null for an untagged item), or null when none is tagged. */
  tags(): (string | null)[] | null {
    return this.items.some((item) => item.tag !== undefined) ? this.items.map((i) => i.tag ?? null) : null;
  }

  /** Each push's outcome, as if the run's pushes had committed one by one. */
  outcomes(rows: readonly StoreRow[]): PushOutcome[] {
    const queues = rows.filter((row): row is StoreRow & { before: number } => row.before !== null);
    const sizes = new QueueSizes(queues, this.replaced);
    return this.group.map((push) => sizes.apply(push));
  }
}

/** A row of store_items: a queue's size before, or an item inserted (`before` null); each with the statement's time. */
export interface StoreRow {
  uid: string;
  before: number | null;
  id: string | null;
  stored_at: Date | null;
}

/** What one store statement inserted, kept as it came until COMMIT: the handoff makes items of it then, for the users held on this node only. */
export interface StoredRun {
  items: readonly (NotificationInput & { appId: string })[];
  rows: readonly StoreRow[];
  locked: ReadonlyMap<string, LockedQueue>;
}

/** The users whose queues a run stored items in. */
export function storedUsers({ items, locked }: StoredRun): string[] {
  return items.map((item) => (locked.get(item.uid) as LockedQueue).userId);
}

/**
 * The items a run inserted for users that `holds` says are held here, as
 * daemons receive them. A queue's ids rise in the order its items were
 * inserted (the FIFO order the cap relies on), so each item takes the next
 * id of its queue; a queue is one user's, so a queue is handed whole or not at all.
 */
export function handedItems({ items, rows, locked }: StoredRun, holds: (userId: string) => boolean): StoredItem[] {
  const held = items.filter((item) => holds((locked.get(item.uid) as LockedQueue).userId));
  if (held.length === 0) return [];
  const idsByQueue = new Map<string, bigint[]>();
  let storedAt = new Date();
  for (const row of rows) {
    if (row.stored_at) storedAt = row.stored_at;
    if (row.id === null) continue;
    const ids = idsByQueue.get(row.uid);
    if (ids) ids.push(BigInt(row.id));
    else idsByQueue.set(row.uid, [BigInt(row.id)]);
  }
  for (const ids of idsByQueue.values()) ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const createdAt = storedAt.toISOString();
  return held.map((item) => {
    const queue = locked.get(item.uid) as LockedQueue;
    const id = (idsByQueue.get(item.uid) as bigint[]).shift() as bigint;
    return {
      userId: queue.userId,
      item: {
        id: id.toString(),
        appid: item.appId,
        appName: queue.appName,
        message: item.message,
        action: item.action,
        createdAt,
        ...(item.ttl === undefined ? {} : { expiresAt: new Date(storedAt.getTime() + item.ttl * 1000).toISOString() }),
        ...(item.tag === undefined ? {} : { tag: item.tag }),
      },
    };
  });
}

/**
 * Stores a run of retractions with one statement and logs them; each one's
 * outcome as if they had committed one by one: an item counts for the first
 * retraction that names it.
 */
async function storeRetractions(client: pg.ClientBase, group: readonly Retraction[], locked: ReadonlyMap<string, LockedQueue>): Promise<RetractOutcome[]> {
  const pairs = group.flatMap((r) => r.retract.map((t) => ({ appId: r.appId, ...t })));
  const uids = [...new Set(pairs.map((p) => p.uid))];
  // Every named tag is signalled, pending or not: devices still show delivered items.
  const byUser = new Map<string, { tags: Map<string, { appid: string; tag: string }> }>();
  for (const { appId, uid, tag } of pairs) {
    const userId = (locked.get(uid) as LockedQueue).userId;
    const signal = byUser.get(userId) ?? byUser.set(userId, { tags: new Map() }).get(userId);
    signal?.tags.set(`${appId}\n${tag}`, { appid: appId, tag });
  }
  const signals: RetractionSignal[] = [...byUser].map(([userId, { tags }]) => ({ userId, tags: [...tags.values()] }));
  const { rows } = await client.query<{ uid: string; tag: string | null; live: boolean | null; before: number | null }>({
    ...RETRACT,
    values: [pairs.map((p) => p.uid), pairs.map((p) => p.tag), uids, retractionPayloads(signals)],
  });
  const size = new Map<string, number>();
  const deleted = new Map<string, boolean>();
  for (const row of rows) {
    if (row.tag === null) size.set(row.uid, row.before ?? 0);
    else deleted.set(`${row.uid}\n${row.tag}`, row.live === true);
  }
  const outcomes = group.map((r) => {
    let retracted = 0;
    for (const { uid, tag } of r.retract) {
      const key = `${uid}\n${tag}`;
      const live = deleted.get(key);
      if (live === undefined) continue;
      deleted.delete(key);
      if (!live) continue;
      retracted++;
      size.set(uid, (size.get(uid) ?? 1) - 1);
    }
    const queueSizes = Object.fromEntries(r.retract.map(({ uid }) => [uid, size.get(uid) ?? 0]));
    return { ack: { result: 'OK' as const, retracted, queue_sizes: queueSizes } };
  });
  const entries = group.map((r, g) => ({
    app_id: r.appId,
    item_count: r.retract.length,
    uids: [...new Set(r.retract.map((t) => t.uid))].sort(),
    tags: distinctTags(r.retract),
    queue_size: outcomes[g]?.ack.queue_sizes[(r.retract[r.retract.length - 1] as RetractionInput).uid] ?? 0,
  }));
  await client.query({ ...LOG_RETRACTIONS, values: [JSON.stringify(entries)] });
  return outcomes;
}

function distinctTags(items: readonly { tag?: string }[]): string[] {
  return [...new Set(items.flatMap((i) => (i.tag === undefined ? [] : [i.tag])))].sort();
}

function keyOf(appId: string, key: string): string {
  return `${appId}\n${key}`;
}

/** Claims the keys of the keyed jobs in one statement; returns those claimed. */
async function claimKeys(client: pg.ClientBase, pushes: readonly GroupJob[]): Promise<Set<string>> {
  const keys = keyColumns(pushes);
  if (keys[0].length === 0) return new Set();
  const { rows } = await client.query<{ app_id: string; key: string }>({ ...CLAIM_KEYS, values: keys });
  return new Set(rows.map((r) => keyOf(r.app_id, r.key)));
}

/** Leaves out every tagged item that a later item of the same queue and tag replaces (in the group, the later wins). */
function laterTagWins<T extends { uid: string; tag?: string }>(items: T[]): T[] {
  const last = new Map<string, number>();
  items.forEach((item, n) => {
    if (item.tag !== undefined) last.set(`${item.uid}\n${item.tag}`, n);
  });
  return items.filter((item, n) => item.tag === undefined || last.get(`${item.uid}\n${item.tag}`) === n);
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
 * arrival order: a queue's size after a push is its size before the group
 * plus what the group added up to that push, capped. An item whose tag is
 * pending replaces it and adds nothing. `before` is read after the replaced
 * items were deleted: each live one counts back in, its tag pending.
 */
class QueueSizes {
  private readonly size = new Map<string, number>();
  /** The pending tags of each queue; empty unless the group has tags. */
  private readonly tags = new Map<string, Set<string>>();

  constructor(before: readonly { uid: string; before: number }[], replaced: readonly { uid: string; tag: string; live: boolean }[]) {
    for (const row of before) this.size.set(row.uid, row.before);
    for (const { uid, tag, live } of replaced) {
      if (!live) continue;
      this.size.set(uid, (this.size.get(uid) ?? 0) + 1);
      const tags = this.tags.get(uid) ?? this.tags.set(uid, new Set()).get(uid);
      tags?.add(tag);
    }
  }

  /** The queue's size so far, uncapped (without `before`, how much the group grew it). */
  of(uid: string): number {
    return this.size.get(uid) ?? 0;
  }

  /** Adds one item; false when it replaced a pending one of its tag. */
  add(item: { uid: string; tag?: string }, cap = Infinity): boolean {
    if (item.tag !== undefined) {
      const tags = this.tags.get(item.uid) ?? this.tags.set(item.uid, new Set()).get(item.uid);
      if (tags?.has(item.tag)) return false;
      tags?.add(item.tag);
    }
    this.size.set(item.uid, Math.min(cap, this.of(item.uid) + 1));
    return true;
  }

  apply(push: Push): PushOutcome {
    let droppedByCap = 0;
    for (const item of push.items) {
      const full = this.of(item.uid) >= QUEUE_CAPACITY;
      if (this.add(item, QUEUE_CAPACITY) && full) droppedByCap++;
    }
    const queueSizes = Object.fromEntries(push.items.map((item) => [item.uid, this.of(item.uid)]));
    const lastUid = (push.items[push.items.length - 1] as NotificationInput).uid;
    return { ack: { result: 'OK', queue_size: queueSizes[lastUid] ?? 0, queue_sizes: queueSizes }, stored: push.items.length, droppedByCap };
  }
}
