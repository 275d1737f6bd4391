/**
 * Tags on the device page: a new item of the same (app, tag) updates the
 * listed card (the same element, not a second card) and its browser
 * notification carries a tag derived from (app, tag), so the browser replaces
 * it; a retraction removes the card and closes the notification.
 */
import { expect, type APIRequestContext } from '@playwright/test';
import { connectChannel } from '../support/daemonClient.ts';
import { createDeviceFixture, test, type DeviceFixture } from './adminApi.ts';

/** Replaces the Notification API with one that records the tags the page shows and closes. */
function recordNotifications() {
  const record = window as unknown as { __shown: string[]; __closed: string[] };
  record.__shown = [];
  record.__closed = [];
  class RecordingNotification {
    tag?: string;
    onclick: unknown = null;
    onclose: (() => void) | null = null;
    constructor(_title: string, init: NotificationOptions = {}) {
      this.tag = init.tag;
      record.__shown.push(init.tag ?? '');
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

async function post(request: APIRequestContext, fixture: DeviceFixture, route: 'notification' | 'retract', items: object[]) {
  const response = await request.post(`/${fixture.appid}/${route}`, {
    headers: { Authorization: `Bearer ${fixture.appKey}`, 'Content-Type': 'application/json' },
    data: items.map((item) => ({ UID: fixture.uid, ...item })),
  });
  expect(await response.json(), `POST /${fixture.appid}/${route}`).toMatchObject({ result: 'OK' });
}

test('a tagged item replaces its card in place and its browser notification by tag; a retraction removes the card and closes it', async ({
  page,
  context,
  admin,
  request,
  baseURL,
}) => {
  await context.grantPermissions(['notifications'], { origin: baseURL as string });
  await page.addInitScript(recordNotifications);
  const fixture = await createDeviceFixture(admin.client);
  await page.goto('/device');
  await page.getByLabel('Device token').fill(fixture.deviceToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByText('Browser notifications are on.')).toBeVisible();
  const list = page.getByRole('list', { name: 'Notifications' });
  const shown = () => page.evaluate(() => (window as unknown as { __shown: string[] }).__shown);
  const closed = () => page.evaluate(() => (window as unknown as { __closed: string[] }).__closed);

  await post(request, fixture, 'notification', [
    { message: '3 new messages', action: 'https://chat.example/', tag: 'unread:general' },
    { message: 'Untagged', action: 'https://chat.example/' },
  ]);
  await expect(list.getByRole('listitem')).toHaveCount(2);
  const card = await list.getByRole('listitem').filter({ hasText: '3 new messages' }).elementHandle();
  const [tagged, untagged] = await shown();
  expect(tagged).toContain('unread:general');

  await post(request, fixture, 'notification', [{ message: '5 new messages', action: 'https://chat.example/', tag: 'unread:general' }]);
  // The same element now says 5: updated in place, not a second card.
  await expect.poll(() => card?.textContent()).toContain('5 new messages');
  await expect(list.getByRole('listitem')).toHaveCount(2);
  await expect(list.getByText('3 new messages')).toHaveCount(0);
  // The browser gets the same tag again, which makes it replace the shown notification.
  await expect.poll(shown).toEqual([tagged, untagged, tagged]);

  await post(request, fixture, 'retract', [{ tag: 'unread:general' }]);
  await expect(list.getByRole('listitem')).toHaveCount(1);
  await expect(list.getByRole('listitem')).toHaveText(/Untagged/);
  await expect.poll(closed).toEqual([tagged]);
});

test('on a phone (service worker notifications) a retraction closes the tagged notification, and a dismissal elsewhere closes one by its item id', async ({
  page,
  context,
  admin,
  request,
  baseURL,
}) => {
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
    const workerTags = () =>
      page.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications()).map((notification) => notification.tag).sort());
    // As the page shows tagged items through the worker: the browser tag from (app, tag), the item id in the data.
    const unread = `presence-tag ${fixture.appid} unread`;
    const call = `presence-tag ${fixture.appid} call`;
    await page.evaluate(
      async ([first, second]) => {
        const registration = await navigator.serviceWorker.ready;
        await registration.showNotification('Chat', { body: '5 new', tag: first, data: { action: 'https://chat.example/', id: '9101' } });
        await registration.showNotification('Chat', { body: 'Anna calls', tag: second, data: { action: 'https://chat.example/', id: '9102' } });
      },
      [unread, call],
    );
    await expect.poll(workerTags).toEqual([call, unread]);
    await other.dismiss(['9102']);
    await expect.poll(workerTags).toEqual([unread]);
    await post(request, fixture, 'retract', [{ tag: 'unread' }]);
    await expect.poll(workerTags).toEqual([]);
  } finally {
    await other.close();
  }
});
