/**
 * Tags through the real HTTP server and a real PostgreSQL: a tagged item
 * replaces the pending one of its queue, `POST /<appid>/retract` takes tagged
 * items back, and a user's connected devices hear of it on every node.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/server/platform/db/client.ts';
import type { PresenceNode } from '../../src/server/server.ts';
import { grantUid } from '../../src/server/domain/uids.ts';
import { recentAcks } from '../../src/server/domain/ackLog.ts';
import { pushNotifications, retractTags } from '../../src/server/domain/notifications/push.ts';
import { connectChannel, type ChannelClient } from '../support/daemonClient.ts';
import { makeApp, makeDaemonUser, makeRecipient, makeUser, queueItems, queueSize } from '../support/factories.ts';
import { postNotifications, startTestNode, useTestNode } from '../support/node.ts';

let node: PresenceNode;
let db: Database;
useTestNode((started) => ({ node, db } = started));

const item = (UID: string, message: string, extra: Record<string, unknown> = {}) => ({ UID, message, action: 'https://example.com/room/1', ...extra });

async function postRetract(baseUrl: string, appid: string, key: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${baseUrl}/${appid}/retract`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${key}`, ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

async function tagsOf(uid: string): Promise<{ message: string; tag: string | null }[]> {
  const { rows } = await db.pool.query<{ message: string; tag: string | null }>('SELECT message, tag FROM queue_items WHERE uid = $1 ORDER BY id', [uid]);
  return rows;
}

describe('the tag field', () => {
  it('takes 1 to 64 of A-Z a-z 0-9 . _ : - and refuses anything else with 102 on the tag field', async () => {
    const { appid, key, uid } = await makeRecipient(db);
    const ok = await postNotifications(node.url, appid, key, item(uid, 'fine', { tag: `unread:general_${'x'.repeat(47)}.-` }));
    expect(ok.status).toBe(200);
    for (const tag of ['', 'x'.repeat(65), 'has space', 'é', 'a/b', 7, null]) {
      const res = await postNotifications(node.url, appid, key, [item(uid, 'a'), item(uid, 'b', { tag })]);
      expect(res.status, String(tag)).toBe(400);
      expect(res.body).toMatchObject({ errno: 102, errors: [{ index: 1, field: 'tag', errno: 102 }] });
    }
    const hinted = await postNotifications(node.url, appid, key, item(uid, 'c', { Tag: 'x' }));
    expect(hinted.body).toMatchObject({ errno: 103, errors: [{ field: 'Tag', error: 'unknown field "Tag": did you mean "tag"?' }] });
    expect((await tagsOf(uid)).map((i) => i.message)).toEqual(['fine']);
  });
});

describe('replacing', () => {
  it('deletes the pending item of the same tag: the new one is the newest, the ack counts it once', async () => {
    const { appid, key, uid } = await makeRecipient(db);
    await postNotifications(node.url, appid, key, [item(uid, '3 new messages', { tag: 'unread' }), item(uid, 'call', { tag: 'call' }), item(uid, 'plain')]);
    const res = await postNotifications(node.url, appid, key, item(uid, '5 new messages', { tag: 'unread' }));
    expect(res.body).toEqual({ result: 'OK', queue_size: 3, queue_sizes: { [uid]: 3 } });
    expect(await tagsOf(uid)).toEqual([
      { message: 'call', tag: 'call' },
      { message: 'plain', tag: null },
      { message: '5 new messages', tag: 'unread' },
    ]);
    expect(await queueSize(db, uid)).toBe(3);
  });

  it('counts a replacement once toward the cap: a full queue keeps all its other items', async () => {
    const { appid, key, uid } = await makeRecipient(db);
    await postNotifications(node.url, appid, key, [...Array.from({ length: 99 }, (_, n) => item(uid, `m${n}`)), item(uid, 'count 1', { tag: 'count' })]);
    const res = await postNotifications(node.url, appid, key, item(uid, 'count 2', { tag: 'count' }));
    expect(res.body).toEqual({ result: 'OK', queue_size: 100, queue_sizes: { [uid]: 100 } });
    const messages = (await queueItems(db, uid)).map((i) => i.message);
    expect(messages).toEqual([...Array.from({ length: 99 }, (_, n) => `m${n}`), 'count 2']);
    expect(await queueSize(db, uid)).toBe(100);
  });

  it('keeps the later of two items with the same UID and tag in one batch, and sizes count it once', async () => {
    const { appid, key, uid } = await makeRecipient(db);
    const res = await postNotifications(node.url, appid, key, [item(uid, 'first', { tag: 't' }), item(uid, 'between'), item(uid, 'second', { tag: 't' })]);
    expect(res.body).toEqual({ result: 'OK', queue_size: 2, queue_sizes: { [uid]: 2 } });
    expect(await tagsOf(uid)).toEqual([
      { message: 'between', tag: null },
      { message: 'second', tag: 't' },
    ]);
    expect(await queueSize(db, uid)).toBe(2);
  });

  it('leaves one item per tag when 20 requests with the same tag race, each acked as if alone', async () => {
    const { appid, key, uid } = await makeRecipient(db);
    await postNotifications(node.url, appid, key, item(uid, 'untagged'));
    const results = await Promise.all(Array.from({ length: 20 }, (_, r) => postNotifications(node.url, appid, key, item(uid, `r${r}`, { tag: 'race' }))));
    expect(results.map((res) => res.body.queue_size)).toEqual(Array(20).fill(2));
    const items = await tagsOf(uid);
    expect(items).toHaveLength(2);
    expect(items[0]).toEqual({ message: 'untagged', tag: null });
    expect(items[1]?.tag).toBe('race');
    expect(await queueSize(db, uid)).toBe(2);
  });

  it('replaces per (UID, app): the same tag in another app’s queue or another user’s queue stays', async () => {
    const { appid, key, uid, userId } = await makeRecipient(db);
    const other = await makeApp(db);
    const { uid: otherAppUid } = await grantUid(db, { appid: other.appid, userId });
    const { uid: otherUserUid } = await grantUid(db, { appid, userId: (await makeUser(db)).userId });
    await postNotifications(node.url, other.appid, other.key, item(otherAppUid, 'other app', { tag: 'same' }));
    await postNotifications(node.url, appid, key, [item(uid, 'mine', { tag: 'same' }), item(otherUserUid, 'other user', { tag: 'same' })]);
    expect(await tagsOf(otherAppUid)).toEqual([{ message: 'other app', tag: 'same' }]);
    expect(await tagsOf(uid)).toEqual([{ message: 'mine', tag: 'same' }]);
    expect(await tagsOf(otherUserUid)).toEqual([{ message: 'other user', tag: 'same' }]);
  });
});

describe('POST /<appid>/retract', () => {
  it('deletes the pending items with those tags and answers how many and the sizes', async () => {
    const { appid, key, uid } = await makeRecipient(db);
    await postNotifications(node.url, appid, key, [item(uid, 'a', { tag: 'a' }), item(uid, 'b', { tag: 'b' }), item(uid, 'plain')]);
    const res = await postRetract(node.url, appid, key, [
      { UID: uid, tag: 'a' },
      { UID: uid, tag: 'a' },
    ]);
    expect(res).toEqual({ status: 200, body: { result: 'OK', retracted: 1, queue_sizes: { [uid]: 2 } } });
    expect((await tagsOf(uid)).map((i) => i.message)).toEqual(['b', 'plain']);
    expect(await queueSize(db, uid)).toBe(2);
    // A single object is a list of one.
    const single = await postRetract(node.url, appid, key, { UID: uid, tag: 'b' });
    expect(single.body).toEqual({ result: 'OK', retracted: 1, queue_sizes: { [uid]: 1 } });
    const [logged] = (await recentAcks(db, 50)).filter((entry) => entry.appId === appid);
    expect(logged).toMatchObject({ kind: 'retract', result: 'OK', itemCount: 1, uids: [uid], tags: ['b'], queueSize: 1 });
  });

  it('answers OK with retracted 0 for a tag that is not pending', async () => {
    const { appid, key, uid } = await makeRecipient(db);
    const res = await postRetract(node.url, appid, key, { UID: uid, tag: 'never-sent' });
    expect(res).toEqual({ status: 200, body: { result: 'OK', retracted: 0, queue_sizes: { [uid]: 0 } } });
  });

  it('refuses as the notification route does: 111, 105 all or nothing, 102, 103, 106, 101', async () => {
    const { appid, key, uid } = await makeRecipient(db);
    const stranger = await makeRecipient(db);
    await postNotifications(node.url, appid, key, item(uid, 'kept', { tag: 'k' }));

    expect((await postRetract(node.url, appid, 'wrong-key', { UID: uid, tag: 'k' })).body).toMatchObject({ result: 'KO', errno: 111 });
    const foreign = await postRetract(node.url, appid, key, [
      { UID: uid, tag: 'k' },
      { UID: stranger.uid, tag: 'k' },
    ]);
    expect(foreign).toMatchObject({ status: 404, body: { errno: 105, errors: [{ index: 1, field: 'UID', errno: 105 }] } });
    expect((await tagsOf(uid)).map((i) => i.message)).toEqual(['kept']);
    expect((await postRetract(node.url, appid, key, { UID: uid, tag: 'no spaces' })).body).toMatchObject({
      errno: 102,
      errors: [{ field: 'tag', errno: 102 }],
    });
    expect((await postRetract(node.url, appid, key, { UID: uid })).body).toMatchObject({ errno: 102, errors: [{ field: 'tag', error: 'tag is required' }] });
    expect((await postRetract(node.url, appid, key, { UID: uid, tag: 'k', uid: 'x' })).body).toMatchObject({
      errno: 103,
      errors: [{ field: 'uid', error: 'unknown field "uid": did you mean "UID"?' }],
    });
    const tooMany = Array.from({ length: 1_001 }, () => ({ UID: uid, tag: 'k' }));
    expect((await postRetract(node.url, appid, key, tooMany)).body).toMatchObject({ errno: 106 });
    expect((await postRetract(node.url, appid, key, [])).body).toMatchObject({ errno: 101 });
    expect((await tagsOf(uid)).map((i) => i.message)).toEqual(['kept']);
  });

  it('answers a retry with the same Idempotency-Key with its first answer and deletes nothing new', async () => {
    const { appid, key, uid } = await makeRecipient(db);
    await postNotifications(node.url, appid, key, item(uid, 'first', { tag: 'x' }));
    const body = { UID: uid, tag: 'x' };
    const first = await postRetract(node.url, appid, key, body, { 'Idempotency-Key': 'retract-1' });
    expect(first.body).toEqual({ result: 'OK', retracted: 1, queue_sizes: { [uid]: 0 } });
    await postNotifications(node.url, appid, key, item(uid, 'again', { tag: 'x' }));
    const replay = await postRetract(node.url, appid, key, body, { 'Idempotency-Key': 'retract-1' });
    expect(replay).toEqual(first);
    expect((await tagsOf(uid)).map((i) => i.message)).toEqual(['again']);
    const reused = await postRetract(node.url, appid, key, { UID: uid, tag: 'y' }, { 'Idempotency-Key': 'retract-1' });
    expect(reused.body).toMatchObject({ errno: 120 });
  });
});

describe('in one group transaction', () => {
  it('runs pushes and retractions in arrival order, each answered as if alone', async () => {
    const { appid, uid } = await makeRecipient(db);
    const busy = await makeRecipient(db);
    // The first push starts a group at once; the next three wait and go together in the next one.
    const note = (message: string, tag?: string) => ({ uid, message, action: 'https://example.com/', ...(tag ? { tag } : {}) });
    const blocker = pushNotifications(db, busy.appid, [{ uid: busy.uid, message: 'blocker', action: 'https://example.com/' }]);
    const [first, retraction, third] = await Promise.all([
      pushNotifications(db, appid, [note('first', 'x'), note('plain')]),
      retractTags(db, appid, [{ uid, tag: 'x' }]),
      pushNotifications(db, appid, [note('third', 'x')]),
    ]);
    await blocker;
    expect(first.ack.queue_sizes).toEqual({ [uid]: 2 });
    expect(retraction.ack).toEqual({ result: 'OK', retracted: 1, queue_sizes: { [uid]: 1 } });
    expect(third.ack.queue_sizes).toEqual({ [uid]: 2 });
    expect(await tagsOf(uid)).toEqual([
      { message: 'plain', tag: null },
      { message: 'third', tag: 'x' },
    ]);
    expect(await queueSize(db, uid)).toBe(2);
    const logged = (await recentAcks(db, 50)).filter((entry) => entry.appId === appid).reverse();
    expect(logged.map((entry) => [entry.kind, entry.tags, entry.queueSize])).toEqual([
      ['notification', ['x'], 2],
      ['retract', ['x'], 1],
      ['notification', ['x'], 2],
    ]);
    // now() is the transaction's start: one time for all three.
    expect(new Set(logged.map((entry) => entry.at)).size).toBe(1);
  });
});

describe('on the channel', () => {
  let second: PresenceNode;
  const open: ChannelClient[] = [];
  beforeAll(async () => {
    second = await startTestNode();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((client) => client.close()));
  });
  afterAll(async () => {
    await second?.close();
  });

  it('carries the tag, and tells the user’s devices on another node what was retracted, pending or not', async () => {
    const user = await makeDaemonUser(db);
    const stranger = await makeDaemonUser(db);
    const daemon = connectChannel(second.url, user.token);
    const other = connectChannel(second.url, stranger.token);
    open.push(daemon, other);
    await Promise.all([daemon.event(0), other.event(0)]);

    await postNotifications(node.url, user.appid, user.key, item(user.uid, 'ringing', { tag: 'call:42' }));
    const live = await daemon.event(1);
    expect(live.items).toMatchObject([{ message: 'ringing', tag: 'call:42', appid: user.appid }]);
    await daemon.ack(live.items.map((i) => i.id));

    // Acked (so no longer pending), yet still shown on the device: it is told all the same.
    const res = await postRetract(node.url, user.appid, user.key, { UID: user.uid, tag: 'call:42' });
    expect(res.body).toEqual({ result: 'OK', retracted: 0, queue_sizes: { [user.uid]: 0 } });
    await expect.poll(() => daemon.retractions).toEqual([[{ appid: user.appid, tag: 'call:42' }]]);
    expect(other.retractions).toEqual([]);
  });
});
