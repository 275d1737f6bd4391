/**
 * The typed client (src/client) against a real node and PostgreSQL: acks,
 * every refusal class, a rate-limit window, a response lost in transit,
 * splitting of long lists, and the deadline.
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { createPresenceClient, PresenceError, type FetchFunction, type Notification, type RetryInfo } from '../../src/client/index.ts';
import type { Database } from '../../src/server/platform/db/client.ts';
import type { PresenceNode } from '../../src/server/server.ts';
import { grantUid } from '../../src/server/domain/uids.ts';
import { createApp } from '../../src/server/domain/apps.ts';
import { createDevice } from '../../src/server/domain/devices.ts';
import { allowOnGrantPage } from '../support/consent.ts';
import { makeApp, makeRecipient, makeUser, queueItems, queueSize, uniqueAppid } from '../support/factories.ts';
import { startTestNode, useTestNode } from '../support/node.ts';

let node: PresenceNode;
let db: Database;
useTestNode((started) => ({ node, db } = started), { RATE_LIMIT_PER_SECOND: '0' });

const item = (UID: string, message = 'hello', extra: Record<string, unknown> = {}) => ({ UID, message, action: 'https://example.com/room/1', ...extra });

/** A fetch that records every request's Idempotency-Key and body. */
function recordingFetch(): { fetch: FetchFunction; requests: { key: string; body: string }[] } {
  const requests: { key: string; body: string }[] = [];
  return {
    requests,
    fetch: (input, init) => {
      requests.push({ key: (init.headers as Record<string, string>)['Idempotency-Key'] as string, body: init.body as string });
      return fetch(input, init);
    },
  };
}

describe('send', () => {
  it('stores a list and returns the typed ack with every queue size, under an Idempotency-Key', async () => {
    const app = await makeApp(db);
    const [a, b] = await Promise.all([0, 1].map(async () => (await grantUid(db, { appid: app.appid, userId: (await makeUser(db)).userId })).uid));
    const recorder = recordingFetch();
    const presence = createPresenceClient({ server: `${node.url}/`, appid: app.appid, key: app.key, fetch: recorder.fetch });
    const ack = await presence.send([item(a!, 'one'), item(a!, 'two'), item(b!, 'three', { ttl: 600 })]);
    expect(ack).toEqual({ result: 'OK', queue_size: 1, queue_sizes: { [a!]: 2, [b!]: 1 } });
    expect((await queueItems(db, a!)).map((i) => i.message)).toEqual(['one', 'two']);
    expect(recorder.requests).toHaveLength(1);
    expect(recorder.requests[0]!.key).toMatch(/^[0-9a-f-]{36}$/);

    // A single notification is a list of one; each call has a key of its own.
    expect(await presence.send(item(b!, 'four'))).toEqual({ result: 'OK', queue_size: 2, queue_sizes: { [b!]: 2 } });
    expect(recorder.requests[1]!.key).not.toBe(recorder.requests[0]!.key);
  });
});

describe('refusals', () => {
  /** The PresenceError a call throws, and how many requests it made. */
  async function refusal(options: { appid: string; key: string }, items: unknown): Promise<{ error: PresenceError; requests: number }> {
    const recorder = recordingFetch();
    const presence = createPresenceClient({ server: node.url, ...options, fetch: recorder.fetch });
    const error = await presence.send(items as Notification[]).then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(PresenceError);
    return { error: error as PresenceError, requests: recorder.requests.length };
  }

  it('throws each refusal class as a PresenceError with status, errno and the per-item errors, without retrying, and stores nothing', async () => {
    const { appid, key, uid } = await makeRecipient(db);
    const cases: [unknown, { appid?: string; key?: string }, number, number][] = [
      [[item(uid), item(uid, '')], {}, 400, 102],
      [[item(uid, 'hi', { url: 'https://example.com/' })], {}, 400, 103],
      [[item(uid, 'hi', { action: 'ftp://example.com/' })], {}, 400, 104],
      [[item('u_unknown0000000000000000000')], {}, 404, 105],
      [[item(uid, 'hi', { deep: JSON.parse('['.repeat(20) + ']'.repeat(20)) })], {}, 413, 106],
      [[item(uid)], { key: '' }, 401, 110],
      [[item(uid)], { key: 'prs_app_wrong' }, 401, 111],
    ];
    for (const [items, override, status, errno] of cases) {
      const { error, requests } = await refusal({ appid, key, ...override }, items);
      expect({ status: error.status, errno: error.errno, requests }, JSON.stringify(items)).toEqual({ status, errno, requests: 1 });
      expect(error.message.length).toBeGreaterThan(0);
      expect(error.requestId).toMatch(/\S/);
    }
    const { error } = await refusal({ appid, key }, [item(uid), item(uid, ''), item(uid, 'x', { ttl: 0, colour: 'red' })]);
    expect(error.errors).toEqual([
      expect.objectContaining({ index: 1, field: 'message', errno: 102 }),
      expect.objectContaining({ index: 2, field: 'colour', errno: 103 }),
      expect.objectContaining({ index: 2, field: 'ttl', errno: 102 }),
    ]);
    expect(error.errors_omitted).toBe(0);
    expect(await queueItems(db, uid)).toEqual([]);
  });

  it('reports errors beyond the first 100 as errors_omitted', async () => {
    const { appid, key, uid } = await makeRecipient(db);
    const { error } = await refusal(
      { appid, key },
      Array.from({ length: 150 }, () => item(uid, '')),
    );
    expect(error.errors).toHaveLength(100);
    expect(error.errors_omitted).toBe(50);
  });
});

describe('retries', () => {
  it('rides out a 429 window: waits for Retry-After and stores each call once', async () => {
    const limited = await startTestNode({ RATE_LIMIT_PER_SECOND: '1' });
    try {
      const { appid, key, uid } = await makeRecipient(db);
      const retries: RetryInfo[] = [];
      const presence = createPresenceClient({ server: limited.url, appid, key, onRetry: (info) => retries.push(info) });
      const acks = await Promise.all([1, 2, 3].map((n) => presence.send(item(uid, `m${n}`))));
      expect(acks.every((ack) => ack.result === 'OK')).toBe(true);
      expect(retries.length).toBeGreaterThan(0);
      expect(retries.every((r) => r.error.status === 429 && r.error.errno === 129 && r.delayMs >= 1000)).toBe(true);
      expect((await queueItems(db, uid)).map((i) => i.message).sort()).toEqual(['m1', 'm2', 'm3']);
    } finally {
      await limited.close();
    }
  });

  it('retries a request whose response was lost in transit with the same key, and the server stores it once', async () => {
    const { appid, key, uid } = await makeRecipient(db);
    const target = new URL(node.url);
    // A proxy that forwards every request but drops the first connection's response: the server stored it, the client never hears.
    let connections = 0;
    const proxy = net.createServer((client) => {
      const first = ++connections === 1;
      const upstream = net.connect(Number(target.port), target.hostname);
      client.pipe(upstream);
      upstream.on('data', (chunk) => (first ? client.destroy() : client.write(chunk)));
      upstream.on('end', () => client.end());
      client.on('error', () => upstream.destroy());
      client.on('close', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const recorder = recordingFetch();
      const retries: RetryInfo[] = [];
      const server = `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
      const presence = createPresenceClient({ server, appid, key, fetch: recorder.fetch, onRetry: (info) => retries.push(info) });
      const ack = await presence.send([item(uid, 'once'), item(uid, 'only once')]);
      expect(ack).toEqual({ result: 'OK', queue_size: 2, queue_sizes: { [uid]: 2 } });
      expect(retries.map((r) => r.error.status)).toEqual([0]);
      expect(recorder.requests).toHaveLength(2);
      expect(recorder.requests[1]!.key).toBe(recorder.requests[0]!.key);
      expect((await queueItems(db, uid)).map((i) => i.message)).toEqual(['once', 'only once']);
      expect(await queueSize(db, uid)).toBe(2);
    } finally {
      proxy.close();
    }
  });

  it('gives up at the deadline with status 0 when no server answers', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const retries: RetryInfo[] = [];
    const presence = createPresenceClient({
      server: `http://127.0.0.1:${port}`,
      appid: 'app',
      key: 'k',
      deadlineMs: 1500,
      onRetry: (info) => retries.push(info),
    });
    const error = (await presence.send(item('u')).catch((caught: unknown) => caught)) as PresenceError;
    expect(error).toBeInstanceOf(PresenceError);
    expect({ status: error.status, errno: error.errno }).toEqual({ status: 0, errno: null });
    expect(retries.length).toBeGreaterThan(0);
  });
});

describe('long lists', () => {
  it('sends 2,500 items as 3 requests of at most 1,000, each with its own key, in order, and merges the acks', async () => {
    const app = await makeApp(db);
    const uids = await Promise.all(Array.from({ length: 30 }, async () => (await grantUid(db, { appid: app.appid, userId: (await makeUser(db)).userId })).uid));
    const recorder = recordingFetch();
    const presence = createPresenceClient({ server: node.url, appid: app.appid, key: app.key, fetch: recorder.fetch });
    // 100 items for each of 25 UIDs, the last UID's items at the end.
    const items = Array.from({ length: 2_500 }, (_, n) => item(uids[Math.floor(n / 100)]!, `m${n}`));
    const ack = await presence.send(items);
    expect(recorder.requests.map((r) => (JSON.parse(r.body) as unknown[]).length)).toEqual([1_000, 1_000, 500]);
    expect(new Set(recorder.requests.map((r) => r.key)).size).toBe(3);
    expect(ack.queue_size).toBe(100);
    expect(Object.keys(ack.queue_sizes).sort()).toEqual(uids.slice(0, 25).sort());
    expect(Object.values(ack.queue_sizes).every((size) => size === 100)).toBe(true);
    expect((await queueItems(db, uids[24]!)).map((i) => i.message)).toEqual(Array.from({ length: 100 }, (_, n) => `m${2_400 + n}`));
  });

  it('keeps every request under 2 MiB, and a refusal in a later request names the caller’s indexes and what was stored before it', async () => {
    const { appid, key, uid } = await makeRecipient(db);
    const recorder = recordingFetch();
    const presence = createPresenceClient({ server: node.url, appid, key, fetch: recorder.fetch });
    // 512 four-byte characters: 1,000 such items would be over 2 MiB.
    const wide = '𝄞'.repeat(512);
    const items = Array.from({ length: 1_200 }, () => item(uid, wide));
    const ack = await presence.send(items);
    expect(ack.queue_size).toBe(100);
    const sizes = recorder.requests.map((r) => new TextEncoder().encode(r.body).length);
    expect(sizes.length).toBeGreaterThan(1);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(2 * 1024 * 1024);
    expect(recorder.requests.reduce((n, r) => n + (JSON.parse(r.body) as unknown[]).length, 0)).toBe(1_200);

    const bad = [...Array.from({ length: 1_000 }, (_, n) => item(uid, `ok${n}`)), item(uid, 'fine'), item(uid, '')];
    const error = (await presence.send(bad).catch((caught: unknown) => caught)) as PresenceError;
    expect(error).toBeInstanceOf(PresenceError);
    expect(error.accepted).toBe(1_000);
    expect(error.errors).toEqual([expect.objectContaining({ index: 1_001, field: 'message', errno: 102 })]);
  });
});

describe('retract', () => {
  it('takes tagged items back with the typed ack, counts nothing for a tag not pending, and throws refusals', async () => {
    const { appid, key, uid } = await makeRecipient(db);
    const presence = createPresenceClient({ server: node.url, appid, key });
    await presence.send([item(uid, 'call 1', { tag: 'call:1' }), item(uid, 'call 2', { tag: 'call:2' }), item(uid, 'untagged')]);
    expect(await presence.retract({ UID: uid, tag: 'call:1' })).toEqual({ result: 'OK', retracted: 1, queue_sizes: { [uid]: 2 } });
    expect(await presence.retract([{ UID: uid, tag: 'call:1' }])).toEqual({ result: 'OK', retracted: 0, queue_sizes: { [uid]: 2 } });
    expect((await queueItems(db, uid)).map((i) => i.message)).toEqual(['call 2', 'untagged']);

    const bad = (await presence
      .retract([
        { UID: uid, tag: 'call:2' },
        { UID: uid, tag: 'no spaces' },
      ])
      .catch((caught: unknown) => caught)) as PresenceError;
    expect(bad).toBeInstanceOf(PresenceError);
    expect({ status: bad.status, errno: bad.errno }).toEqual({ status: 400, errno: 102 });
    expect(bad.errors).toEqual([expect.objectContaining({ index: 1, field: 'tag', errno: 102 })]);
    const unknown = (await presence.retract({ UID: 'u_unknown0000000000000000000', tag: 'call:2' }).catch((caught: unknown) => caught)) as PresenceError;
    expect({ status: unknown.status, errno: unknown.errno }).toEqual({ status: 404, errno: 105 });
    expect((await queueItems(db, uid)).map((i) => i.message)).toEqual(['call 2', 'untagged']);
  });

  it('sends 1,500 retractions as 2 requests and sums what they retracted', async () => {
    const { appid, key, uid } = await makeRecipient(db);
    const recorder = recordingFetch();
    const presence = createPresenceClient({ server: node.url, appid, key, fetch: recorder.fetch });
    await presence.send(Array.from({ length: 10 }, (_, n) => item(uid, `m${n}`, { tag: `t${n * 150}` })));
    recorder.requests.length = 0;
    const ack = await presence.retract(Array.from({ length: 1_500 }, (_, n) => ({ UID: uid, tag: `t${n}` })));
    expect(recorder.requests.map((r) => (JSON.parse(r.body) as unknown[]).length)).toEqual([1_000, 500]);
    expect(recorder.requests[1]!.key).not.toBe(recorder.requests[0]!.key);
    expect(ack).toEqual({ result: 'OK', retracted: 10, queue_sizes: { [uid]: 0 } });
    expect(await queueSize(db, uid)).toBe(0);
  });
});

describe('consent', () => {
  it('grantUrl opens the grant page, and exchangeGrantCode turns its code into the UID once, throwing 160 for a reused code without retrying', async () => {
    const redirectUri = 'https://app.example/callback';
    const { appid, key } = await createApp(db, { appid: uniqueAppid('grants'), name: 'Client grants', redirectUris: [redirectUri] });
    const { userId } = await makeUser(db);
    const { token } = await createDevice(db, { userId, name: 'phone' });
    const recorder = recordingFetch();
    const presence = createPresenceClient({ server: node.url, appid, key, fetch: recorder.fetch });
    const url = presence.grantUrl({ redirectUri, state: 'a&b' });
    expect(url).toBe(`${node.url}/${appid}/grant?redirect_uri=${encodeURIComponent(redirectUri)}&state=a%26b`);
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Client grants');

    const { code, location } = await allowOnGrantPage(node.url, appid, token, { redirect_uri: redirectUri, state: 'a&b' });
    expect(location.searchParams.get('state')).toBe('a&b');
    const granted = await presence.exchangeGrantCode(code);
    expect(granted).toEqual({ uid: (await grantUid(db, { appid, userId })).uid });
    expect(await presence.send(item(granted.uid))).toMatchObject({ result: 'OK', queue_size: 1 });

    recorder.requests.length = 0;
    const reused = (await presence.exchangeGrantCode(code).catch((caught: unknown) => caught)) as PresenceError;
    expect(reused).toBeInstanceOf(PresenceError);
    expect({ status: reused.status, errno: reused.errno }).toEqual({ status: 400, errno: 160 });
    expect(recorder.requests).toHaveLength(1);
  });
});
