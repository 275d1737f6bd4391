/**
 * A group of untagged pushes costs one statement, its own transaction
 * (src/server/domain/notifications/pushGroup.ts; four round trips before:
 * BEGIN, lock, store, COMMIT, and two more with keys), and answers as the
 * group transaction would: the same acks, the same replays. A group with a
 * push to refuse or a key already taken is answered by the group transaction.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/server/platform/db/client.ts';
import { AppError, Errno } from '../../src/server/domain/errors.ts';
import { priorAck } from '../../src/server/domain/notifications/idempotency.ts';
import { pushNotifications } from '../../src/server/domain/notifications/push.ts';
import { grantUid } from '../../src/server/domain/uids.ts';
import { makeApp, makeRecipient, makeUser, queueItems, queueSize, recordStatements, testDatabase } from '../support/factories.ts';

let db: Database;
let statements: string[];
beforeAll(() => {
  db = testDatabase();
  statements = recordStatements(db);
});
afterAll(async () => {
  await db.close();
});

const note = (uid: string, message: string) => ({ uid, message, action: 'https://example.com/' });
const keyed = (key: string) => ({ idempotency: { key, bodyDigest: createHash('sha256').update(key).digest() } });

/** An app with two users' UIDs. */
async function twoQueues() {
  const app = await makeApp(db);
  const users = await Promise.all([0, 1].map(() => makeUser(db)));
  const [a, b] = await Promise.all(users.map(async (u) => (await grantUid(db, { appid: app.appid, userId: u.userId })).uid as string));
  return { appid: app.appid, a: a as string, b: b as string };
}

describe('a group of pushes', () => {
  it('takes one round trip with keys or without, and records for each key the ack it answered', async () => {
    const { appid, a, b } = await twoQueues();
    await pushNotifications(
      db,
      appid,
      Array.from({ length: 97 }, (_, n) => note(a, `old${n}`)),
    );

    statements.length = 0;
    const [first, second, third] = await Promise.all([
      pushNotifications(db, appid, [note(a, 'a1'), note(b, 'b1')], keyed('first')),
      pushNotifications(db, appid, [note(a, 'a2'), note(b, 'b2'), note(a, 'a3'), note(a, 'a4')], keyed('second')),
      pushNotifications(db, appid, [note(b, 'b3')]),
    ]);
    expect(statements).toEqual(['WITH pushed AS']);

    expect(first?.ack).toEqual({ result: 'OK', queue_size: 1, queue_sizes: { [a]: 98, [b]: 1 } });
    expect([second?.ack, second?.droppedByCap]).toEqual([{ result: 'OK', queue_size: 100, queue_sizes: { [a]: 100, [b]: 2 } }, 1]);
    expect(third?.ack).toEqual({ result: 'OK', queue_size: 3, queue_sizes: { [b]: 3 } });
    expect(await priorAck(db, appid, keyed('first').idempotency)).toEqual(first?.ack);
    expect(await priorAck(db, appid, keyed('second').idempotency)).toEqual(second?.ack);

    expect((await queueItems(db, a)).map((i) => i.message).slice(-4)).toEqual(['a1', 'a2', 'a3', 'a4']);
    expect((await queueItems(db, b)).map((i) => i.message)).toEqual(['b1', 'b2', 'b3']);
    expect([await queueSize(db, a), await queueSize(db, b)]).toEqual([100, 3]);
    const { rows } = await db.pool.query<{ queue_size: number }>(`SELECT queue_size FROM ack_log WHERE app_id = $1 ORDER BY id`, [appid]);
    expect(rows.map((r) => r.queue_size)).toEqual([97, 1, 100, 3]);
  });

  it('leaves a group with a key already taken to the group transaction, which answers the retry with its first ack', async () => {
    const { appid, a, b } = await twoQueues();
    const original = await pushNotifications(db, appid, [note(a, 'once')], keyed('retried'));

    statements.length = 0;
    const [retry, fresh] = await Promise.all([
      pushNotifications(db, appid, [note(a, 'once')], keyed('retried')),
      pushNotifications(db, appid, [note(b, 'stored')], keyed('new')),
    ]);
    expect(statements[0]).toBe('WITH pushed AS');
    expect(statements.slice(1)).toContain('BEGIN');

    expect(retry?.ack).toEqual(original.ack);
    expect(fresh?.ack).toEqual({ result: 'OK', queue_size: 1, queue_sizes: { [b]: 1 } });
    expect(await priorAck(db, appid, keyed('new').idempotency)).toEqual(fresh?.ack);
    expect((await queueItems(db, a)).map((i) => i.message)).toEqual(['once']);
    expect((await queueItems(db, b)).map((i) => i.message)).toEqual(['stored']);
  });

  it('leaves a group with a UID to refuse to the group transaction, which refuses that push alone (105)', async () => {
    const { appid, a, b } = await twoQueues();
    const stranger = await makeRecipient(db);

    statements.length = 0;
    const results = await Promise.allSettled([
      pushNotifications(db, appid, [note(a, 'never'), note(stranger.uid, 'not this app’s UID')]),
      pushNotifications(db, appid, [note(b, 'stored')]),
      // The stranger's own app may push to it in the same group.
      pushNotifications(db, stranger.appid, [note(stranger.uid, 'its own')]),
    ]);
    expect(statements[0]).toBe('WITH pushed AS');
    expect(statements.slice(1)).toContain('BEGIN');

    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
    const refusal = (results[0] as PromiseRejectedResult).reason as AppError;
    expect(refusal).toBeInstanceOf(AppError);
    expect([refusal.errno, refusal.items]).toEqual([Errno.UnknownUid, [{ index: 1, field: 'UID', errno: Errno.UnknownUid, error: 'unknown UID' }]]);
    expect(await queueItems(db, a)).toEqual([]);
    expect((await queueItems(db, b)).map((i) => i.message)).toEqual(['stored']);
    expect((await queueItems(db, stranger.uid)).map((i) => i.message)).toEqual(['its own']);
  });

  it('takes one round trip for a lone item too, which answers a retry, a taken key and a foreign UID as the group does', async () => {
    const { appid, a } = await twoQueues();
    const stranger = await makeRecipient(db);

    statements.length = 0;
    const first = await pushNotifications(db, appid, [note(a, 'alone')], keyed('lone'));
    expect(statements).toEqual(['WITH pushed AS']);
    expect(first.ack).toEqual({ result: 'OK', queue_size: 1, queue_sizes: { [a]: 1 } });
    expect(await priorAck(db, appid, keyed('lone').idempotency)).toEqual(first.ack);

    // The key taken: push_one stores nothing and the group transaction answers with the first ack.
    expect((await pushNotifications(db, appid, [note(a, 'alone')], keyed('lone'))).ack).toEqual(first.ack);
    const refused = await pushNotifications(db, appid, [note(stranger.uid, 'not this app’s UID')]).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AppError);
    expect((refused as AppError).errno).toBe(Errno.UnknownUid);

    expect((await queueItems(db, a)).map((i) => i.message)).toEqual(['alone']);
    expect(await queueItems(db, stranger.uid)).toEqual([]);
    const { rows } = await db.pool.query<{ queue_size: number }>(`SELECT queue_size FROM ack_log WHERE app_id = $1 ORDER BY id`, [appid]);
    expect(rows.map((r) => r.queue_size)).toEqual([1]);
  });
});
