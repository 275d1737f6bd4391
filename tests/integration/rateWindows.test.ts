/**
 * Rate windows counted on the nodes (src/server/domain/rateWindows.ts): a
 * node counts a second's requests after the database gave it the window,
 * adds its counts to the shared row, and learns the other nodes' when it does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Database } from '../../src/server/platform/db/client.ts';
import { FLUSH_EVERY_MS, RateWindows } from '../../src/server/domain/rateWindows.ts';
import { makeApp, testDatabase } from '../support/factories.ts';

let db: Database;
beforeAll(() => {
  db = testDatabase();
});
afterAll(async () => {
  await db.close();
});

describe('rate windows', () => {
  it('count on each node after the first request of a second, and add up in the shared window', async () => {
    const { appid } = await makeApp(db);
    // Everything below happens within one second.
    await sleep(1000 - (Date.now() % 1000) + 20);
    const [a, b] = [new RateWindows(db), new RateWindows(db)];
    expect(a.count(appid)).toBeNull();
    // Each node's first request of the second, counted in the database: a's first, b's second.
    await db.pool.query(`INSERT INTO rate_windows (app_id, window_start, count) VALUES ($1, date_trunc('second', now()), 2)`, [appid]);
    const second = Math.floor(Date.now() / 1000);
    const countedThere = (node: RateWindows, place: number) =>
      node.countThere(
        appid,
        async () => place,
        (answer) => ({ place: answer, second }),
      );
    await countedThere(a, 1);
    await countedThere(b, 2);

    expect([a.count(appid), a.count(appid), a.count(appid)]).toEqual([2, 3, 4]);
    // b has not heard of a's yet.
    expect(b.count(appid)).toBe(3);
    await a.flush();
    await b.flush();
    const shared = async () => (await db.pool.query('SELECT count FROM rate_windows WHERE app_id = $1', [appid])).rows[0]?.count;
    expect(await shared()).toBe(6);
    // b learned the total when it added its own; a learns it with its next.
    expect(b.count(appid)).toBe(7);
    expect(a.count(appid)).toBe(6);
    await Promise.all([a.flush(), b.flush()]);
    expect(await shared()).toBe(8);

    // A request still being counted in the database takes a place before one counted here,
    // and what is counted here meanwhile waits for it: added first, it would push that request past them.
    let go: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (go = resolve));
    const asked = b.countThere(
      appid,
      async () => {
        await gate;
        const { rows } = await db.pool.query<{ count: number }>('UPDATE rate_windows SET count = count + 1 WHERE app_id = $1 RETURNING count', [appid]);
        return rows[0]?.count as number;
      },
      (place) => ({ place, second }),
    );
    expect(b.count(appid)).toBe(10);
    await b.flush();
    expect(await shared()).toBe(8);
    go();
    expect(await asked).toBe(9);
    // Added once the request was answered.
    await sleep(FLUSH_EVERY_MS * 3);
    expect(await shared()).toBe(10);
    expect(b.count(appid)).toBe(11);
    // Counts being added keep their places until the answer includes them.
    const flushing = b.flush();
    expect(b.count(appid)).toBe(12);
    await flushing;
    expect(b.count(appid)).toBe(13);

    // An answer for a second gone by tells nothing of the current one.
    const c = new RateWindows(db);
    await c.countThere(
      appid,
      async () => 5,
      (place) => ({ place, second: second - 1 }),
    );
    expect(c.count(appid)).toBeNull();

    // The next second starts in the database again.
    expect(a.count(appid, Date.now() + 1000)).toBeNull();
  });
});
