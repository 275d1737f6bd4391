/**
 * The operator dashboard in a real browser against the real server
 * (globalSetup starts it with ADMIN_TOKEN = PRESENCE_E2E_ADMIN_TOKEN). Every
 * test signs in and makes its own app, user and UID through the UI.
 */
import { expect, test, type Locator, type Page } from '@playwright/test';
import { connectChannel } from '../support/daemonClient.ts';

const operatorToken = process.env.PRESENCE_E2E_ADMIN_TOKEN ?? '';
const SCREENSHOTS = 'test-results/screenshots';

function unique(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${SCREENSHOTS}/${name}.png`, fullPage: true });
}

async function signIn(page: Page): Promise<void> {
  await page.goto('/admin/login');
  await page.getByLabel('Operator token').fill(operatorToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/admin$/);
  await expect(page.getByTestId('connection-state')).toHaveText('Live');
}

/** Client-side navigation through the dashboard's menu. */
async function openSection(page: Page, name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name, exact: true }).click();
  await expect(page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name, exact: true })).toHaveAttribute('aria-current', 'page');
}

/** Creates an app on the Apps page; returns the key read from the shown-once box. */
async function createApp(page: Page, appid: string, schemes: string): Promise<string> {
  await openSection(page, 'Apps');
  await page.getByLabel('App id').fill(appid);
  await page.getByLabel('Name', { exact: true }).fill(`Chat ${appid}`);
  await page.getByLabel('Deep-link schemes').fill(schemes);
  await page.getByRole('button', { name: 'Create app' }).click();
  const secret = page.getByTestId('secret-once');
  await expect(secret).toContainText('Copy it now; it will not be shown again.');
  const key = (await secret.getByTestId('secret-value').textContent()) ?? '';
  expect(key).toMatch(/^prs_app_/);
  await expect(page.locator(`[data-testid="app-row"][data-appid="${appid}"]`)).toContainText(`${schemes}:`);
  return key;
}

async function createUser(page: Page, name: string): Promise<void> {
  await openSection(page, 'Users');
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByRole('button', { name: 'Create user' }).click();
  await expect(page.getByTestId('user-created')).toContainText(name);
  await expect(page.getByTestId('user-row').filter({ hasText: name })).toBeVisible();
}

/** Adds a device on the Devices page; returns the token read from the shown-once box. */
async function createDevice(page: Page, userName: string, deviceName: string): Promise<string> {
  await openSection(page, 'Devices');
  await page.getByLabel('User').selectOption({ label: userName });
  await page.getByLabel('Device name').fill(deviceName);
  await page.getByRole('button', { name: 'Add device' }).click();
  const secret = page.getByTestId('secret-once');
  await expect(secret).toContainText('Copy it now; it will not be shown again.');
  const token = (await secret.getByTestId('secret-value').textContent()) ?? '';
  expect(token).toMatch(/^prs_dev_/);
  await expect(page.getByTestId('device-row').filter({ hasText: deviceName })).toBeVisible();
  return token;
}

/** Grants a UID on the UIDs page; returns it as shown. */
async function grantUid(page: Page, appid: string, userName: string): Promise<string> {
  await openSection(page, 'UIDs');
  const form = page.getByRole('form', { name: 'Grant a UID' });
  await form.getByLabel('App').selectOption(appid);
  await form.getByLabel('User').selectOption({ label: userName });
  await form.getByRole('button', { name: 'Grant UID' }).click();
  const uid = (await page.getByTestId('granted-uid').textContent()) ?? '';
  expect(uid).toMatch(/^[A-Za-z0-9_-]{22,}$/);
  await expect(page.locator(`[data-testid="uid-row"][data-uid="${uid}"]`)).toContainText(userName);
  return uid;
}

interface Recipient {
  appid: string;
  key: string;
  userName: string;
  uid: string;
}

/** An app (deep-link scheme "chat"), a user, and the UID of one for the other. */
async function setUpRecipient(page: Page): Promise<Recipient> {
  const appid = unique('chat');
  const key = await createApp(page, appid, 'chat');
  const userName = unique('Ada');
  await createUser(page, userName);
  const uid = await grantUid(page, appid, userName);
  return { appid, key, userName, uid };
}

function queueRow(page: Page, uid: string): Locator {
  return page.locator(`[data-testid="queue-row"][data-uid="${uid}"]`);
}

function reloadMarker(page: Page): Promise<unknown> {
  return page.evaluate(() => (window as unknown as { __noReload?: number }).__noReload);
}

async function testSend(page: Page, r: Recipient, message: string, action: string): Promise<void> {
  await page.getByLabel('App', { exact: true }).selectOption(r.appid);
  await page.getByLabel('UID', { exact: true }).selectOption(r.uid);
  await page.getByLabel('Message').fill(message);
  await page.getByLabel('Action').fill(action);
  await page.getByRole('button', { name: 'Send test notification' }).click();
}

test('an anonymous visitor gets the sign-in page and no admin call', async ({ page, request }) => {
  await page.goto('/admin');
  await expect(page).toHaveURL(/\/admin\/login$/);
  await expect(page.getByRole('heading', { name: 'Operator sign-in' })).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Dashboard' })).toHaveCount(0);
  await screenshot(page, 'login');

  const redirect = await request.get('/admin/apps', { maxRedirects: 0 });
  expect(redirect.status()).toBe(303);
  expect(redirect.headers().location).toBe('/admin/login');

  // The channel refuses the dashboard's API without a session.
  const reply = await page.evaluate(
    () =>
      new Promise<string>((resolve, reject) => {
        const socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/presence`);
        socket.onopen = () => socket.send(JSON.stringify({ id: 1, method: 'query', params: { path: 'admin.apps.list' } }));
        socket.onmessage = (event) => {
          const message = JSON.parse(String(event.data)) as { id?: unknown };
          if (message.id !== 1) return;
          resolve(String(event.data));
          socket.close();
        };
        socket.onerror = () => reject(new Error('WebSocket error'));
      }),
  );
  expect(JSON.parse(reply)).toMatchObject({ id: 1, error: { data: { code: 'UNAUTHORIZED' } } });

  await page.getByLabel('Operator token').fill(`${operatorToken}-wrong`);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/admin\/login\?error=invalid$/);
  await expect(page.getByRole('alert').filter({ hasText: 'not valid' })).toHaveText('That token is not valid.');
  await page.goto('/admin');
  await expect(page).toHaveURL(/\/admin\/login$/);
});

test('an operator creates an app, a user, a device and a UID', async ({ page }) => {
  await signIn(page);
  const appid = unique('chat');
  await createApp(page, appid, 'chat');
  await expect(page.getByRole('button', { name: 'Copy' })).toBeVisible();
  await screenshot(page, 'apps');

  const userName = unique('Grace');
  await createUser(page, userName);
  await screenshot(page, 'users');

  await createDevice(page, userName, 'laptop');
  const device = page.getByTestId('device-row').filter({ hasText: 'laptop' }).filter({ hasText: userName });
  await expect(device.getByTestId('online-state')).toHaveText('offline');

  const uid = await grantUid(page, appid, userName);
  const row = page.locator(`[data-testid="uid-row"][data-uid="${uid}"]`);
  await expect(row).toContainText(appid);
  await expect(row.locator('td').nth(3)).toHaveText('0');
  await screenshot(page, 'uids');

  // A second grant while the UID is active gives the same UID.
  await page.getByRole('form', { name: 'Grant a UID' }).getByRole('button', { name: 'Grant UID' }).click();
  await expect(page.getByTestId('granted-uid')).toHaveText(uid);
});

test('queue sizes change live on the open Queues page, from a test send and from REST', async ({ page, context, request }) => {
  await signIn(page);
  const r = await setUpRecipient(page);
  await openSection(page, 'Queues');
  const size = queueRow(page, r.uid).getByTestId('queue-size');
  await expect(size).toHaveText('0');
  await page.evaluate(() => {
    (window as unknown as { __noReload?: number }).__noReload = 1;
  });

  const sender = await context.newPage();
  await sender.goto('/admin/send');
  await testSend(sender, r, 'Anna wants you in room 42', 'chat://room/42');
  await expect(sender.getByTestId('send-ack-queue-size')).toHaveText('1');
  await screenshot(sender, 'test-send');
  await expect(size).toHaveText('1');
  expect(await reloadMarker(page)).toBe(1);

  const response = await request.post(`/${r.appid}/notification`, {
    headers: { Authorization: `Bearer ${r.key}` },
    data: [{ UID: r.uid, message: 'Your nick was used in #general', action: 'https://chat.example/#general', ttl: 3600 }],
  });
  expect(response.status()).toBe(200);
  expect(await response.json()).toMatchObject({ result: 'OK', queue_size: 2 });
  await expect(size).toHaveText('2');
  expect(await reloadMarker(page)).toBe(1);
  await page.getByLabel('Filter').fill(r.userName);
  await expect(page.getByTestId('queue-row')).toHaveCount(1);
  await screenshot(page, 'queues');

  // The items, oldest first, on a client-side navigation.
  await queueRow(page, r.uid).getByRole('link').click();
  await expect(page).toHaveURL(new RegExp(`/admin/queues/${r.uid}$`));
  const items = page.getByTestId('queue-item');
  await expect(items).toHaveCount(2);
  await expect(items.nth(0)).toContainText('Anna wants you in room 42');
  await expect(items.nth(0)).toContainText('chat://room/42');
  await expect(items.nth(1)).toContainText('Your nick was used in #general');
  expect(await reloadMarker(page)).toBe(1);
  await screenshot(page, 'queue-items');

  await page.getByRole('button', { name: 'Purge queue' }).click();
  await page.getByRole('button', { name: 'Yes, purge' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Purged' })).toHaveText('Purged: 2 items removed.');
  await expect(page.getByTestId('queue-items-empty')).toBeVisible();

  await openSection(page, 'Acks');
  const acks = page.getByTestId('ack-row').filter({ hasText: r.appid });
  await expect(acks).toHaveCount(2);
  await expect(acks.first()).toHaveAttribute('data-result', 'OK');
  await expect(page.getByTestId('ack-chart')).toBeVisible();
  await sender.close();
});

test('a test send with a forbidden action is refused next to the field and stores nothing', async ({ page }) => {
  await signIn(page);
  const r = await setUpRecipient(page);
  await openSection(page, 'Test send');
  await testSend(page, r, 'Should not be stored', 'javascript:alert(1)');

  const actionError = page.locator('#send-action + #send-action-error');
  await expect(actionError).toBeVisible();
  await expect(actionError).toHaveAttribute('role', 'alert');
  await expect(actionError).toContainText('javascript');
  await expect(page.getByLabel('Action')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByTestId('send-refusal')).toContainText('errno 104');
  await expect(page.locator('#send-message-error')).toHaveCount(0);
  await expect(page.getByTestId('send-ack')).toHaveCount(0);
  await screenshot(page, 'test-send-refusal');

  await openSection(page, 'Queues');
  await expect(queueRow(page, r.uid).getByTestId('queue-size')).toHaveText('0');
  await openSection(page, 'Acks');
  const refusal = page.getByTestId('ack-row').filter({ hasText: r.appid });
  await expect(refusal).toHaveCount(1);
  await expect(refusal).toHaveAttribute('data-result', 'KO');
  await expect(refusal).toContainText('104');
  await expect(refusal).toContainText('action not allowed');
  await screenshot(page, 'acks');
});

test('a test send with a tag replaces the pending item of that tag, the queue items show the tag, a bad tag is refused beside its field, and the ack log marks a retraction and names the tags', async ({
  page,
  request,
}) => {
  await signIn(page);
  const r = await setUpRecipient(page);
  await openSection(page, 'Test send');
  const tag = page.getByLabel('Tag (optional)');
  await tag.fill('unread:general');
  await testSend(page, r, '3 new messages', 'https://chat.example/');
  await expect(page.getByTestId('send-ack-queue-size')).toHaveText('1');
  await testSend(page, r, '5 new messages', 'https://chat.example/');
  await expect(page.getByTestId('send-ack')).toBeVisible();
  await expect(page.getByTestId('send-ack-queue-size')).toHaveText('1');
  await tag.fill('not a tag');
  await testSend(page, r, 'refused', 'https://chat.example/');
  await expect(page.locator('#send-tag + #send-tag-error')).toContainText('tag');

  await page.goto(`/admin/queues/${r.uid}`);
  const items = page.getByTestId('queue-item');
  await expect(items).toHaveCount(1);
  await expect(items.first()).toContainText('5 new messages');
  await expect(items.first()).toContainText('unread:general');

  const retracted = await request.post(`/${r.appid}/retract`, {
    headers: { Authorization: `Bearer ${r.key}` },
    data: [{ UID: r.uid, tag: 'unread:general' }],
  });
  expect(await retracted.json()).toMatchObject({ result: 'OK', retracted: 1 });
  await openSection(page, 'Acks');
  const rows = page.getByTestId('ack-row').filter({ hasText: r.appid });
  await expect(rows.filter({ hasText: 'retraction' })).toHaveCount(1);
  // Both pushes and the retraction name the tag; the refused send stored nothing and names none.
  await expect(rows.filter({ hasText: 'unread:general' })).toHaveCount(3);
  await expect(rows.filter({ hasText: 'retraction' })).toContainText('unread:general');
});

test('markup in a message is shown as text in the queue items', async ({ page, request }) => {
  page.on('dialog', (dialog) => {
    throw new Error(`unexpected dialog: ${dialog.message()}`);
  });
  await signIn(page);
  const r = await setUpRecipient(page);
  const markup = '<img src=x onerror=alert(1)><b>bold</b>';
  const response = await request.post(`/${r.appid}/notification`, {
    headers: { Authorization: `Bearer ${r.key}` },
    data: { UID: r.uid, message: markup, action: 'chat://room/1' },
  });
  expect(response.status()).toBe(200);

  await page.goto(`/admin/queues/${r.uid}`);
  const items = page.getByTestId('queue-items');
  await expect(items.getByText(markup, { exact: true })).toBeVisible();
  await expect(items.locator('b, img')).toHaveCount(0);
});

test('an operator revokes a connected device and signs out', async ({ page, baseURL }) => {
  await signIn(page);
  const userName = unique('Linus');
  await createUser(page, userName);
  const deviceName = unique('phone');
  const token = await createDevice(page, userName, deviceName);

  const daemon = connectChannel(baseURL ?? '', token, { retry: false });
  try {
    await daemon.event(0);
    const row = page.getByTestId('device-row').filter({ hasText: deviceName });
    await expect(row.getByTestId('online-state')).toHaveText('online');
    await screenshot(page, 'devices');

    await row.getByRole('button', { name: 'Revoke' }).click();
    await row.getByRole('button', { name: 'Yes, revoke' }).click();
    await expect(page.getByTestId('device-row').filter({ hasText: deviceName })).toHaveCount(0);
    await expect(page.getByRole('status').filter({ hasText: 'Revoked' })).toHaveText(`Revoked ${deviceName}.`);
    // The server closed the revoked device's socket.
    await expect.poll(() => daemon.closeCodes).toContain(4403);
  } finally {
    await daemon.close();
  }

  // Signing out in another tab ends the session: this tab's open watch ends with it and takes the
  // tab to the sign-in page by itself (a click here would race that navigation).
  const other = await page.context().newPage();
  await other.goto('/admin');
  await other.getByRole('button', { name: 'Sign out', exact: true }).click();
  await expect(other).toHaveURL(/\/admin\/login$/);
  await expect(page).toHaveURL(/\/admin\/login$/);
  await page.goto('/admin/devices');
  await expect(page).toHaveURL(/\/admin\/login$/);
  await other.close();
});

// Ends every session on the shared server: keep it last in this file, and note that a worker-scoped
// admin session opened by an earlier file would end with it (device.spec.ts and security.spec.ts open theirs later).
test('"Sign out everywhere" ends every operator session: another browser\'s open dashboard goes to sign-in by itself', async ({ page, browser }) => {
  await signIn(page);
  // Another browser (its own cookie jar, so its own session), watching the queues.
  const elsewhere = await browser.newContext();
  const other = await elsewhere.newPage();
  try {
    await signIn(other);
    await page.getByRole('button', { name: 'Sign out everywhere' }).click();
    await expect(page).toHaveURL(/\/admin\/login$/);
    await expect(other).toHaveURL(/\/admin\/login$/);
    for (const tab of [page, other]) {
      await tab.goto('/admin/apps');
      await expect(tab).toHaveURL(/\/admin\/login$/);
    }
  } finally {
    await elsewhere.close();
  }
});
