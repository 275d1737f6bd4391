/**
 * Small factories: each test makes its own app, user and UIDs, so tests can
 * run side by side on one database.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { inject } from 'vitest';
import { createApp } from '../../src/server/domain/apps.ts';
import { connectDatabase, type Database } from '../../src/server/platform/db/client.ts';
import { createDevice } from '../../src/server/domain/devices.ts';
import { grantUid } from '../../src/server/domain/uids.ts';
import { createUser } from '../../src/server/domain/users.ts';

/** A pool on the test database; close it in afterAll. */
export function testDatabase(): Database {
  return connectDatabase({ url: inject('databaseUrl'), poolSize: 5 });
}

export function uniqueAppid(prefix = 'app'): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

export async function makeApp(db: Database, options: { schemes?: string[] } = {}) {
  return createApp(db, { appid: uniqueAppid(), schemes: options.schemes ?? [] });
}

export async function makeUser(db: Database) {
  return createUser(db, { name: `user ${randomBytes(3).toString('hex')}` });
}

/** An app with one user and that user's UID. */
export async function makeRecipient(db: Database, options: { schemes?: string[] } = {}) {
  const app = await makeApp(db, options);
  const { userId } = await makeUser(db);
  const { uid } = await grantUid(db, { appid: app.appid, userId });
  return { ...app, userId, uid };
}

/** The items of a queue, oldest first, straight from the table. */
export async function queueItems(db: Database, uid: string) {
  const { rows } = await db.pool.query<{ id: string; message: string; action: string }>(
    'SELECT id, message, action FROM queue_items WHERE uid = $1 ORDER BY id',
    [uid],
  );
  return rows;
}

/**
 * Makes the items of queue `uid` with these messages expired a second ago,
 * as if their ttl had run out, with their queue's first expiry along (a
 * queue whose first expiry lies ahead is counted by its size, not read).
 */
export async function expireItems(db: Database, uid: string, messages: readonly string[]): Promise<void> {
  await db.pool.query(
    `WITH expired AS (
       UPDATE queue_items SET expires_at = now() - interval '1 second' WHERE uid = $1 AND message = ANY($2::text[]) RETURNING expires_at
     )
     UPDATE queues SET first_expiry = LEAST(first_expiry, (SELECT min(expires_at) FROM expired)) WHERE uid = $1`,
    [uid, messages],
  );
}

export async function queueSize(db: Database, uid: string): Promise<number> {
  const { rows } = await db.pool.query<{ size: number }>('SELECT size FROM queues WHERE uid = $1', [uid]);
  return rows[0]?.size ?? -1;
}

/** A user with a device (and its token) and a UID of a new app: a daemon's view of the world. */
export async function makeDaemonUser(db: Database, options: { schemes?: string[] } = {}) {
  const recipient = await makeRecipient(db, options);
  const { deviceId, token } = await createDevice(db, { userId: recipient.userId, name: 'test device' });
  return { ...recipient, deviceId, token };
}

/** `count` users of one app, each with a UID and a device (for tests that run many daemons). */
export async function makeAppUsers(db: Database, appid: string, count: number) {
  const users: { userId: string; uid: string; token: string; deviceId: string }[] = [];
  for (let i = 0; i < count; i++) {
    const { userId } = await makeUser(db);
    const { uid } = await grantUid(db, { appid, userId });
    const { token, deviceId } = await createDevice(db, { userId, name: `daemon ${i}` });
    users.push({ userId, uid, token, deviceId });
  }
  return users;
}

/**
 * A fault the validation cannot see: until `drop` is called, the database
 * refuses (RAISE) every row written to `table` whose `column` is `value`,
 * before `event` (INSERT or UPDATE). Each call makes a trigger of its own.
 */
export async function refuseRows(db: Database, { table, event, column, value }: { table: string; event: 'INSERT' | 'UPDATE'; column: string; value: string }) {
  const name = `refuse_${randomBytes(4).toString('hex')}`;
  await db.pool.query(`
    CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.${column} = '${value.replaceAll("'", "''")}' THEN RAISE EXCEPTION 'poisoned row'; END IF;
      RETURN NEW;
    END $$`);
  await db.pool.query(`CREATE TRIGGER ${name} BEFORE ${event} ON ${table} FOR EACH ROW EXECUTE FUNCTION ${name}()`);
  return {
    drop: async () => {
      await db.pool.query(`DROP TRIGGER ${name} ON ${table}`);
      await db.pool.query(`DROP FUNCTION ${name}()`);
    },
  };
}

/**
 * The first three words of every statement any client of `db`'s pool sends
 * from now on, each one a round trip: a test empties the list, runs its
 * call and reads what it cost. Call before the pool's first connection.
 */
export function recordStatements(db: Database): string[] {
  const statements: string[] = [];
  db.pool.on('connect', (client: pg.PoolClient) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const first = args[0] as string | { text?: string };
      statements.push((typeof first === 'string' ? first : (first.text ?? '')).trim().split(/\s+/).slice(0, 3).join(' '));
      return query(...args);
    };
  });
  return statements;
}
