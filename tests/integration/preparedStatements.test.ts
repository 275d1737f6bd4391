/**
 * The delivery path's statements are prepared once per pooled connection
 * (src/server/platform/db/prepared.ts): PostgreSQL parses and plans a push,
 * a backlog read and an ack once per connection, not on every call. One
 * connection in the pool, so every call below runs on the one whose
 * prepared statements the test reads.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { connectDatabase, type Database } from '../../src/server/platform/db/client.ts';
import { authenticateApp } from '../../src/server/domain/apps.ts';
import { ackItems, pendingItems } from '../../src/server/domain/delivery/items.ts';
import { pushNotifications } from '../../src/server/domain/notifications/push.ts';
import { makeRecipient } from '../support/factories.ts';

let db: Database;
beforeAll(() => {
  db = connectDatabase({ url: inject('databaseUrl'), poolSize: 1 });
});
afterAll(async () => {
  await db.close();
});

/** Each statement prepared on the pool's connection, with how many times it ran there. */
async function preparedRuns(): Promise<Map<string, number>> {
  const { rows } = await db.pool.query<{ name: string; runs: number }>(`SELECT name, (generic_plans + custom_plans)::int AS runs FROM pg_prepared_statements`);
  return new Map(rows.map((r) => [r.name, r.runs]));
}

describe('the delivery path on one connection', () => {
  it('prepares the key check, the pushes, the backlog read and the ack once, and runs them again without parsing', async () => {
    const { appid, key, uid, userId } = await makeRecipient(db);
    for (const message of ['first', 'second']) {
      await authenticateApp(db, appid, key, { countRequest: true });
      // A lone item takes push_one, a push of two push_group.
      await pushNotifications(db, appid, [{ uid, message, action: 'https://example.com/' }]);
      await pushNotifications(
        db,
        appid,
        [`${message} a`, `${message} b`].map((m) => ({ uid, message: m, action: 'https://example.com/' })),
      );
      const items = await pendingItems(db, userId);
      expect(items.map((i) => i.message)).toEqual([message, `${message} a`, `${message} b`]);
      expect(
        await ackItems(
          db,
          userId,
          items.map((i) => i.id),
        ),
      ).toBe(3);
    }
    const runs = await preparedRuns();
    for (const name of ['check-keys', 'push-one', 'push-group', 'read-pending', 'ack-items']) {
      expect({ name, runs: runs.get(name) }).toEqual({ name, runs: 2 });
    }
  });
});
