/**
 * "The ceiling of this machine for that design": the service's
 * insert-then-prune transaction sent straight to PostgreSQL over `pg`, one
 * transaction per request, without HTTP, JSON validation, group commit or
 * the app authentication in front of it. It runs the service's own
 * transaction code (`storeGroup` of src/server/domain/notifications/groupTransaction.ts) with
 * a group of one, so the two cannot drift apart.
 */
import type pg from 'pg';
import { storeGroup } from '../../src/server/domain/notifications/groupTransaction.ts';
import type { Item } from './workload.ts';

/** One push as the service does it, on a dedicated connection. Resolves after COMMIT. */
export async function pushDirect(client: pg.Client, appId: string, items: readonly Item[]): Promise<void> {
  await client.query('BEGIN');
  try {
    const [result] = await storeGroup(client, [{ appId, items: items.map((i) => ({ uid: i.UID, message: i.message, action: i.action })) }]);
    if (!result?.ok) throw result?.error ?? new Error('ceiling: no result');
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
