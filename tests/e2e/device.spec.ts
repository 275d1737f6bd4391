/**
 * The browser device page (/device) through the real server and a real
 * Chromium: sign-in with a device token, the backlog and live items, acks
 * that empty the queue, safe rendering of what apps send, refusals, the
 * Notification API, and a phone-sized screen.
 */
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { expect, type Page, type WebSocket as PlaywrightWebSocket } from '@playwright/test';
import { createDeviceFixture, queueSize, sendNotifications, test, type DeviceFixture } from './adminApi.ts';

const screenshotDir = fileURLToPath(new URL('../../test-results/screenshots/', import.meta.url));
const TOKEN_KEY = 'presence.deviceToken';

test.beforeAll(async () => {
  await mkdir(screenshotDir, { recursive: true });
});

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${screenshotDir}device-${name}.png`, fullPage: true });
}

async function signIn(page: Page, fixture: DeviceFixture): Promise<void> {
  await page.goto('/device');
  await page.getByLabel('Device token').fill(fixture.deviceToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByText(`Connected as ${fixture.deviceName}`)).toBeVisible();
  await expect(page.getByRole('status').filter({ hasText: /^Connected$/ })).toBeVisible();
}

const notificationList = (page: Page) => page.getByRole('list', { name: 'Notifications' });
const listedItem = (page: Page, message: string) => notificationList(page).getByRole('listitem').filter({ hasText: message });
const storedToken = (page: Page) => page.evaluate((key) => window.localStorage.getItem(key), TOKEN_KEY);

test('items queued before the page opens are listed after sign-in, newest first, and acked', async ({ page, admin, request }) => {
  const fixture = await createDeviceFixture(admin.client, { schemes: ['chat'] });
  await sendNotifications(request, fixture, [{ message: 'Your nick was used in #general', action: 'https://chat.example/#general' }]);
  await sendNotifications(request, fixture, [{ message: 'Anna wants you in room 42', action: 'chat://room/42' }]);
  expect(await queueSize(admin.client, fixture)).toBe(2);

  await signIn(page, fixture);
  const items = notificationList(page).getByRole('listitem');
  await expect(items).toHaveCount(2);
  await expect(items.nth(0)).toContainText('Anna wants you in room 42');
  await expect(items.nth(0)).toContainText(fixture.appName);
  await expect(items.nth(1)).toContainText('Your nick was used in #general');
  await expect.poll(() => queueSize(admin.client, fixture)).toBe(0);
  await screenshot(page, 'desktop');

  // The token stays on the device, and never in a URL.
  expect(page.url()).not.toContain(fixture.deviceToken);
  expect(await storedToken(page)).toBe(fixture.deviceToken);
  await page.reload();
  await expect(page.getByText(`Connected as ${fixture.deviceName}`)).toBeVisible();
  // Acked items are gone from the queue, so a new page starts empty.
  await expect(page.getByText('No notifications yet. They appear here the moment an app sends one.')).toBeVisible();

  await page.getByRole('button', { name: 'Sign out of this device' }).click();
  await expect(page.getByLabel('Device token')).toBeVisible();
  expect(await storedToken(page)).toBeNull();
});

test('an item sent while the page is open appears live, without a navigation, and is acked', async ({ page, admin, request }) => {
  const fixture = await createDeviceFixture(admin.client);
  await signIn(page, fixture);
  await expect(page.getByText('No notifications yet. They appear here the moment an app sends one.')).toBeVisible();
  await page.evaluate(() => Object.assign(window, { __noReload: 1 }));

  await sendNotifications(request, fixture, [{ message: 'Someone wants you to join the room', action: 'https://chat.example/join' }]);
  await expect(listedItem(page, 'Someone wants you to join the room')).toBeVisible();
  expect(await page.evaluate(() => (window as unknown as { __noReload?: number }).__noReload)).toBe(1);
  await expect.poll(() => queueSize(admin.client, fixture)).toBe(0);
});

test('markup in a message is shown as text', async ({ page, admin, request }) => {
  const dialogs: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  const fixture = await createDeviceFixture(admin.client);
  const message = '<img src=x onerror=alert(1)><b>bold</b>';
  await signIn(page, fixture);
  await sendNotifications(request, fixture, [{ message, action: 'https://chat.example/' }]);

  const item = listedItem(page, message);
  await expect(item.getByText(message, { exact: true })).toBeVisible();
  await expect(notificationList(page).locator('b, img')).toHaveCount(0);
  expect(dialogs).toEqual([]);
});

test('an http(s) action opens in a new tab; a deep link is a plain link', async ({ page, admin, request }) => {
  const fixture = await createDeviceFixture(admin.client, { schemes: ['chat'] });
  await signIn(page, fixture);
  await sendNotifications(request, fixture, [
    { message: 'New message in #general', action: 'https://chat.example/rooms/general?from=presence' },
    { message: 'Anna wants you in room 42', action: 'chat://room/42' },
  ]);

  const web = listedItem(page, 'New message in #general').getByRole('link');
  await expect(web).toHaveAttribute('href', 'https://chat.example/rooms/general?from=presence');
  await expect(web).toHaveAttribute('target', '_blank');
  await expect(web).toHaveAttribute('rel', /\bnoopener\b/);
  await expect(web).toHaveAttribute('rel', /\bnoreferrer\b/);

  const deepLink = listedItem(page, 'Anna wants you in room 42').getByRole('link');
  await expect(deepLink).toHaveAttribute('href', 'chat://room/42');
  expect(await deepLink.getAttribute('target')).toBeNull();
});

test('an action with a forbidden scheme is shown as text, even if the server sent one', async ({ page, admin, request }) => {
  // The server refuses such actions, so rewrite two valid ones on their way to the page.
  const rewrites: [string, string][] = [
    ['https://rewrite.example/js', 'javascript:alert(document.cookie)'],
    ['https://rewrite.example/data', 'data:text/html,<script>alert(1)</script>'],
  ];
  const json = (text: string) => JSON.stringify(text).slice(1, -1);
  await page.routeWebSocket(/\/presence$|\/presence\?/, (ws) => {
    const server = ws.connectToServer();
    server.onMessage((message) => {
      if (typeof message !== 'string') return ws.send(message);
      ws.send(rewrites.reduce((text, [from, to]) => text.replaceAll(json(from), json(to)), message));
    });
  });
  const fixture = await createDeviceFixture(admin.client);
  await signIn(page, fixture);
  await sendNotifications(request, fixture, [
    { message: 'A script link', action: 'https://rewrite.example/js' },
    { message: 'A data link', action: 'https://rewrite.example/data' },
  ]);

  await expect(listedItem(page, 'A script link')).toContainText('javascript:alert(document.cookie)');
  await expect(listedItem(page, 'A data link')).toContainText('data:text/html,<script>alert(1)</script>');
  await expect(notificationList(page).getByRole('link')).toHaveCount(0);
  await expect(page.locator('a[href^="javascript:" i], a[href^="data:" i]')).toHaveCount(0);
});

test('a redelivered item is listed once and acked again', async ({ page, admin, request }) => {
  // Deliver every live message twice, as a lost ack followed by a reconnect would, and watch the acks.
  const ackedIds: string[][] = [];
  await page.routeWebSocket(/\/presence$|\/presence\?/, (ws) => {
    const server = ws.connectToServer();
    server.onMessage((message) => {
      ws.send(message);
      if (typeof message === 'string' && message.includes('"kind":"live"')) ws.send(message);
    });
    ws.onMessage((message) => {
      server.send(message);
      if (typeof message !== 'string' || !message.includes('daemon.ack')) return;
      for (const call of [JSON.parse(message)].flat() as { params?: { path?: string; input?: { ids?: string[] } } }[]) {
        if (call.params?.path === 'daemon.ack') ackedIds.push(call.params.input?.ids ?? []);
      }
    });
  });
  const fixture = await createDeviceFixture(admin.client);
  await signIn(page, fixture);
  await page.evaluate(() => Object.assign(window, { __noReload: 1 }));
  await sendNotifications(request, fixture, [{ message: 'Delivered twice', action: 'https://chat.example/' }]);

  await expect(listedItem(page, 'Delivered twice')).toBeVisible();
  await expect.poll(() => ackedIds.length).toBe(2);
  expect(ackedIds[0]).toEqual(ackedIds[1]);
  await expect(notificationList(page).getByRole('listitem')).toHaveCount(1);
  await expect.poll(() => queueSize(admin.client, fixture)).toBe(0);
  expect(await page.evaluate(() => (window as unknown as { __noReload?: number }).__noReload)).toBe(1);
});

test('after the browser goes offline and back online, new items still arrive', async ({ page, context, admin, request }) => {
  const fixture = await createDeviceFixture(admin.client);
  const sockets: PlaywrightWebSocket[] = [];
  page.on('websocket', (ws) => sockets.push(ws));
  await signIn(page, fixture);
  await page.evaluate(() => Object.assign(window, { __noReload: 1 }));
  await context.setOffline(true);
  await sendNotifications(request, fixture, [{ message: 'Sent while offline', action: 'https://chat.example/' }]);
  await context.setOffline(false);

  await expect(listedItem(page, 'Sent while offline')).toBeVisible();
  // Back online, the page opens a fresh connection instead of waiting out its backoff. Chromium's
  // offline emulation may leave the old socket open, so the item can arrive before the new one.
  await expect.poll(() => sockets.length).toBeGreaterThan(1);
  await expect(page.getByRole('status').filter({ hasText: /^Connected$/ })).toBeVisible();
  await expect.poll(() => queueSize(admin.client, fixture)).toBe(0);
  await sendNotifications(request, fixture, [{ message: 'Sent after coming back', action: 'https://chat.example/' }]);
  await expect(listedItem(page, 'Sent after coming back')).toBeVisible();
  await expect(notificationList(page).getByRole('listitem')).toHaveCount(2);
  expect(await page.evaluate(() => (window as unknown as { __noReload?: number }).__noReload)).toBe(1);
});

test('a wrong token is refused: the page says so and shows the sign-in form', async ({ page }) => {
  const sockets: PlaywrightWebSocket[] = [];
  page.on('websocket', (ws) => sockets.push(ws));
  await page.goto('/device');
  await page.getByLabel('Device token').fill('prs_dev_this-is-not-a-valid-device-token');
  await page.getByRole('button', { name: 'Sign in' }).click();

  await expect(page.getByRole('alert').filter({ hasText: 'This device token was refused' })).toBeVisible();
  await expect(page.getByLabel('Device token')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
  expect(await storedToken(page)).toBeNull();
  // It does not keep retrying: the client closed its socket.
  expect(sockets.length).toBeGreaterThan(0);
  await expect.poll(() => sockets.every((ws) => ws.isClosed())).toBe(true);
});

test('a device revoked while the page is open goes back to the sign-in form', async ({ page, admin }) => {
  const fixture = await createDeviceFixture(admin.client);
  await signIn(page, fixture);
  await admin.client.admin.devices.revoke.mutate({ deviceId: fixture.deviceId });

  await expect(page.getByRole('alert').filter({ hasText: 'This device token was refused' })).toBeVisible();
  await expect(page.getByLabel('Device token')).toBeVisible();
  expect(await storedToken(page)).toBeNull();
});

/** Replaces the Notification API with one that records what the page shows, and window.open with a recorder. */
function recordNotifications(options: { permission: 'granted' | 'default' }) {
  interface Recorded {
    title: string;
    body?: string;
    tag?: string;
    onclick: ((event: { preventDefault(): void }) => void) | null;
  }
  const record = window as unknown as { __shown: Recorded[]; __opened: unknown[][]; __permissionRequests: number };
  record.__shown = [];
  record.__opened = [];
  record.__permissionRequests = 0;
  let permission: NotificationPermission = options.permission;
  class RecordingNotification {
    title: string;
    body?: string;
    tag?: string;
    onclick: Recorded['onclick'] = null;
    constructor(title: string, init: NotificationOptions = {}) {
      this.title = title;
      this.body = init.body;
      this.tag = init.tag;
      record.__shown.push(this);
    }
    close() {}
    static get permission() {
      return permission;
    }
    static async requestPermission() {
      record.__permissionRequests += 1;
      permission = 'granted';
      return permission;
    }
  }
  Object.defineProperty(window, 'Notification', { value: RecordingNotification, configurable: true, writable: true });
  window.open = (...args: unknown[]) => {
    record.__opened.push(args);
    return null;
  };
}

const shownNotifications = (page: Page) =>
  page.evaluate(() =>
    (window as unknown as { __shown: { title: string; body?: string; tag?: string }[] }).__shown.map(({ title, body, tag }) => ({ title, body, tag })),
  );

test('with permission, each new item is also a browser notification; a click opens its action', async ({ page, context, admin, request, baseURL }) => {
  await context.grantPermissions(['notifications'], { origin: baseURL as string });
  await page.addInitScript(recordNotifications, { permission: 'granted' as const });
  const fixture = await createDeviceFixture(admin.client);
  await signIn(page, fixture);
  await expect(page.getByText('Browser notifications are on.')).toBeVisible();

  await sendNotifications(request, fixture, [{ message: 'Your nick was used in #general', action: 'https://chat.example/#general' }]);
  await expect(listedItem(page, 'Your nick was used in #general')).toBeVisible();
  await expect
    .poll(() => shownNotifications(page))
    .toEqual([{ title: fixture.appName, body: 'Your nick was used in #general', tag: expect.stringMatching(/^[1-9]\d*$/) }]);

  await page.evaluate(() =>
    (window as unknown as { __shown: { onclick(event: { preventDefault(): void }): void }[] }).__shown[0]?.onclick({ preventDefault() {} }),
  );
  expect(await page.evaluate(() => (window as unknown as { __opened: unknown[][] }).__opened)).toEqual([
    ['https://chat.example/#general', '_blank', 'noopener'],
  ]);
});

test('"Enable browser notifications" asks for permission only when clicked', async ({ page, admin, request }) => {
  await page.addInitScript(recordNotifications, { permission: 'default' as const });
  const fixture = await createDeviceFixture(admin.client);
  await signIn(page, fixture);
  const requests = () => page.evaluate(() => (window as unknown as { __permissionRequests: number }).__permissionRequests);

  // Before permission, items are listed but not shown as browser notifications.
  await sendNotifications(request, fixture, [{ message: 'Before permission', action: 'https://chat.example/' }]);
  await expect(listedItem(page, 'Before permission')).toBeVisible();
  expect(await requests()).toBe(0);
  expect(await shownNotifications(page)).toEqual([]);

  await page.getByRole('button', { name: 'Enable browser notifications' }).click();
  await expect(page.getByText('Browser notifications are on.')).toBeVisible();
  expect(await requests()).toBe(1);
  await sendNotifications(request, fixture, [{ message: 'After permission', action: 'https://chat.example/' }]);
  await expect(listedItem(page, 'After permission')).toBeVisible();
  await expect.poll(() => shownNotifications(page)).toEqual([expect.objectContaining({ title: fixture.appName, body: 'After permission' })]);
});

test.describe('on a phone', () => {
  test.use({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });

  test('the page fits a 390×844 screen', async ({ page, admin, request }) => {
    const fixture = await createDeviceFixture(admin.client, { schemes: ['chat'] });
    const fitsWidth = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);

    await page.goto('/device');
    await expect(page.getByLabel('Device token')).toBeVisible();
    expect(await fitsWidth()).toBe(true);
    await screenshot(page, 'phone-sign-in');

    await signIn(page, fixture);
    await expect(page.getByText('No notifications yet. They appear here the moment an app sends one.')).toBeVisible();
    await screenshot(page, 'phone-empty');

    await sendNotifications(request, fixture, [
      { message: 'Your nick was used in #general', action: 'https://chat.example/rooms/general?highlight=ada&from=presence-notification' },
      { message: 'Anna wants you to join room 42: "we are about to start the review, come when you can"', action: 'chat://room/42' },
      { message: 'Deploy finished ✅', action: 'https://ci.example/pipelines/987654321/jobs/123456789/artifacts/summary' },
    ]);
    await expect(notificationList(page).getByRole('listitem')).toHaveCount(3);
    expect(await fitsWidth()).toBe(true);
    await screenshot(page, 'phone');

    await page.getByRole('button', { name: 'Sign out of this device' }).click();
    await page.getByLabel('Device token').fill('prs_dev_wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').filter({ hasText: 'This device token was refused' })).toBeVisible();
    expect(await fitsWidth()).toBe(true);
    await screenshot(page, 'phone-refused');
  });
});
