/**
 * Group commit of pushes, against a real PostgreSQL: concurrent pushes share
 * one transaction, each ack is the one it would get alone, and a push whose
 * statement fails is refused alone while its neighbours commit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/server/platform/db/client.ts';
import { AppError, Errno } from '../../src/server/domain/errors.ts';
import { ackItems } from '../../src/server/domain/delivery/items.ts';
import { pushNotifications } from '../../src/server/domain/notifications/push.ts';
import { expireItems, makeApp, makeRecipient, makeUser, queueItems, queueSize, refuseRows, testDatabase } from '../support/factories.ts';
import { grantUid } from '../../src/server/domain/uids.ts';

let db: Database;
beforeAll(() => {
  db = testDatabase();
});
afterAll(async () => {
  await db.close();
});

const note = (uid: string, message: string) => ({ uid, message, action: 'https://example.com/' });

/** The transaction ids that wrote the items of `uid`. */
async function writers(uid: string): Promise<Set<string>> {
  const { rows } = await db.pool.query<{ xmin: string }>('SELECT xmin::text FROM queue_items WHERE uid = $1', [uid]);
  return new Set(rows.map((r) => r.xmin));
}

/** A queue of 100 items, m0 to m99, of which m50 and m51 have expired. */
async function fullQueueWithTwoExpired() {
  const recipient = await makeRecipient(db);
  await pushNotifications(
    db,
    recipient.appid,
    Array.from({ length: 100 }, (_, n) => note(recipient.uid, `m${n}`)),
  );
  await expireItems(db, recipient.uid, ['m50', 'm51']);
  return recipient;
}

/** After n0, n1 and n2 came to that queue: the expired items and then the oldest live one (m0) left, and the size is exact. */
async function expectTheNewestLiveHundred(uid: string) {
  const kept = [...Array.from({ length: 100 }, (_, n) => `m${n}`).filter((m) => !['m0', 'm50', 'm51'].includes(m)), 'n0', 'n1', 'n2'];
  expect((await queueItems(db, uid)).map((i) => i.message)).toEqual(kept);
  const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM queue_items WHERE uid = $1', [uid]);
  expect(rows[0]?.n).toBe(100);
  expect(await queueSize(db, uid)).toBe(100);
}

describe('group commit', () => {
  it('stores pushes submitted together in one transaction, with the acks they would get one by one', async () => {
    const { appid, uid } = await makeRecipient(db);
    const pushes = Array.from({ length: 5 }, (_, n) => pushNotifications(db, appid, [note(uid, `m${n}a`), note(uid, `m${n}b`)]));
    const outcomes = await Promise.all(pushes);

    expect(outcomes.map((o) => o.ack.queue_size)).toEqual([2, 4, 6, 8, 10]);
    expect((await queueItems(db, uid)).map((i) => i.message)).toEqual(['m0a', 'm0b', 'm1a', 'm1b', 'm2a', 'm2b', 'm3a', 'm3b', 'm4a', 'm4b']);
    expect((await writers(uid)).size).toBe(1);
  });

  it('caps each queue at 100 across a group, and counts what the cap dropped for each push', async () => {
    const { appid, uid } = await makeRecipient(db);
    await pushNotifications(
      db,
      appid,
      Array.from({ length: 95 }, (_, n) => note(uid, `old${n}`)),
    );
    const outcomes = await Promise.all(
      [0, 1, 2].map((p) =>
        pushNotifications(
          db,
          appid,
          Array.from({ length: 4 }, (_, n) => note(uid, `new${p}.${n}`)),
        ),
      ),
    );

    expect(outcomes.map((o) => [o.ack.queue_size, o.droppedByCap])).toEqual([
      [99, 0],
      [100, 3],
      [100, 4],
    ]);
    const messages = (await queueItems(db, uid)).map((i) => i.message);
    expect(messages).toHaveLength(100);
    expect(messages.slice(-12)).toEqual([0, 1, 2].flatMap((p) => [0, 1, 2, 3].map((n) => `new${p}.${n}`)));
    expect(await queueSize(db, uid)).toBe(100);
  });

  it('drops a queue’s expired items as it stores, and counts only live ones against the cap', async () => {
    const { appid, uid } = await fullQueueWithTwoExpired();

    const outcome = await pushNotifications(db, appid, [note(uid, 'n0'), note(uid, 'n1'), note(uid, 'n2')]);
    // 98 live before: the oldest live item makes room for the third.
    expect([outcome.ack.queue_size, outcome.droppedByCap]).toEqual([100, 1]);
    await expectTheNewestLiveHundred(uid);
  });

  it('stores a lone item by the same rules: its queue’s expired items leave, then its oldest live one when it is full', async () => {
    const { appid, uid } = await fullQueueWithTwoExpired();

    const outcomes = [];
    for (const message of ['n0', 'n1', 'n2']) outcomes.push(await pushNotifications(db, appid, [note(uid, message)]));
    expect(outcomes.map((o) => [o.ack.queue_size, o.droppedByCap])).toEqual([
      [99, 0],
      [100, 0],
      [100, 1],
    ]);
    await expectTheNewestLiveHundred(uid);
    const { rows: log } = await db.pool.query<{ queue_size: number; uids: string[] }>(`SELECT queue_size, uids FROM ack_log WHERE app_id = $1 ORDER BY id`, [
      appid,
    ]);
    expect(log.map((r) => [r.queue_size, r.uids])).toEqual([100, 99, 100, 100].map((size) => [size, [uid]]));
  });

  it('counts a queue by its size until an item’s ttl runs out, then reads it: the expired item is neither counted nor kept, by either store', async () => {
    const firstExpiry = async (uid: string) =>
      (await db.pool.query<{ first: Date | null }>('SELECT first_expiry AS first FROM queues WHERE uid = $1', [uid])).rows[0]?.first ?? null;
    const expiresAt = async (uid: string, message: string) =>
      (await db.pool.query<{ at: Date }>('SELECT expires_at AS at FROM queue_items WHERE uid = $1 AND message = $2', [uid, message])).rows[0]?.at;
    const lone = await makeRecipient(db);
    const grouped = await makeRecipient(db);
    await pushNotifications(db, lone.appid, [{ ...note(lone.uid, 'short'), ttl: 1 }]);
    await pushNotifications(db, lone.appid, [{ ...note(lone.uid, 'long'), ttl: 3600 }]);
    await pushNotifications(db, grouped.appid, [note(grouped.uid, 'kept'), { ...note(grouped.uid, 'short'), ttl: 1 }]);
    // Each store lowered the first expiry to the soonest item's.
    expect(await firstExpiry(lone.uid)).toEqual(await expiresAt(lone.uid, 'short'));
    expect(await firstExpiry(grouped.uid)).toEqual(await expiresAt(grouped.uid, 'short'));

    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const loneAck = await pushNotifications(db, lone.appid, [note(lone.uid, 'after')]);
    const groupAck = await pushNotifications(db, grouped.appid, [note(grouped.uid, 'after'), note(grouped.uid, 'after too')]);

    expect([loneAck.ack.queue_size, groupAck.ack.queue_size]).toEqual([2, 3]);
    expect((await queueItems(db, lone.uid)).map((i) => i.message)).toEqual(['long', 'after']);
    expect((await queueItems(db, grouped.uid)).map((i) => i.message)).toEqual(['kept', 'after', 'after too']);
    // Read whole, each queue's first expiry is its live items' again.
    expect(await firstExpiry(lone.uid)).toEqual(await expiresAt(lone.uid, 'long'));
    expect(await firstExpiry(grouped.uid)).toBeNull();
  });

  it('keeps the newest 100 when a group brings more than 100 to one queue', async () => {
    const { appid, uid } = await makeRecipient(db);
    await pushNotifications(db, appid, [note(uid, 'oldest')]);
    const outcomes = await Promise.all(
      [0, 1].map((p) =>
        pushNotifications(
          db,
          appid,
          Array.from({ length: 80 }, (_, n) => note(uid, `p${p}.${n}`)),
        ),
      ),
    );

    expect(outcomes.map((o) => [o.ack.queue_size, o.droppedByCap])).toEqual([
      [81, 0],
      [100, 61],
    ]);
    const messages = (await queueItems(db, uid)).map((i) => i.message);
    expect(messages).toEqual([...Array.from({ length: 20 }, (_, n) => `p0.${n + 60}`), ...Array.from({ length: 80 }, (_, n) => `p1.${n}`)]);
    expect(await queueSize(db, uid)).toBe(100);
    const { rows } = await db.pool.query<{ queue_size: number }>(`SELECT queue_size FROM ack_log WHERE app_id = $1 ORDER BY id`, [appid]);
    expect(rows.map((r) => r.queue_size)).toEqual([1, 81, 100]);
  });

  it('refuses a push with an unknown UID (105) without failing the others of its group', async () => {
    const { appid, uid } = await makeRecipient(db);
    const other = await makeRecipient(db);
    const [good, foreign, alsoGood] = await Promise.allSettled([
      pushNotifications(db, appid, [note(uid, 'first')]),
      pushNotifications(db, appid, [note(uid, 'never stored'), note(other.uid, 'another app’s UID')]),
      pushNotifications(db, appid, [note(uid, 'second')]),
    ]);
    expect(good.status).toBe('fulfilled');
    expect(alsoGood.status).toBe('fulfilled');
    expect(foreign.status).toBe('rejected');
    const refusal = (foreign as PromiseRejectedResult).reason as AppError;
    expect(refusal).toBeInstanceOf(AppError);
    expect(refusal.errno).toBe(Errno.UnknownUid);
    expect(refusal.items).toEqual([{ index: 1, field: 'UID', errno: Errno.UnknownUid, error: 'unknown UID' }]);
    expect((await queueItems(db, uid)).map((i) => i.message)).toEqual(['first', 'second']);
    expect(await queueSize(db, other.uid)).toBe(0);
  });

  it('runs a group again with a savepoint per push when one push’s statement fails: only that push is refused', async () => {
    const app = await makeApp(db);
    const users = await Promise.all([0, 1].map(() => makeUser(db)));
    const [a, b] = await Promise.all(users.map(async (u) => (await grantUid(db, { appid: app.appid, userId: u.userId })).uid));
    const poison = `poison ${app.appid}`;
    // The database refuses this one message.
    const refusal = await refuseRows(db, { table: 'queue_items', event: 'INSERT', column: 'message', value: poison });
    try {
      const results = await Promise.allSettled([
        pushNotifications(db, app.appid, [note(a as string, 'before')]),
        pushNotifications(db, app.appid, [note(b as string, 'with it'), note(a as string, poison)]),
        pushNotifications(db, app.appid, [note(b as string, 'after')]),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/poisoned row/);
    } finally {
      await refusal.drop();
    }
    expect((await queueItems(db, a as string)).map((i) => i.message)).toEqual(['before']);
    expect((await queueItems(db, b as string)).map((i) => i.message)).toEqual(['after']);
    expect(await queueSize(db, a as string)).toBe(1);
    expect(await queueSize(db, b as string)).toBe(1);
    const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ack_log WHERE app_id = $1 AND result = 'OK'`, [app.appid]);
    expect(rows[0]?.n).toBe(2);
  });

  it("acks of several daemons in one transaction: each removes only its own user's items, each counted once", async () => {
    const alice = await makeRecipient(db);
    const bob = await makeRecipient(db);
    await pushNotifications(db, alice.appid, [note(alice.uid, 'a1'), note(alice.uid, 'a2'), note(alice.uid, 'a3')]);
    await pushNotifications(db, bob.appid, [note(bob.uid, 'b1')]);
    const aliceIds = (await queueItems(db, alice.uid)).map((i) => i.id);
    const bobIds = (await queueItems(db, bob.uid)).map((i) => i.id);

    const removed = await Promise.all([
      ackItems(db, alice.userId, aliceIds.slice(0, 2)),
      ackItems(db, bob.userId, [...aliceIds, ...bobIds]), // Alice's ids are not Bob's to ack
      ackItems(db, alice.userId, aliceIds.slice(1)), // the second id again: already counted by the first ack
    ]);
    expect(removed).toEqual([2, 1, 1]);
    expect(await queueItems(db, alice.uid)).toEqual([]);
    expect(await queueItems(db, bob.uid)).toEqual([]);
    expect([await queueSize(db, alice.uid), await queueSize(db, bob.uid)]).toEqual([0, 0]);
  });
});

describe('counted queues', () => {
  /**
   * Rows of queue_items the statement read through an index, in its own
   * transaction (pg_stat_xact_user_tables): the queue's items a store
   * visited. push_one and push_group as pushGroup.ts calls them, for a lone
   * item of `uid` and for two; ack_one as items.ts calls it.
   */
  async function itemsRead(appid: string, uid: string, call: 'push_one' | 'push_group' | { ackOne: string; by: string }): Promise<number> {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      const fetched = async () =>
        Number((await client.query<{ n: string }>(`SELECT idx_tup_fetch AS n FROM pg_stat_xact_user_tables WHERE relname = 'queue_items'`)).rows[0]?.n ?? 0);
      const before = await fetched();
      if (typeof call === 'object') {
        await client.query('SELECT * FROM ack_one($1::bigint, $2::uuid)', [call.ackOne, call.by]);
      } else if (call === 'push_one') {
        await client.query(`SELECT * FROM push_one($1, $2, 'lone', 'https://example.com/', NULL, 100, NULL, NULL, 24)`, [uid, appid]);
      } else {
        const entries = [{ app_id: appid, item_count: 2, uids: [uid], last_uid: uid, upto: { [uid]: 2 }, key: null }];
        await client.query(
          `SELECT * FROM push_group(ARRAY[$1], ARRAY[$2], ARRAY[$2, $2], ARRAY[$1, $1], ARRAY['one', 'two'], ARRAY['https://example.com/', 'https://example.com/'],
                                    ARRAY[NULL, NULL]::int[], 100, $3::jsonb, '{}', '{}', '{}', 24)`,
          [uid, appid, JSON.stringify(entries)],
        );
      }
      const read = (await fetched()) - before;
      await client.query('COMMIT');
      return read;
    } finally {
      client.release();
    }
  }

  it('stores and acks without reading the queue’s items while none can have expired, reads only the oldest when full, and reads it whole once one may have', async () => {
    const { appid, uid, userId } = await makeRecipient(db);
    await pushNotifications(
      db,
      appid,
      Array.from({ length: 90 }, (_, n) => note(uid, `m${n}`)),
    );

    expect(await itemsRead(appid, uid, 'push_one')).toBe(0);
    expect(await itemsRead(appid, uid, 'push_group')).toBe(0);
    await pushNotifications(
      db,
      appid,
      Array.from({ length: 7 }, (_, n) => note(uid, `f${n}`)),
    );
    // Full: the oldest leave, each read twice (found through the (uid, id) index, deleted by its id), and nothing else is read.
    expect(await itemsRead(appid, uid, 'push_group')).toBe(2 * 2);
    expect(await itemsRead(appid, uid, 'push_one')).toBe(2 * 1);
    expect(await queueSize(db, uid)).toBe(100);
    // An ack: the item looked up and deleted, the size taken down by one, not recounted.
    const [oldest] = await queueItems(db, uid);
    expect(await itemsRead(appid, uid, { ackOne: oldest?.id as string, by: userId })).toBe(2);
    expect(await queueSize(db, uid)).toBe(99);
    expect(await itemsRead(appid, uid, 'push_one')).toBe(0);

    await expireItems(db, uid, ['m50']);
    expect(await itemsRead(appid, uid, 'push_one')).toBeGreaterThanOrEqual(100);
    expect(await queueSize(db, uid)).toBe(100);
    expect((await queueItems(db, uid)).map((i) => i.message)).not.toContain('m50');
  });
});
