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
import { prepared } from '../../platform/db/prepared.ts';
import { wakeUsersSql } from '../../platform/signals.ts';
import { QUEUE_CAPACITY } from '../../../shared/limits.ts';
import type { LockedQueue } from '../queues.ts';
import { uidPattern } from '../secrets.ts';
import { PushRun, type GroupJob, type Push, type PushResult, type StoreRow, type StoredRun } from './groupTransaction.ts';
import { IDEMPOTENCY_WINDOW_HOURS, keyColumns } from './idempotency.ts';
import type { NotificationInput } from './validate.ts';

/**
 * push_group's parameters ($1-$13, see its migration), then $14 whether the
 * statement wakes the users (false with the wake-up bus) and $15 the origin
 * the wake-ups carry (or null). The users are those of the locked queues.
 */
const PUSH_GROUP = prepared(
  'push-group',
  `
  WITH pushed AS (
    SELECT * FROM push_group($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::int, $9::jsonb,
                             $10::text[], $11::text[], $12::text[], $13::int)
  ), woken AS (${wakeUsersSql('ARRAY(SELECT DISTINCT user_id FROM pushed WHERE user_id IS NOT NULL AND $14::boolean)', '$15')})
  -- A SELECT in WITH runs only if it is read: counting woken sends its NOTIFYs.
  SELECT uid, before, id::text AS id, stored_at, user_id, app_name, (SELECT count(*) FROM woken) AS notified FROM pushed`,
);

/**
 * push_one's parameters ($1-$9, see its migration,
 * prisma/migrations/20261202120000_push_one), then $10 and $11 as $14 and
 * $15 above. Its rows are push_group's.
 */
const PUSH_ONE = prepared(
  'push-one',
  `
  WITH pushed AS (
    SELECT * FROM push_one($1::text, $2::text, $3::text, $4::text, $5::int, $6::int, $7::text, $8::text, $9::int)
  ), woken AS (${wakeUsersSql('ARRAY(SELECT DISTINCT user_id FROM pushed WHERE user_id IS NOT NULL AND $10::boolean)', '$11')})
  SELECT uid, before, id::text AS id, stored_at, user_id, app_name, (SELECT count(*) FROM woken) AS notified FROM pushed`,
);

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
