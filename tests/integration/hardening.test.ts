/**
 * Hardening through the real server: safe retries, rate limits, expiry,
 * health and metrics, CORS, and what never reaches the database or the logs.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/server/platform/config.ts';
import type { Database } from '../../src/server/platform/db/client.ts';
import { sweepExpiredItems } from '../../src/server/domain/notifications/expiry.ts';
import { FLUSH_EVERY_MS } from '../../src/server/domain/rateWindows.ts';
import { startPresence, type PresenceNode } from '../../src/server/server.ts';
import { connectChannel } from '../support/daemonClient.ts';
import { expireItems, makeDaemonUser, makeRecipient, queueItems, queueSize } from '../support/factories.ts';
import { postNotifications, startTestNode, useTestNode } from '../support/node.ts';

let node: PresenceNode;
let db: Database;
useTestNode((started) => ({ node, db } = started));

const item = (UID: string, message = 'hello', extra: Record<string, unknown> = {}) => ({ UID, message, action: 'https://example.com/', ...extra });

describe('Idempotency-Key', () => {
  it('answers a retry with the first ack and stores nothing new', async () => {
    const r = await makeRecipient(db);
    const headers = { 'Idempotency-Key': 'order-42-shipped' };
    const first = await postNotifications(node.url, r.appid, r.key, item(r.uid), { headers });
    const again = await postNotifications(node.url, r.appid, r.key, item(r.uid), { headers });
    expect(first.body).toEqual({ result: 'OK', queue_size: 1, queue_sizes: { [r.uid]: 1 } });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(await queueSize(db, r.uid)).toBe(1);
  });

  it('refuses the same key with a different body (422, errno 120), changing nothing', async () => {
    const r = await makeRecipient(db);
    const headers = { 'Idempotency-Key': 'k-1' };
    await postNotifications(node.url, r.appid, r.key, item(r.uid, 'one'), { headers });
    const other = await postNotifications(node.url, r.appid, r.key, item(r.uid, 'two'), { headers });
    expect(other.status).toBe(422);
    expect(other.body).toMatchObject({ result: 'KO', errno: 120 });
    expect((await queueItems(db, r.uid)).map((i) => i.message)).toEqual(['one']);
  });

  it('stores once when concurrent retries race with the same key', async () => {
    const r = await makeRecipient(db);
    const headers = { 'Idempotency-Key': 'race' };
    const answers = await Promise.all(Array.from({ length: 10 }, () => postNotifications(node.url, r.appid, r.key, item(r.uid), { headers })));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(new Set(answers.map((a) => JSON.stringify(a.body))).size).toBe(1);
    expect(await queueSize(db, r.uid)).toBe(1);
  });

  it('records only successes: after a refusal the key is still free', async () => {
    const r = await makeRecipient(db);
    const headers = { 'Idempotency-Key': 'fix-and-retry' };
    const refused = await postNotifications(node.url, r.appid, r.key, item('AAAAAAAAAAAAAAAAAAAAAA'), { headers });
    expect(refused.body.errno).toBe(105);
    const fixed = await postNotifications(node.url, r.appid, r.key, item(r.uid), { headers });
    expect(fixed.body).toMatchObject({ result: 'OK', queue_size: 1 });
  });

  it('keeps keys per app, and refuses an unusable key (102)', async () => {
    const a = await makeRecipient(db);
    const b = await makeRecipient(db);
    const headers = { 'Idempotency-Key': 'shared-name' };
    await postNotifications(node.url, a.appid, a.key, item(a.uid), { headers });
    expect((await postNotifications(node.url, b.appid, b.key, item(b.uid, 'other body'), { headers })).status).toBe(200);
    const bad = await postNotifications(node.url, a.appid, a.key, item(a.uid), { headers: { 'Idempotency-Key': 'x'.repeat(256) } });
    expect(bad).toMatchObject({ status: 400, body: { errno: 102 } });
  });
});

describe('rate limits', () => {
  it('answers 429 (errno 129, Retry-After) past the per-app limit', async () => {
    const a = await startTestNode({ RATE_LIMIT_PER_SECOND: '3' });
    try {
      const r = await makeRecipient(db);
      // Start at the beginning of a second, so the burst falls in one window.
      await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 20));
      const answers = await Promise.all(Array.from({ length: 8 }, () => postNotifications(a.url, r.appid, r.key, item(r.uid))));
      expect(answers.map((x) => x.status).sort()).toEqual([200, 200, 200, 429, 429, 429, 429, 429]);
      const slowed = answers.filter((x) => x.status === 429);
      expect(slowed[0]?.body).toMatchObject({ result: 'KO', errno: 129 });
      expect(slowed[0]?.headers.get('retry-after')).toBe('1');
      expect(await queueSize(db, r.uid)).toBe(3);
      // The node knows the app now: the first requests of the next second are counted in the database, the others here, as exactly.
      await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 20));
      const again = await Promise.all(Array.from({ length: 8 }, () => postNotifications(a.url, r.appid, r.key, item(r.uid))));
      expect(again.filter((x) => x.status === 200)).toHaveLength(3);
      // Another app is not slowed by this one.
      const other = await makeRecipient(db);
      expect((await postNotifications(a.url, other.appid, other.key, item(other.uid))).status).toBe(200);
    } finally {
      await a.close();
    }
  });

  it('once a node knows the app, counts a second’s requests itself after the first, and hears of another node’s within a tenth of a second', async () => {
    const env = { RATE_LIMIT_PER_SECOND: '3' };
    const [a, b] = await Promise.all([startTestNode(env), startTestNode(env)]);
    try {
      const r = await makeRecipient(db);
      for (const node of [a, b]) expect((await postNotifications(node.url, r.appid, r.key, item(r.uid))).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 20));
      const statuses: number[] = [];
      for (let n = 0; n < 4; n++) statuses.push((await postNotifications(a.url, r.appid, r.key, item(r.uid))).status);
      expect(statuses).toEqual([200, 200, 200, 429]);
      await new Promise((resolve) => setTimeout(resolve, FLUSH_EVERY_MS + 50));
      // Node a added its counts to the shared window; node b's first request of the second reads it there.
      expect((await postNotifications(b.url, r.appid, r.key, item(r.uid))).status).toBe(429);
      const { rows } = await db.pool.query('SELECT count::int AS n FROM rate_windows WHERE app_id = $1 ORDER BY window_start DESC LIMIT 1', [r.appid]);
      expect(rows[0].n).toBe(5);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('writes no request counts when no limit is configured', async () => {
    const unlimited = await startTestNode({ RATE_LIMIT_PER_SECOND: '0' });
    try {
      const r = await makeRecipient(db);
      expect((await postNotifications(unlimited.url, r.appid, r.key, item(r.uid))).status).toBe(200);
      expect((await postNotifications(unlimited.url, r.appid, 'prs_app_wrong', item(r.uid))).status).toBe(401);
      const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM rate_windows WHERE app_id = $1', [r.appid]);
      expect(rows[0].n).toBe(0);
    } finally {
      await unlimited.close();
    }
  });

  it('does not let requests with a wrong key spend an app’s quota', async () => {
    const limited = await startTestNode({ RATE_LIMIT_PER_SECOND: '2' });
    try {
      const r = await makeRecipient(db);
      await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 20));
      await Promise.all(Array.from({ length: 5 }, () => postNotifications(limited.url, r.appid, 'prs_app_wrong', item(r.uid))));
      expect((await postNotifications(limited.url, r.appid, r.key, item(r.uid))).status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});

describe('expiry', () => {
  it('neither delivers nor counts expired items, and the sweep removes them with exact sizes', async () => {
    const user = await makeDaemonUser(db);
    await postNotifications(node.url, user.appid, user.key, [item(user.uid, 'short', { ttl: 60 }), item(user.uid, 'kept')]);
    await expireItems(db, user.uid, ['short']);
    // A later push does not count the expired item.
    const ack = await postNotifications(node.url, user.appid, user.key, item(user.uid, 'third'));
    expect(ack.body.queue_size).toBe(2);
    await expireItems(db, user.uid, ['kept']);
    const daemon = connectChannel(node.url, user.token);
    try {
      expect((await daemon.event(0)).items.map((i) => i.message)).toEqual(['third']);
    } finally {
      await daemon.close();
    }
    expect(await sweepExpiredItems(db)).toBeGreaterThanOrEqual(1);
    expect((await queueItems(db, user.uid)).map((i) => i.message)).toEqual(['third']);
    expect(await queueSize(db, user.uid)).toBe(1);
  });
});

describe('health and metrics', () => {
  it('reports health', async () => {
    const res = await fetch(`${node.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', database: 'ok', migrations: 'ok' });
  });

  it('exports requests, stored and dropped notifications, queue totals, daemons and delivery latency', async () => {
    const user = await makeDaemonUser(db);
    const daemon = connectChannel(node.url, user.token);
    try {
      await daemon.event(0);
      await postNotifications(
        node.url,
        user.appid,
        user.key,
        Array.from({ length: 120 }, (_, n) => item(user.uid, `m${n}`)),
      );
      await postNotifications(node.url, user.appid, user.key, { UID: user.uid });
      await daemon.event(1);
      const text = await (await fetch(`${node.url}/metrics`)).text();
      expect(text).toContain(`presence_notification_requests_total{app="${user.appid}",result="OK",errno=""} 1`);
      expect(text).toContain(`presence_notification_requests_total{app="${user.appid}",result="KO",errno="102"} 1`);
      expect(text).toContain(`presence_notifications_stored_total{app="${user.appid}"} 120`);
      expect(text).toContain(`presence_notifications_dropped_total{app="${user.appid}"} 20`);
      expect(text).toMatch(/presence_connected_daemons [1-9]/);
      expect(text).toMatch(/presence_queued_items \d+/);
      expect(text).toMatch(/presence_delivery_latency_seconds_count [1-9]/);
    } finally {
      await daemon.close();
    }
  });
});

describe('CORS', () => {
  it('is off unless configured', async () => {
    const r = await makeRecipient(db);
    const preflight = await fetch(`${node.url}/${r.appid}/notification`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'POST' },
    });
    expect(preflight.status).toBe(405);
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    const post = await postNotifications(node.url, r.appid, r.key, item(r.uid), { headers: { Origin: 'https://app.example' } });
    expect(post.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers only the configured origins', async () => {
    const cors = await startTestNode({ CORS_ORIGINS: 'https://app.example' });
    try {
      const r = await makeRecipient(db);
      const preflight = await fetch(`${cors.url}/${r.appid}/notification`, {
        method: 'OPTIONS',
        headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'POST' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example');
      expect(preflight.headers.get('access-control-allow-headers')).toContain('Authorization');
      const allowed = await postNotifications(cors.url, r.appid, r.key, item(r.uid), { headers: { Origin: 'https://app.example' } });
      expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example');
      const other = await postNotifications(cors.url, r.appid, r.key, item(r.uid), { headers: { Origin: 'https://evil.example' } });
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await cors.close();
    }
  });
});

describe('secrets', () => {
  it('stores no plaintext key or token and logs no key, token or message body', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) });
    const logged = await startPresence(
      loadConfig({ DATABASE_URL: inject('databaseUrl'), PORT: '0', HOST: '127.0.0.1', NODE_ENV: 'test', LOG_LEVEL: 'debug' }),
      { web: false, logger: pino({ level: 'debug' }, sink) },
    );
    try {
      const user = await makeDaemonUser(db);
      const body = 'a private message body 7f3c';
      await postNotifications(logged.url, user.appid, user.key, item(user.uid, body));
      await postNotifications(logged.url, user.appid, user.key, { UID: user.uid, message: body });
      await postNotifications(logged.url, user.appid, `${user.key}-wrong`, item(user.uid, body));
      const daemon = connectChannel(logged.url, user.token);
      await daemon.event(0);
      await daemon.close();
      const secrets = [user.key, user.token, user.key.slice(8), user.token.slice(8)];
      const log = lines.join('');
      expect(log).toContain('POST notification');
      for (const secret of [...secrets, body]) expect(log).not.toContain(secret);

      const { rows: tables } = await db.pool.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
      );
      for (const { table_name } of tables) {
        const { rows } = await db.pool.query<{ row: string }>(`SELECT row_to_json(t)::text AS row FROM "${table_name}" t`);
        for (const { row } of rows) for (const secret of secrets) expect(row, table_name).not.toContain(secret);
      }
    } finally {
      await logged.close();
    }
  });
});
