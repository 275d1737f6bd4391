/**
 * Storing notifications: the one entry point, `pushNotifications`.
 *
 * Concurrent pushes share a transaction (group commit, see platform/db/coalescer.ts
 * and groupTransaction.ts): one lock of all their queues in UID order, one
 * statement that inserts in arrival order, prunes, wakes and logs, one
 * commit; each push is answered only after that commit. When a statement
 * fails, the group is run again with a savepoint per push, so one bad request
 * never fails its neighbours.
 */
import { inTransaction, isStorageUnavailable, perDatabase, type Database } from '../../platform/db/client.ts';
import { Coalescer } from '../../platform/db/coalescer.ts';
import { AppError, Errno } from '../errors.ts';
import { storeGroup, type Push, type PushOutcome } from './groupTransaction.ts';
import { IdempotencyKeyTaken, priorAck, type IdempotentRequest } from './idempotency.ts';
import type { NotificationInput } from './validate.ts';

export type { Ack } from './ack.ts';
export type { PushOutcome } from './groupTransaction.ts';

export interface PushOptions {
  /** Longest the transaction holding this push may run, in ms. */
  timeoutMs?: number;
  idempotency?: IdempotentRequest | null;
}

/** The most notifications one group transaction takes (a single larger request goes alone). */
const GROUP_MAX_ITEMS = 2_000;
const DEFAULT_TIMEOUT_MS = 10_000;

interface GroupJob extends Push {
  timeoutMs: number;
}

const committerOf = perDatabase(
  (db) =>
    new Coalescer<GroupJob, PushOutcome | IdempotencyKeyTaken>(
      async (jobs) => {
        const timeoutMs = Math.min(...jobs.map((j) => j.timeoutMs));
        try {
          return await inTransaction(db.pool, (client) => storeGroup(client, jobs), { timeoutMs });
        } catch (error) {
          // One push's statement failed the group: run it again with a savepoint per push.
          if (jobs.length === 1 || isStorageUnavailable(error)) throw error;
          return inTransaction(db.pool, (client) => storeGroup(client, jobs, { isolate: true }), { timeoutMs });
        }
      },
      {
        maxWeight: GROUP_MAX_ITEMS,
        weight: (job) => job.items.length,
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
  if (!(stored instanceof IdempotencyKeyTaken)) return stored;
  // A retry with the same key committed first: answer as it was answered.
  const replay = idempotency ? await priorAck(db, appId, idempotency) : null;
  if (!replay) throw new AppError(Errno.StorageUnavailable, 'a request with this Idempotency-Key is still in progress; retry later');
  return { ack: replay, stored: 0, droppedByCap: 0 };
}
