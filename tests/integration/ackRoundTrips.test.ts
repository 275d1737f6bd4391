/**
 * The daemon's ack as the delivery profile (docs/benchmarks.md, "Profile")
 * counts it: a group of acks costs one statement, its own transaction (the
 * owned queues locked, the items deleted, the sizes set, the dashboard told;
 * four round trips before: BEGIN, lock, delete, COMMIT), and the sizes it
 * writes still leave expired items out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/server/platform/db/client.ts';
import { ackItems } from '../../src/server/domain/delivery/items.ts';
import { pushNotifications } from '../../src/server/domain/notifications/push.ts';
import { makeRecipient, queueItems, queueSize, recordStatements, testDatabase } from '../support/factories.ts';

let db: Database;
let statements: string[];
beforeAll(() => {
  db = testDatabase();
  statements = recordStatements(db);
});
afterAll(async () => {
  await db.close();
});

describe('a group of acks', () => {
  it('takes one round trip and keeps expired items out of the queue size', async () => {
    const { appid, uid, userId } = await makeRecipient(db);
    await pushNotifications(
      db,
      appid,
      ['a', 'b', 'c', 'd'].map((message) => ({ uid, message, action: 'https://example.com/' })),
    );
    const [a, , c, d] = await queueItems(db, uid);
    // c stays expired in the queue; d is expired and acked.
    await db.pool.query(`UPDATE queue_items SET expires_at = now() - interval '1 hour' WHERE id = ANY($1::bigint[])`, [[c?.id, d?.id]]);

    statements.length = 0;
    expect(await ackItems(db, userId, [a?.id as string, d?.id as string])).toBe(2);
    expect(statements).toEqual(['WITH unflushed AS']);

    expect((await queueItems(db, uid)).map((i) => i.message)).toEqual(['b', 'c']);
    expect(await queueSize(db, uid)).toBe(1);
  });
});
