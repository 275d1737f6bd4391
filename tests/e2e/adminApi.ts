/**
 * The operator's API for browser tests: signs in over HTTP like the
 * dashboard does, then calls the admin tRPC procedures over the channel
 * WebSocket with the session cookie. Tests make their own app, user, device
 * and UID with it, without going through any page.
 */
import { test as base, expect, type APIRequestContext } from '@playwright/test';
import { createTRPCClient, createWSClient, wsLink, type TRPCClient } from '@trpc/client';
import WebSocket from 'ws';
import type { AppRouter } from '../../src/server/trpc/routers/_app.ts';

export type AdminClient = TRPCClient<AppRouter>;

export interface AdminApi {
  client: AdminClient;
  close(): Promise<void>;
}

const SESSION_COOKIE = 'presence_operator';

/** Signs in with the e2e operator token; returns the `Cookie` header of the session. */
export async function operatorCookie(request: APIRequestContext): Promise<string> {
  const token = process.env.PRESENCE_E2E_ADMIN_TOKEN;
  if (!token) throw new Error('PRESENCE_E2E_ADMIN_TOKEN is not set (playwright.config.ts sets it)');
  const response = await request.post('/admin/login', { form: { token }, maxRedirects: 0 });
  expect(response.status(), 'operator sign-in answers with a redirect').toBe(303);
  expect(response.headers().location).toBe('/admin');
  const cookie = (await request.storageState()).cookies.find((c) => c.name === SESSION_COOKIE);
  if (!cookie) throw new Error('operator sign-in set no session cookie');
  return `${cookie.name}=${cookie.value}`;
}

/** An admin tRPC client over `ws://…/presence`, authenticated by the operator cookie. */
export async function openAdminApi(request: APIRequestContext, baseURL: string): Promise<AdminApi> {
  const cookie = await operatorCookie(request);
  // Node's `ws` can send headers with the upgrade, which a browser's WebSocket cannot.
  class CookieWebSocket extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols, { headers: { cookie } });
    }
  }
  const url = new URL('/presence', baseURL);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const wsClient = createWSClient({
    url: url.toString(),
    WebSocket: CookieWebSocket as unknown as typeof globalThis.WebSocket,
    retryDelayMs: () => 500,
  });
  const client = createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient })] });
  return { client, close: () => wsClient.close() };
}

/** One user with one device and a UID of one app: what a device-page test needs. */
export interface DeviceFixture {
  appid: string;
  appName: string;
  appKey: string;
  userId: string;
  deviceId: string;
  deviceName: string;
  deviceToken: string;
  uid: string;
}

/** Creates a fresh app (with these deep-link schemes), user, device and UID, all uniquely named. */
export async function createDeviceFixture(admin: AdminClient, options: { schemes?: string[] } = {}): Promise<DeviceFixture> {
  const suffix = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const appid = `e2e-${suffix}`;
  const appName = `Chat ${suffix}`;
  const deviceName = `Phone ${suffix}`;
  const { key: appKey } = await admin.admin.apps.create.mutate({ appid, name: appName, schemes: options.schemes ?? [] });
  const { userId } = await admin.admin.users.create.mutate({ name: `E2E user ${suffix}` });
  const { deviceId, token: deviceToken } = await admin.admin.devices.create.mutate({ userId, name: deviceName });
  const { uid } = await admin.admin.uids.grant.mutate({ appid, userId });
  return { appid, appName, appKey, userId, deviceId, deviceName, deviceToken, uid };
}

/** POSTs notifications for the fixture's user through the REST route, as an AppService does; expects the ack. */
export async function sendNotifications(request: APIRequestContext, fixture: DeviceFixture, items: { message: string; action: string }[]) {
  const response = await request.post(`/${fixture.appid}/notification`, {
    headers: { Authorization: `Bearer ${fixture.appKey}`, 'Content-Type': 'application/json' },
    data: items.map((item) => ({ UID: fixture.uid, ...item })),
  });
  const body = (await response.json()) as { result: string; queue_size?: number };
  expect(body, `POST /${fixture.appid}/notification`).toMatchObject({ result: 'OK' });
  expect(response.status()).toBe(200);
  return body;
}

/** The size of the fixture's queue, as the operator sees it. */
export async function queueSize(admin: AdminClient, fixture: DeviceFixture): Promise<number> {
  const uids = await admin.admin.uids.list.query({ appid: fixture.appid });
  const entry = uids.find((u) => u.uid === fixture.uid);
  if (!entry) throw new Error(`UID of ${fixture.appid} not listed`);
  return entry.queueSize;
}

/** Playwright's `test` with `admin`: one operator API client per worker, signed in with the e2e operator token. */
export const test = base.extend<object, { admin: AdminApi }>({
  admin: [
    async ({ playwright }, use, workerInfo) => {
      const baseURL = workerInfo.project.use.baseURL as string;
      const request = await playwright.request.newContext({ baseURL });
      const admin = await openAdminApi(request, baseURL);
      await use(admin);
      await admin.close();
      await request.dispose();
    },
    { scope: 'worker' },
  ],
});
