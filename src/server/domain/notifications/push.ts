/**
 * Storing notifications: the one entry point, `pushNotifications`.
 *
 * Concurrent pushes share a transaction (group commit, see platform/db/coalescer.ts):
 * one lock of all their queues in UID order, one store that inserts in
 * arrival order, prunes, wakes and logs, one commit; each push is answered
 * only after that commit. A group of untagged pushes is all of that in one
 * round trip (pushGroup.ts); the others, and a group that has a push to
 * refuse, take the group transaction (groupTransaction.ts). When a statement
 * fails, the group is run again with a savepoint per push, so one bad request
 * never fails its neighbours.
 */
import type pg from 'pg';
import { inTransaction, isStorageUnavailable, perDatabase, type Database } from '../../platform/db/client.ts';
import { busOf } from '../../platform/bus.ts';
import { localDeliveryOf } from '../delivery/handoff.ts';
import { Coalescer } from '../../platform/db/coalescer.ts';
import { AppError, Errno } from '../errors.ts';
import {
  handedItems,
  jobTargets,
  storedUsers,
  storeGroup,
  type GroupJob,
  type PushOutcome,
  type RetractionInput,
  type RetractOutcome,
  type StoredRun,
} from './groupTransaction.ts';
import { IdempotencyKeyTaken, priorAck, type IdempotentRequest } from './idempotency.ts';
import { isLeftToTheTransaction, isPlainPushGroup, pushGroup } from './pushGroup.ts';
import type { Ack, RetractAck } from './ack.ts';
import type { NotificationInput } from './validate.ts';

export type { Ack } from './ack.ts';
export type { PushOutcome, RetractOutcome } from './groupTransaction.ts';

export interface PushOptions {
  /** Longest the transaction holding this push may run, in ms. */
  timeoutMs?: number;
  idempotency?: IdempotentRequest | null;
}

/** The most notifications one group transaction takes (a single larger request goes alone). */
const GROUP_MAX_ITEMS = 2_000;
const DEFAULT_TIMEOUT_MS = 10_000;

type Job = GroupJob & { timeoutMs: number };

/**
 * Stores a group: in one round trip when push_group can take it
 * (pushGroup.ts), else in the group transaction. Once COMMIT has returned,
 * the items go to this node's daemons (the handoff); with the wake-up bus,
 * the users to wake are published then too (without it, the statement's own
 * NOTIFY is delivered on commit). The answers do not wait for the bus.
 */
async function commitGroup(db: Database, jobs: readonly Job[], options: { timeoutMs: number; isolate?: boolean }) {
  const bus = busOf(db);
  const local = localDeliveryOf(db);
  const afterCommit = (stored: readonly StoredRun[], users: Iterable<string>) => {
    if (local) local.hand(stored.flatMap((run) => handedItems(run, local.holds)));
    if (!bus) return;
    const woken = [...users];
    if (woken.length > 0) void bus.wake(woken, local?.origin ?? null).catch(() => undefined);
  };
  if (!options.isolate && isPlainPushGroup(jobs)) {
    try {
      const pushed = await pushGroup(db.pool, jobs, { timeoutMs: options.timeoutMs, notify: !bus, origin: local?.origin ?? null });
      afterCommit([pushed.run], pushed.users);
      return pushed.results;
    } catch (error) {
      // The commit may have happened, its wake-up telling this node not to read, for users it cannot name: all read.
      if (local && isStorageUnavailable(error)) local.ringAll();
      if (!isLeftToTheTransaction(error)) throw error;
    }
  }

  const wakeLater = bus ? new Set<string>() : undefined;
  const stored: StoredRun[] = [];
  const store = (client: pg.PoolClient) =>
    storeGroup(client, jobs, {
      isolate: options.isolate ?? false,
      ...(wakeLater ? { wakeLater } : {}),
      ...(local ? { handoff: { origin: local.origin, stored } } : {}),
    });
  let results;
  try {
    results = await inTransaction(db.pool, store, { timeoutMs: options.timeoutMs });
  } catch (error) {
    // The commit may have happened, and its wake-up told this node it need not read: read.
    if (local && stored.length > 0) local.ring(new Set(stored.flatMap(storedUsers)));
    throw error;
  }
  afterCommit(stored, wakeLater ?? []);
  return results;
}

const committerOf = perDatabase(
  (db) =>
    new Coalescer<Job, PushOutcome | RetractOutcome | IdempotencyKeyTaken>(
      async (jobs) => {
        const timeoutMs = Math.min(...jobs.map((j) => j.timeoutMs));
        try {
          return await commitGroup(db, jobs, { timeoutMs });
        } catch (error) {
          // One push's statement failed the group: run it again with a savepoint per push.
          if (jobs.length === 1 || isStorageUnavailable(error)) throw error;
          return commitGroup(db, jobs, { timeoutMs, isolate: true });
        }
      },
      {
        maxWeight: GROUP_MAX_ITEMS,
        weight: (job) => jobTargets(job).length,
        // Two claims of one key in one statement would collide; the second waits for the first's answer.
        exclusiveKey: (job) => (job.idempotency ? `${job.appId}\n${job.idempotency.key}` : null),
      },
    ),
);

/**
 * Stores a validated batch for `appId`, all or nothing: locks the affected
 * queues, refuses the batch (105) if any UID is not one of this app's, inserts
 * the items in batch order, drops expired items and everything beyond the
 * newest {@link QUEUE_CAPACITY} of each queue, updates the sizes and logs the ack.
 * Resolves only after the commit of the group transaction that holds it.
 */
export async function pushNotifications(db: Database, appId: string, items: NotificationInput[], options: PushOptions = {}): Promise<PushOutcome> {
  const { idempotency = null } = options;
  const stored = await committerOf(db).submit({ appId, items, idempotency, timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS });
  if (!(stored instanceof IdempotencyKeyTaken)) return stored as PushOutcome;
  return { ack: (await replayOf(db, appId, idempotency)) as Ack, stored: 0, droppedByCap: 0 };
}

/**
 * Deletes the pending items of `appId` with these (UID, tag) pairs and tells
 * the users' connected devices on every node, on commit (a tag that is not
 * pending is no error). All or nothing, 105 for a UID not of this app; shares
 * the group transaction with pushes, in arrival order.
 */
export async function retractTags(db: Database, appId: string, retract: RetractionInput[], options: PushOptions = {}): Promise<RetractOutcome> {
  const { idempotency = null } = options;
  const stored = await committerOf(db).submit({ appId, retract, idempotency, timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS });
  if (!(stored instanceof IdempotencyKeyTaken)) return stored as RetractOutcome;
  return { ack: (await replayOf(db, appId, idempotency)) as RetractAck };
}

/** A retry with the same key committed first: the answer it was given. */
async function replayOf(db: Database, appId: string, idempotency: IdempotentRequest | null) {
  const replay = idempotency ? await priorAck(db, appId, idempotency) : null;
  if (!replay) throw new AppError(Errno.StorageUnavailable, 'a request with this Idempotency-Key is still in progress; retry later');
  return replay;
}
