/**
 * The operator's session and the dashboard API's guard, through the real
 * HTTP server and WebSocket: sign-in, cookie flags, the page guard, the
 * Origin check on a cookie-carrying WebSocket, and live queue updates.
 */
import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Database } from '../../src/server/db/client.ts';
import type { AppRouter } from '../../src/server/routers/_app.ts';
import type { PresenceNode } from '../../src/server/server.ts';
import { makeRecipient, queueSize } from '../support/factories.ts';
import { postNotifications, useTestNode } from '../support/node.ts';

const operatorToken = 'prs_adm_operator-test-token-0123456789';
let node: PresenceNode;
let db: Database;
useTestNode((started) => ({ node, db } = started), { ADMIN_TOKEN: operatorToken });

async function signIn(token = operatorToken, headers: Record<string, string> = {}) {
  return fetch(`${node.url}/admin/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ token }),
  });
}

async function sessionCookie(): Promise<string> {
  const res = await signIn();
  return (res.headers.get('set-cookie') ?? '').split(';')[0] as string;
}

/** A dashboard client whose WebSocket upgrade carries `headers` (the cookie, an Origin). */
function dashboardClient(headers: Record<string, string>) {
  class HeaderedWebSocket extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols, { headers });
    }
  }
  const closes: number[] = [];
  const wsClient = createWSClient({
    url: `${node.url.replace('http', 'ws')}/presence`,
    WebSocket: HeaderedWebSocket as unknown as typeof globalThis.WebSocket,
    retryDelayMs: () => 60_000,
    onClose: (cause) => closes.push(cause?.code ?? 0),
  });
  return { client: createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient })] }), closes, close: () => wsClient.close() };
}

describe('operator sign-in', () => {
  it('refuses a wrong token and says why on the sign-in page', async () => {
    const res = await signIn('prs_adm_wrong');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/admin/login?error=invalid');
    expect(res.headers.get('set-cookie')).toBeNull();
  });

  it('sets an httpOnly, SameSite=Strict session cookie for the right token', async () => {
    const res = await signIn();
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/admin');
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^presence_operator=prs_adm_[\w-]+;/);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    expect(cookie).toContain('Path=/');
  });

  it('refuses a cross-site sign-in and sign-out', async () => {
    const res = await signIn(operatorToken, { Origin: 'https://evil.example' });
    expect(res.status).toBe(403);
    expect(res.headers.get('set-cookie')).toBeNull();
    const cookie = await sessionCookie();
    const out = await fetch(`${node.url}/admin/logout`, { method: 'POST', redirect: 'manual', headers: { Cookie: cookie, Origin: 'https://evil.example' } });
    expect(out.status).toBe(403);
    const still = await fetch(`${node.url}/admin`, { redirect: 'manual', headers: { Cookie: cookie } });
    expect(still.status).not.toBe(303);
  });

  it('sends a visitor without a session from every dashboard page to sign-in', async () => {
    for (const path of ['/admin', '/admin/apps', '/admin/queues/x']) {
      const res = await fetch(`${node.url}${path}`, { redirect: 'manual' });
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe('/admin/login');
    }
    const forged = await fetch(`${node.url}/admin`, { redirect: 'manual', headers: { Cookie: 'presence_operator=prs_adm_forged' } });
    expect(forged.status).toBe(303);
  });

  it('ends the session on sign-out', async () => {
    const cookie = await sessionCookie();
    const out = await fetch(`${node.url}/admin/logout`, { method: 'POST', redirect: 'manual', headers: { Cookie: cookie } });
    expect(out.status).toBe(303);
    expect(out.headers.get('set-cookie')).toContain('Max-Age=0');
    const after = await fetch(`${node.url}/admin`, { redirect: 'manual', headers: { Cookie: cookie } });
    expect(after.headers.get('location')).toBe('/admin/login');
  });
});

describe('dashboard API', () => {
  it('refuses every admin procedure without a session', async () => {
    const anonymous = dashboardClient({});
    try {
      await expect(anonymous.client.admin.apps.list.query()).rejects.toMatchObject({ data: { code: 'UNAUTHORIZED' } });
      await expect(anonymous.client.admin.apps.create.mutate({ appid: 'never-created' })).rejects.toMatchObject({ data: { code: 'UNAUTHORIZED' } });
    } finally {
      await anonymous.close();
    }
    expect(await db.prisma.app.count({ where: { id: 'never-created' } })).toBe(0);
  });

  it('ends open watches when the operator signs out', async () => {
    const cookie = await sessionCookie();
    const dashboard = dashboardClient({ Cookie: cookie });
    const errors: unknown[] = [];
    let events = 0;
    try {
      dashboard.client.admin.queues.watch.subscribe(undefined, { onData: () => events++, onError: (error) => errors.push(error) });
      await expect.poll(() => events).toBeGreaterThan(0);
      await fetch(`${node.url}/admin/logout`, { method: 'POST', redirect: 'manual', headers: { Cookie: cookie } });
      await expect.poll(() => errors).toEqual([expect.objectContaining({ data: expect.objectContaining({ code: 'UNAUTHORIZED' }) })]);
    } finally {
      await dashboard.close();
    }
  });

  it('refuses a WebSocket that carries the operator cookie from another origin', async () => {
    const cookie = await sessionCookie();
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${node.url.replace('http', 'ws')}/presence`, { headers: { Cookie: cookie, Origin: 'http://localhost:9999' } });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => {
        ws.close();
        resolve(101);
      });
      ws.on('error', () => undefined);
    });
    expect(status).toBe(403);
  });

  it('serves an operator: management, test send with inline refusals, live queue sizes', async () => {
    const cookie = await sessionCookie();
    const dashboard = dashboardClient({ Cookie: cookie, Origin: node.url.replace('localhost', '127.0.0.1') });
    try {
      const recipient = await makeRecipient(db, { schemes: ['chat'] });
      const sizes: number[] = [];
      const watching = dashboard.client.admin.queues.watch.subscribe(undefined, {
        onData: (queues) => {
          const mine = queues.find((q) => q.uid === recipient.uid);
          if (mine) sizes.push(mine.size);
        },
      });
      await expect.poll(() => sizes).toEqual([0]);

      const ack = await dashboard.client.admin.testSend.mutate({ appid: recipient.appid, uid: recipient.uid, message: 'from the dashboard', action: 'chat://room/1' });
      expect(ack).toMatchObject({ result: 'OK', queue_size: 1 });
      await expect.poll(() => sizes.at(-1)).toBe(1);
      await postNotifications(node.url, recipient.appid, recipient.key, { UID: recipient.uid, message: 'over REST', action: 'https://e.com/' });
      await expect.poll(() => sizes.at(-1)).toBe(2);

      const refused = await dashboard.client.admin.testSend.mutate({ appid: recipient.appid, uid: recipient.uid, message: 'x', action: 'javascript:alert(1)' });
      expect(refused).toMatchObject({ result: 'KO', errno: 104, errors: [{ field: 'action', errno: 104 }] });
      expect(await queueSize(db, recipient.uid)).toBe(2);

      const items = await dashboard.client.admin.queues.items.query({ uid: recipient.uid });
      expect(items.map((i) => i.message)).toEqual(['from the dashboard', 'over REST']);
      expect(await dashboard.client.admin.queues.purge.mutate({ uid: recipient.uid })).toEqual({ removed: 2 });
      await expect.poll(() => sizes.at(-1)).toBe(0);
      watching.unsubscribe();

      await expect(dashboard.client.admin.apps.create.mutate({ appid: recipient.appid })).rejects.toMatchObject({ data: { code: 'CONFLICT', errno: 309 } });
      await expect(dashboard.client.admin.apps.create.mutate({ appid: 'admin' })).rejects.toMatchObject({ data: { code: 'BAD_REQUEST', errno: 300 } });
    } finally {
      await dashboard.close();
    }
  });

  it('shows acks and refusals in the live ack log with a per-minute count', async () => {
    const cookie = await sessionCookie();
    const dashboard = dashboardClient({ Cookie: cookie });
    try {
      const recipient = await makeRecipient(db);
      const seen: { result: string; errno: number | null }[][] = [];
      const watching = dashboard.client.admin.acks.watch.subscribe(undefined, {
        onData: ({ entries, perMinute }) => {
          expect(perMinute).toHaveLength(30);
          seen.push(entries.filter((e) => e.appId === recipient.appid).map((e) => ({ result: e.result, errno: e.errno })));
        },
      });
      await expect.poll(() => seen.length).toBeGreaterThan(0);
      await postNotifications(node.url, recipient.appid, recipient.key, { UID: recipient.uid, message: 'ok', action: 'https://e.com/' });
      await postNotifications(node.url, recipient.appid, recipient.key, { UID: recipient.uid, message: '' , action: 'https://e.com/' });
      await expect.poll(() => seen.at(-1)).toEqual([
        { result: 'KO', errno: 102 },
        { result: 'OK', errno: null },
      ]);
      watching.unsubscribe();
    } finally {
      await dashboard.close();
    }
  });
});
