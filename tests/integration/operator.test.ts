/**
 * The operator's session and the dashboard API's guard, through the real
 * HTTP server and WebSocket: sign-in, cookie flags, the page guard, the
 * Origin check on a cookie-carrying WebSocket, and live queue updates.
 */
import http from 'node:http';
import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Database } from '../../src/server/platform/db/client.ts';
import type { AppRouter } from '../../src/server/trpc/routers/_app.ts';
import type { PresenceNode } from '../../src/server/server.ts';
import { makeRecipient, queueSize } from '../support/factories.ts';
import { postNotifications, startTestNode, useTestNode } from '../support/node.ts';

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

      const ack = await dashboard.client.admin.testSend.mutate({
        appid: recipient.appid,
        uid: recipient.uid,
        message: 'from the dashboard',
        action: 'chat://room/1',
      });
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
      await postNotifications(node.url, recipient.appid, recipient.key, { UID: recipient.uid, message: '', action: 'https://e.com/' });
      await expect
        .poll(() => seen.at(-1))
        .toEqual([
          { result: 'KO', errno: 102 },
          { result: 'OK', errno: null },
        ]);
      watching.unsubscribe();
    } finally {
      await dashboard.close();
    }
  });
});

/** A sign-in POST sent from a given local address (the loopback has all of 127.0.0.0/8), so tests do not share a throttle. */
function signInFrom(localAddress: string, token: string): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  const { hostname, port } = new URL(node.url);
  const body = new URLSearchParams({ token }).toString();
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: hostname,
        port,
        localAddress,
        path: '/admin/login',
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('sign-in throttle', () => {
  it('answers 429 with Retry-After once an address has failed 10 times, even for the right token, and only for that address', async () => {
    for (let attempt = 0; attempt < 10; attempt++) {
      const refused = await signInFrom('127.0.0.3', `prs_adm_wrong-guess-${attempt}`);
      expect(refused.status).toBe(303);
      expect(refused.headers.location).toBe('/admin/login?error=invalid');
    }
    const throttled = await signInFrom('127.0.0.3', 'prs_adm_wrong-guess-10');
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // While it waits, not even the right token gets in: guessing on is pointless.
    const right = await signInFrom('127.0.0.3', operatorToken);
    expect(right.status).toBe(429);
    expect(right.headers['set-cookie']).toBeUndefined();
    const elsewhere = await signInFrom('127.0.0.4', operatorToken);
    expect(elsewhere.status).toBe(303);
    expect(elsewhere.headers['set-cookie']?.[0]).toMatch(/^presence_operator=prs_adm_/);
  });
});

describe('ending every session', () => {
  it('"sign out everywhere" ends every operator session, and open watches on them end', async () => {
    const mine = await sessionCookie();
    const theirs = await sessionCookie();
    const dashboard = dashboardClient({ Cookie: theirs });
    const errors: unknown[] = [];
    let events = 0;
    try {
      dashboard.client.admin.queues.watch.subscribe(undefined, { onData: () => events++, onError: (error) => errors.push(error) });
      await expect.poll(() => events).toBeGreaterThan(0);

      const crossSite = await fetch(`${node.url}/admin/logout-everywhere`, {
        method: 'POST',
        redirect: 'manual',
        headers: { Cookie: mine, Origin: 'https://evil.example' },
      });
      expect(crossSite.status).toBe(403);
      const anonymous = await fetch(`${node.url}/admin/logout-everywhere`, { method: 'POST', redirect: 'manual' });
      expect(anonymous.status).toBe(303);
      expect((await fetch(`${node.url}/admin`, { redirect: 'manual', headers: { Cookie: theirs } })).status).not.toBe(303);

      const out = await fetch(`${node.url}/admin/logout-everywhere`, { method: 'POST', redirect: 'manual', headers: { Cookie: mine } });
      expect(out.status).toBe(303);
      expect(out.headers.get('location')).toBe('/admin/login');
      expect(out.headers.get('set-cookie')).toContain('Max-Age=0');
      for (const cookie of [mine, theirs]) {
        const after = await fetch(`${node.url}/admin`, { redirect: 'manual', headers: { Cookie: cookie } });
        expect(after.headers.get('location')).toBe('/admin/login');
      }
      await expect.poll(() => errors).toEqual([expect.objectContaining({ data: expect.objectContaining({ code: 'UNAUTHORIZED' }) })]);
    } finally {
      await dashboard.close();
    }
  });

  it('a node that starts with a changed ADMIN_TOKEN ends the sessions of the old token on every node', async () => {
    const old = await sessionCookie();
    const dashboard = dashboardClient({ Cookie: old });
    const errors: unknown[] = [];
    let events = 0;
    const newToken = 'prs_adm_operator-test-token-changed-9876';
    try {
      dashboard.client.admin.queues.watch.subscribe(undefined, { onData: () => events++, onError: (error) => errors.push(error) });
      await expect.poll(() => events).toBeGreaterThan(0);
      const changed = await startTestNode({ ADMIN_TOKEN: newToken });
      try {
        // The dashboard open on the node that still runs the old token is told, and its session is gone there too.
        await expect.poll(() => errors).toEqual([expect.objectContaining({ data: expect.objectContaining({ code: 'UNAUTHORIZED' }) })]);
        for (const url of [node.url, changed.url]) {
          const after = await fetch(`${url}/admin`, { redirect: 'manual', headers: { Cookie: old } });
          expect(after.headers.get('location')).toBe('/admin/login');
        }
        const signedIn = await fetch(`${changed.url}/admin/login`, {
          method: 'POST',
          redirect: 'manual',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ token: newToken }),
        });
        expect(signedIn.headers.get('location')).toBe('/admin');
      } finally {
        await changed.close();
      }
    } finally {
      await dashboard.close();
    }
  });
});

describe('request paths and headers', () => {
  it('redirects a path that is not in normal form to its normal form before the guard decides, and refuses encoded slashes', async () => {
    const raw = (path: string) =>
      new Promise<{ status: number; location: string | undefined }>((resolve, reject) => {
        const { hostname, port } = new URL(node.url);
        http
          .get({ host: hostname, port, path }, (res) => {
            res.resume();
            resolve({ status: res.statusCode ?? 0, location: res.headers.location });
          })
          .on('error', reject);
      });
    expect(await raw('/x/../admin')).toEqual({ status: 308, location: '/admin' });
    expect(await raw('/%2e%2e/admin?a=1')).toEqual({ status: 308, location: '/admin?a=1' });
    expect(await raw('//admin/./apps')).toEqual({ status: 308, location: '/admin/apps' });
    expect(await raw('/%61dmin')).toEqual({ status: 308, location: '/admin' });
    expect((await raw('/admin%2Fapps')).status).toBe(400);
    expect((await raw('/\\admin')).status).toBe(400);
    expect(await raw('/admin')).toEqual({ status: 303, location: '/admin/login' });
  });

  it('sends nosniff, DENY framing and a deny-all policy on answers that are not pages', async () => {
    for (const path of ['/healthz', '/nope/notification']) {
      const res = await fetch(`${node.url}${path}`);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(res.headers.get('referrer-policy')).toBe('same-origin');
    }
  });
});
