/**
 * POST /<appid>/notification through the real HTTP server and a real
 * PostgreSQL: acks, the cap under concurrency, and every refusal.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/server/platform/db/client.ts';
import type { PresenceNode } from '../../src/server/server.ts';
import { revokeUid } from '../../src/server/domain/uids.ts';
import { grantUid } from '../../src/server/domain/uids.ts';
import { makeApp, makeRecipient, makeUser, queueItems, queueSize } from '../support/factories.ts';
import { postNotifications, useTestNode } from '../support/node.ts';

let node: PresenceNode;
let db: Database;
useTestNode((started) => ({ node, db } = started));

const item = (UID: string, message = 'hello', extra: Record<string, unknown> = {}) => ({ UID, message, action: 'https://example.com/room/1', ...extra });

describe('acks', () => {
  it('acks a single notification with queue_size 1, after it is stored', async () => {
    const { appid, key, uid } = await makeRecipient(db);
    const res = await postNotifications(node.url, appid, key, item(uid, 'your nick was used'));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ result: 'OK', queue_size: 1, queue_sizes: { [uid]: 1 } });
    expect((await queueItems(db, uid)).map((i) => i.message)).toEqual(['your nick was used']);
  });

  it('keeps the newest 100 of 150 items in one request, in order', async () => {
    const { appid, key, uid } = await makeRecipient(db);
    const batch = Array.from({ length: 150 }, (_, n) => item(uid, `m${n}`));
    const res = await postNotifications(node.url, appid, key, batch);
    expect(res.body).toMatchObject({ result: 'OK', queue_size: 100 });
    const messages = (await queueItems(db, uid)).map((i) => i.message);
    expect(messages).toEqual(Array.from({ length: 100 }, (_, n) => `m${n + 50}`));
    expect(await queueSize(db, uid)).toBe(100);
  });

  it('reports each queue of a batch and the size of the last item’s queue', async () => {
    const app = await makeApp(db);
    const uids = await Promise.all([0, 1].map(async () => (await grantUid(db, { appid: app.appid, userId: (await makeUser(db)).userId })).uid));
    const [a, b] = uids as [string, string];
    const res = await postNotifications(node.url, app.appid, app.key, [item(a), item(a), item(b)]);
    expect(res.body).toEqual({ result: 'OK', queue_size: 1, queue_sizes: { [a]: 2, [b]: 1 } });
  });

  it('keeps exactly the newest 100 when 40 requests of 5 race for one queue', async () => {
    const { appid, key, uid } = await makeRecipient(db);
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, r) =>
        postNotifications(
          node.url,
          appid,
          key,
          Array.from({ length: 5 }, (_, i) => item(uid, `r${r}-${i}`)),
        ),
      ),
    );
    expect(results.every((res) => res.status === 200)).toBe(true);
    // Commits are serialised by the queue lock: sizes 5, 10, … 100, then 100.
    const sizes = results.map((res) => res.body.queue_size as number).sort((x, y) => x - y);
    expect(sizes).toEqual([...Array.from({ length: 20 }, (_, k) => 5 * (k + 1)), ...Array(20).fill(100)]);

    const items = await queueItems(db, uid);
    expect(items).toHaveLength(100);
    expect(await queueSize(db, uid)).toBe(100);
    // 20 whole requests remain, each contiguous and in order, all acked at 100.
    const fullAcks = new Set(results.flatMap((res, r) => (res.body.queue_size === 100 ? [r] : [])));
    for (let g = 0; g < 20; g++) {
      const group = items.slice(g * 5, g * 5 + 5).map((i) => i.message);
      const request = Number(/^r(\d+)-0$/.exec(group[0] as string)?.[1]);
      expect(group).toEqual([0, 1, 2, 3, 4].map((i) => `r${request}-${i}`));
      expect(fullAcks.has(request)).toBe(true);
    }
    const ids = items.map((i) => BigInt(i.id));
    expect(ids.every((id, n) => n === 0 || id > (ids[n - 1] as bigint))).toBe(true);
  });

  it('accepts 512 characters counted as code points, outside the BMP too, and refuses 513', async () => {
    const { appid, key, uid } = await makeRecipient(db);
    const astral = '😀'; // two UTF-16 units, one code point
    const action512 = `https://example.com/${'a'.repeat(512 - 'https://example.com/'.length)}`;
    const ok = await postNotifications(node.url, appid, key, [item(uid, astral.repeat(512)), { UID: uid, message: 'x', action: action512 }]);
    expect(ok.status).toBe(200);
    const long = await postNotifications(node.url, appid, key, [item(uid, astral.repeat(513)), { UID: uid, message: 'x', action: `${action512}a` }]);
    expect(long.status).toBe(400);
    expect(long.body.errno).toBe(102);
    expect(long.body.errors).toMatchObject([
      { index: 0, field: 'message', errno: 102 },
      { index: 1, field: 'action', errno: 102 },
    ]);
    expect(await queueSize(db, uid)).toBe(2);
  });

  it('accepts deep links with a registered scheme and a ttl', async () => {
    const { appid, key, uid } = await makeRecipient(db, { schemes: ['chat'] });
    const res = await postNotifications(node.url, appid, key, item(uid, 'join', { action: 'chat://room/42', ttl: 60 }));
    expect(res.status).toBe(200);
    const { rows } = await db.pool.query('SELECT expires_at - created_at AS ttl FROM queue_items WHERE uid = $1', [uid]);
    expect(rows[0].ttl).toMatchObject({ minutes: 1 });
  });
});

describe('refusals', () => {
  let app: Awaited<ReturnType<typeof makeRecipient>>;
  beforeAll(async () => {
    app = await makeRecipient(db, { schemes: ['chat'] });
  });

  const expectRefused = async (res: { status: number; body: Record<string, any> }, status: number, errno: number) => {
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({ result: 'KO', errno });
    expect(typeof res.body.error).toBe('string');
    expect(await queueSize(db, app.uid)).toBe(0);
  };

  it('108: a method other than POST, with Allow', async () => {
    const res = await fetch(`${node.url}/${app.appid}/notification`, { headers: { Authorization: `Bearer ${app.key}` } });
    expect(res.headers.get('allow')).toBe('POST');
    await expectRefused({ status: res.status, body: await res.json() }, 405, 108);
  });

  it('110: missing or malformed credentials', async () => {
    await expectRefused(await postNotifications(node.url, app.appid, null, item(app.uid)), 401, 110);
    await expectRefused(await postNotifications(node.url, app.appid, null, item(app.uid), { headers: { Authorization: `Basic ${app.key}` } }), 401, 110);
  });

  it('111: a wrong key, another app’s key, or no such app', async () => {
    const other = await makeApp(db);
    await expectRefused(await postNotifications(node.url, app.appid, `${app.key}x`, item(app.uid)), 401, 111);
    await expectRefused(await postNotifications(node.url, app.appid, other.key, item(app.uid)), 401, 111);
    await expectRefused(await postNotifications(node.url, 'no-such-app', app.key, item(app.uid)), 401, 111);
  });

  it('107: a body that is not declared JSON', async () => {
    await expectRefused(await postNotifications(node.url, app.appid, app.key, item(app.uid), { headers: { 'Content-Type': 'text/plain' } }), 415, 107);
  });

  it('106: more than 2 MiB or more than 1,000 items', async () => {
    const huge = JSON.stringify([item(app.uid, 'x'.repeat(2 * 1024 * 1024))]);
    await expectRefused(await postNotifications(node.url, app.appid, app.key, huge, { raw: true }), 413, 106);
    await expectRefused(
      await postNotifications(
        node.url,
        app.appid,
        app.key,
        Array.from({ length: 1001 }, () => item(app.uid)),
      ),
      413,
      106,
    );
  });

  it('100: a body that is not JSON, or not UTF-8', async () => {
    await expectRefused(await postNotifications(node.url, app.appid, app.key, '[{"UID": ', { raw: true }), 400, 100);
    const latin1 = await fetch(`${node.url}/${app.appid}/notification`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${app.key}` },
      body: Buffer.from(`{"UID":"${app.uid}","message":"caf\xe9","action":"https://e.com/"}`, 'latin1'),
    });
    await expectRefused({ status: latin1.status, body: await latin1.json() }, 400, 100);
  });

  it('101: not a notification or a non-empty list of them', async () => {
    for (const body of ['"hello"', '42', 'null', '[]', '[1, 2]']) {
      await expectRefused(await postNotifications(node.url, app.appid, app.key, body, { raw: true }), 400, 101);
    }
  });

  it('102: missing, mistyped, empty or unstorable fields, and ttl out of range', async () => {
    const res = await postNotifications(node.url, app.appid, app.key, [
      { UID: app.uid, action: 'https://e.com/' },
      { UID: app.uid, message: 7, action: 'https://e.com/' },
      { UID: app.uid, message: '', action: 'https://e.com/' },
      item(app.uid, 'ttl', { ttl: 0 }),
      item(app.uid, 'ttl', { ttl: 30 * 24 * 3600 + 1 }),
      item(app.uid, 'ttl', { ttl: 1.5 }),
      { UID: 12, message: 'x', action: 'https://e.com/' },
    ]);
    await expectRefused(res, 400, 102);
    expect(res.body.errors.map((e: { index: number; field: string }) => `${e.index}:${e.field}`)).toEqual([
      '0:message',
      '1:message',
      '2:message',
      '3:ttl',
      '4:ttl',
      '5:ttl',
      '6:UID',
    ]);
    // A lone surrogate and a NUL are not text PostgreSQL can store.
    const raw = `[{"UID":"${app.uid}","message":"\\ud800","action":"https://e.com/"},{"UID":"${app.uid}","message":"a\\u0000b","action":"https://e.com/"}]`;
    const unstorable = await postNotifications(node.url, app.appid, app.key, raw, { raw: true });
    await expectRefused(unstorable, 400, 102);
    expect(unstorable.body.errors).toHaveLength(2);
  });

  it('103: unknown fields by name, with a hint for the old name of action', async () => {
    const res = await postNotifications(node.url, app.appid, app.key, { UID: app.uid, message: 'x', url: 'https://e.com/' });
    await expectRefused(res, 400, 103);
    expect(res.body.errors[0]).toMatchObject({ index: 0, field: 'url', errno: 103 });
    expect(res.body.errors[0].error).toContain('did you mean "action"?');
  });

  it('104: actions that are neither web links with a host nor registered deep links', async () => {
    const actions = [
      'javascript:alert(1)',
      'data:text/html,hi',
      'file:///etc/passwd',
      'vbscript:x',
      'blob:https://e.com/x',
      'http:foo',
      'https://',
      'mail:someone',
      'https://e.com/a b',
    ];
    const res = await postNotifications(
      node.url,
      app.appid,
      app.key,
      actions.map((action) => ({ UID: app.uid, message: 'x', action })),
    );
    await expectRefused(res, 400, 104);
    expect(res.body.errors.map((e: { index: number }) => e.index)).toEqual(actions.map((_, n) => n));
  });

  it('105: unknown, malformed, revoked and foreign UIDs, listed by index', async () => {
    const foreign = await makeRecipient(db);
    const revoked = await grantUid(db, { appid: app.appid, userId: (await makeUser(db)).userId });
    await revokeUid(db, revoked.uid);
    const res = await postNotifications(node.url, app.appid, app.key, [
      item(app.uid),
      item('AAAAAAAAAAAAAAAAAAAAAA'),
      item('not a uid'),
      item(revoked.uid),
      item(foreign.uid),
    ]);
    await expectRefused(res, 404, 105);
    expect(res.body.errors.map((e: { index: number }) => e.index)).toEqual([1, 2, 3, 4]);
    expect(await queueSize(db, foreign.uid)).toBe(0);
  });

  it('checks in order: credentials before content type, items before UIDs', async () => {
    await expectRefused(await postNotifications(node.url, app.appid, 'wrong', 'not json', { raw: true, headers: { 'Content-Type': 'text/plain' } }), 401, 111);
    await expectRefused(
      await postNotifications(node.url, app.appid, app.key, [item('unknown-uid'), { UID: app.uid, message: '', action: 'https://e.com/' }]),
      400,
      102,
    );
  });

  it('a refused batch changes no queue, even with valid items in it', async () => {
    const res = await postNotifications(node.url, app.appid, app.key, [item(app.uid), item(app.uid), { UID: app.uid, message: 'x', action: 'ftp://e.com' }]);
    await expectRefused(res, 400, 104);
    expect(await queueItems(db, app.uid)).toEqual([]);
  });

  it('logs refusals of an authenticated app for the dashboard', async () => {
    await postNotifications(node.url, app.appid, app.key, { nope: true });
    await expect
      .poll(async () => (await db.pool.query("SELECT errno FROM ack_log WHERE app_id = $1 AND result = 'KO'", [app.appid])).rows.length)
      .toBeGreaterThan(0);
  });
});
