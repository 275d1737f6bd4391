/**
 * The daemon's ack as the delivery profile (docs/benchmarks.md, "Profile")
 * counts it: a group of acks costs one statement, its own transaction (the
 * owned queues locked, the items deleted, the sizes set; four round trips
 * before: BEGIN, lock, delete, COMMIT), and the sizes it writes still leave
 * expired items out. The dashboard is told once for the acks of a moment.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/server/platform/db/client.ts';
import { ackItems } from '../../src/server/domain/delivery/items.ts';
import { pushNotifications } from '../../src/server/domain/notifications/push.ts';
import { expireItems, makeRecipient, queueItems, queueSize, recordStatements, testDatabase } from '../support/factories.ts';

let db: Database;
let statements: string[];
beforeAll(() => {
  db = testDatabase();
  statements = recordStatements(db);
});
afterAll(async () => {
  await db.close();
});

/** The dashboard's announcements come on their own clock (announceSoon), between statements of the tests. */
const isAnnouncement = (statement: string) => statement.startsWith('SELECT pg_notify');
/** The statements sent since the test emptied the list, but the announcements. */
const ackStatements = () => statements.filter((statement) => !isAnnouncement(statement));

describe('a group of acks', () => {
  it('takes one round trip and keeps expired items out of the queue size', async () => {
    const { appid, uid, userId } = await makeRecipient(db);
    await pushNotifications(
      db,
      appid,
      ['a', 'b', 'c', 'd'].map((message) => ({ uid, message, action: 'https://example.com/' })),
    );
    const [a, , , d] = await queueItems(db, uid);
    // c stays expired in the queue; d is expired and acked.
    await expireItems(db, uid, ['c', 'd']);

    statements.length = 0;
    expect(await ackItems(db, userId, [a?.id as string, d?.id as string])).toBe(2);
    expect(ackStatements()).toEqual(['WITH unflushed AS']);

    expect((await queueItems(db, uid)).map((i) => i.message)).toEqual(['b', 'c']);
    expect(await queueSize(db, uid)).toBe(1);
  });

  it('takes one round trip for a lone ack too, which removes only its user’s own item', async () => {
    const { appid, uid, userId } = await makeRecipient(db);
    const stranger = await makeRecipient(db);
    await pushNotifications(
      db,
      appid,
      ['a', 'b', 'c'].map((message) => ({ uid, message, action: 'https://example.com/' })),
    );
    const [a] = await queueItems(db, uid);
    await expireItems(db, uid, ['c']);

    statements.length = 0;
    expect(await ackItems(db, stranger.userId, [a?.id as string])).toBe(0);
    expect(await ackItems(db, userId, [a?.id as string])).toBe(1);
    expect(await ackItems(db, userId, [a?.id as string])).toBe(0);
    expect(ackStatements()).toEqual(['WITH unflushed AS', 'WITH unflushed AS', 'WITH unflushed AS']);

    expect((await queueItems(db, uid)).map((i) => i.message)).toEqual(['b', 'c']);
    expect(await queueSize(db, uid)).toBe(1);
  });

  it('asks for one announcement to the dashboard after an ack that removed something, and none after one that removed nothing', async () => {
    const { appid, uid, userId } = await makeRecipient(db);
    await pushNotifications(
      db,
      appid,
      ['a', 'b', 'c'].map((message) => ({ uid, message, action: 'https://example.com/' })),
    );
    const items = await queueItems(db, uid);
    const afterTheWindow = () => new Promise((resolve) => setTimeout(resolve, 400));
    // What the tests above announced is sent first.
    await afterTheWindow();
    const announcements = () => statements.filter(isAnnouncement);

    statements.length = 0;
    expect(await ackItems(db, userId, ['0'])).toBe(0);
    await afterTheWindow();
    expect(announcements()).toEqual([]);

    expect(await Promise.all(items.map((item) => ackItems(db, userId, [item.id])))).toEqual([1, 1, 1]);
    await expect.poll(() => announcements(), { timeout: 2_000 }).toHaveLength(1);
    await afterTheWindow();
    expect(announcements()).toHaveLength(1);
  });
});
