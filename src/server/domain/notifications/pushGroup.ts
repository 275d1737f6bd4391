/**
 * A group of untagged pushes in one round trip instead of four: push_group
 * (its migration, prisma/migrations/20261202030000_push_group) locks the
 * queues in UID order, checks that each UID is a queue of its push's app,
 * claims the keys and stores, and, called on its own, is its own
 * transaction. The push group's round trips were most of a delivery's
 * statements (docs/benchmarks.md). A lone item, what a trickle of single
 * POSTs groups into, takes push_one instead: the same answers from plain
 * statements, at about half push_group's CPU.
 *
 * What it does not answer alone, it leaves to the group transaction
 * (groupTransaction.ts), which answers each push alone: a UID that is not
 * its app's (105), a key an earlier request holds, a tagged item (its
 * pending item is replaced first) and retractions.
 */
import type pg from 'pg';
import { queryWithin } from '../../platform/db/client.ts';
import { prepared, type PreparedStatement } from '../../platform/db/prepared.ts';
import { wakeUsersSql } from '../../platform/signals.ts';
import { QUEUE_CAPACITY } from '../../../shared/limits.ts';
import type { LockedQueue } from '../queues.ts';
import { uidPattern } from '../secrets.ts';
import { PushRun, type GroupJob, type Push, type PushResult, type StoreRow, type StoredRun } from './groupTransaction.ts';
import { IDEMPOTENCY_WINDOW_HOURS, keyColumns } from './idempotency.ts';
import type { NotificationInput } from './validate.ts';

/**
 * A statement that calls `call` (push_group or push_one, whose rows are the
 * same) and wakes the users of the queues it locked: `$wake` whether it
 * wakes them (false with the wake-up bus), the next parameter the origin the
 * wake-ups carry (or null).
 */
function storing(name: string, call: string, wake: number): PreparedStatement {
  return prepared(
    name,
    `
  WITH pushed AS (SELECT * FROM ${call}),
  woken AS (${wakeUsersSql(`ARRAY(SELECT DISTINCT user_id FROM pushed WHERE user_id IS NOT NULL AND $${wake}::boolean)`, `$${wake + 1}`)})
  -- A SELECT in WITH runs only if it is read: counting woken sends its NOTIFYs.
  SELECT uid, before, id::text AS id, stored_at, user_id, app_name, (SELECT count(*) FROM woken) AS notified FROM pushed`,
  );
}

/** push_group's parameters ($1-$13, see its migration), then the wake-ups' ($14, $15). */
const PUSH_GROUP = storing(
  'push-group',
  `push_group($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::int, $9::jsonb,
              $10::text[], $11::text[], $12::text[], $13::int)`,
  14,
);

/** push_one's parameters ($1-$9, see its migration, prisma/migrations/20261202120000_push_one), then the wake-ups' ($10, $11). */
const PUSH_ONE = storing('push-one', 'push_one($1::text, $2::text, $3::text, $4::text, $5::int, $6::int, $7::text, $8::text, $9::int)', 10);

/** The SQLSTATEs push_group fails with when the group transaction must answer instead. */
const LEFT_TO_THE_TRANSACTION = new Set(['PU105', 'PU120']);

/**
 * Whether push_group can take the whole group: pushes only, none tagged,
 * every UID of the UID shape (anything else is refused, by the transaction).
 */
export function isPlainPushGroup(jobs: readonly GroupJob[]): jobs is readonly Push[] {
  return jobs.every((job) => 'items' in job && job.items.every((item) => item.tag === undefined && uidPattern.test(item.uid)));
}

/** True when push_group stored nothing because a push needs the group transaction's answer. */
export function isLeftToTheTransaction(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && LEFT_TO_THE_TRANSACTION.has(code);
}

/** What a committed push group answered and stored. */
export interface PushedGroup {
  results: PushResult[];
  /** For the handoff: what was stored, with whose queues they are. */
  run: StoredRun;
  /** The users whose queues received items. */
  users: string[];
}

/**
 * Stores `pushes` in one statement, which commits on its own. Their
 * wake-ups are sent on commit unless `notify` is false, carrying `origin`.
 */
export async function pushGroup(
  pool: pg.Pool,
  pushes: readonly Push[],
  options: { timeoutMs: number; notify: boolean; origin: string | null },
): Promise<PushedGroup> {
  const run = new PushRun(pushes);
  // The apps that name each UID: more than one only when a push names another app's UID, which is refused.
  const appsOf = new Map<string, Set<string>>();
  for (const push of pushes) for (const { uid } of push.items) (appsOf.get(uid) ?? appsOf.set(uid, new Set()).get(uid))?.add(push.appId);
  const { rows } = await queryWithin<PushedRow>(pool, storeStatement(pushes, run, appsOf, options), options.timeoutMs);
  const locked = new Map<string, LockedQueue>();
  for (const row of rows) {
    if (row.user_id !== null)
      // Locked means its app is the one pair of its UID.
      locked.set(row.uid, {
        appId: (appsOf.get(row.uid) as Set<string>).values().next().value as string,
        appName: row.app_name as string,
        userId: row.user_id,
      });
  }
  return {
    results: run.outcomes(rows).map((value) => ({ ok: true, value })),
    run: { items: run.items, rows, locked },
    users: [...new Set([...locked.values()].map((queue) => queue.userId))],
  };
}

type PushedRow = StoreRow & { user_id: string | null; app_name: string | null };

/** push_one for a lone item, push_group for the rest, with their parameters. */
function storeStatement(
  pushes: readonly Push[],
  run: PushRun,
  appsOf: ReadonlyMap<string, ReadonlySet<string>>,
  options: { notify: boolean; origin: string | null },
): pg.QueryConfig {
  const wake = [options.notify, options.origin];
  const [keyApps, keys, digests] = keyColumns(pushes);
  const [lone] = pushes;
  if (pushes.length === 1 && lone?.items.length === 1) {
    const [item] = lone.items as [NotificationInput];
    return {
      ...PUSH_ONE,
      values: [
        item.uid,
        lone.appId,
        item.message,
        item.action,
        item.ttl ?? null,
        QUEUE_CAPACITY,
        keys[0] ?? null,
        digests[0] ?? null,
        IDEMPOTENCY_WINDOW_HOURS,
        ...wake,
      ],
    };
  }
  // The distinct (UID, app) pairs: a UID named by two apps is two pairs, and one of them is refused.
  const pairs = [...appsOf].flatMap(([uid, apps]) => [...apps].map((appId) => [uid, appId] as const));
  return {
    ...PUSH_GROUP,
    values: [
      pairs.map(([uid]) => uid),
      pairs.map(([, appId]) => appId),
      ...run.columns(),
      QUEUE_CAPACITY,
      run.entries(),
      keyApps,
      keys,
      digests,
      IDEMPOTENCY_WINDOW_HOURS,
      ...wake,
    ],
  };
}
