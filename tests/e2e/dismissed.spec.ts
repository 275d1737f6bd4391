/**
 * Dismissed everywhere, on the device page: a dismissal made on another
 * device of the user closes the page's notification of that item, and the
 * user closing the page's notification closes it on the other device (a real
 * daemon channel client) without coming back to the page.
 */
import { expect } from '@playwright/test';
import { connectChannel } from '../support/daemonClient.ts';
import { createDeviceFixture, sendNotifications, test } from './adminApi.ts';

/** Replaces the Notification API with one that records what the page shows and closes; close() fires onclose as browsers do. */
function recordNotifications() {
  interface Recorded {
    tag?: string;
    onclose: (() => void) | null;
  }
  const record = window as unknown as { __shown: Recorded[]; __closed: string[] };
  record.__shown = [];
  record.__closed = [];
  class RecordingNotification {
    tag?: string;
    onclick: unknown = null;
    onclose: (() => void) | null = null;
    constructor(_title: string, init: NotificationOptions = {}) {
      this.tag = init.tag;
      record.__shown.push(this);
    }
    close() {
      record.__closed.push(this.tag ?? '');
      this.onclose?.();
    }
    static readonly permission = 'granted';
    static async requestPermission() {
      return 'granted';
    }
  }
  Object.defineProperty(window, 'Notification', { value: RecordingNotification, configurable: true, writable: true });
}

test('a dismissal on another device closes the page’s notification, and the user closing one here closes it there', async ({
  page,
  context,
  admin,
  request,
  baseURL,
}) => {
  await context.grantPermissions(['notifications'], { origin: baseURL as string });
  await page.addInitScript(recordNotifications);
  const fixture = await createDeviceFixture(admin.client);
  const laptop = await admin.client.admin.devices.create.mutate({ userId: fixture.userId, name: 'laptop' });
  const other = connectChannel(baseURL as string, laptop.token);
  try {
    await other.event(0);
    await page.goto('/device');
    await page.getByLabel('Device token').fill(fixture.deviceToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByText('Browser notifications are on.')).toBeVisible();
    const shownTags = () => page.evaluate(() => (window as unknown as { __shown: { tag?: string }[] }).__shown.map((n) => n.tag));
    const closedTags = () => page.evaluate(() => (window as unknown as { __closed: string[] }).__closed);

    await sendNotifications(request, fixture, [{ message: 'Dismissed on the laptop', action: 'https://chat.example/' }]);
    await expect.poll(shownTags).toHaveLength(1);
    const [first] = await shownTags();
    await other.dismiss([first as string]);
    await expect.poll(closedTags).toEqual([first]);

    await sendNotifications(request, fixture, [{ message: 'Dismissed on the page', action: 'https://chat.example/' }]);
    await expect.poll(shownTags).toHaveLength(2);
    const second = (await shownTags())[1] as string;
    // The user closes it in the browser.
    await page.evaluate(() => (window as unknown as { __shown: { onclose(): void }[] }).__shown[1]?.onclose());
    // Only the page's own close goes out: the one the laptop asked for did not come back to it.
    await expect.poll(() => other.dismissals).toEqual([[second]]);
  } finally {
    await other.close();
  }
});

test('a dismissal on another device closes the service worker’s notification of that item', async ({ page, context, admin, baseURL }) => {
  await context.grantPermissions(['notifications'], { origin: baseURL as string });
  const fixture = await createDeviceFixture(admin.client);
  const laptop = await admin.client.admin.devices.create.mutate({ userId: fixture.userId, name: 'laptop' });
  const other = connectChannel(baseURL as string, laptop.token);
  try {
    await other.event(0);
    await page.goto('/device');
    await page.getByLabel('Device token').fill(fixture.deviceToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByText('Browser notifications are on.')).toBeVisible();
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
    // Shown as on a phone, where only the service worker may show notifications: tagged with the item id.
    const workerTags = () =>
      page.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications()).map((notification) => notification.tag).sort());
    await page.evaluate(async () => {
      const registration = await navigator.serviceWorker.ready;
      for (const tag of ['9001', '9002'])
        await registration.showNotification('Chat', { body: 'from the worker', tag, data: { action: 'https://chat.example/' } });
    });
    await expect.poll(workerTags).toEqual(['9001', '9002']);
    await other.dismiss(['9001']);
    await expect.poll(workerTags).toEqual(['9002']);
  } finally {
    await other.close();
  }
});
