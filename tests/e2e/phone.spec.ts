/**
 * Every page on a phone (390×844) through the real server and a real
 * Chromium: nothing wider than the screen, no console error (a missing
 * favicon logs one), and the device page installable to the home screen
 * (its manifest and icons served, of the sizes they claim).
 */
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { expect, type APIRequestContext, type Page } from '@playwright/test';
import { createDeviceFixture, sendNotifications, test, type DeviceFixture } from './adminApi.ts';

const screenshotDir = fileURLToPath(new URL('../../test-results/screenshots/', import.meta.url));
const operatorToken = process.env.PRESENCE_E2E_ADMIN_TOKEN ?? '';

test.use({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });

test.beforeAll(async () => {
  await mkdir(screenshotDir, { recursive: true });
});

/** Console errors and uncaught exceptions of a page, except the 404 of a document that is meant to be one. */
function collectConsoleErrors(page: Page, expected404?: string): string[] {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const { url } = message.location();
    if (expected404 !== undefined && new URL(url, 'http://x').pathname === expected404 && message.text().includes('404')) return;
    errors.push(`${message.text()} (${url})`);
  });
  page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
  return errors;
}

/** How far the page reaches past the right edge of the screen, in CSS pixels (0 when it fits). */
function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => {
    const root = document.scrollingElement ?? document.documentElement;
    return Math.max(root.scrollWidth - root.clientWidth, root.scrollWidth - 390, document.body.scrollWidth - root.clientWidth);
  });
}

/** The page fits the phone's width (checked softly, so one run names every page that does not); a screenshot is kept to look at. */
async function expectFits(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${screenshotDir}phone-${name}.png`, fullPage: true });
  expect.soft(await horizontalOverflow(page), `${name}: px past the right edge at 390 px`).toBe(0);
}

/** The width and height a PNG's header gives. */
function pngSize(bytes: Buffer): { width: number; height: number } {
  expect(bytes.subarray(1, 4).toString('latin1'), 'PNG signature').toBe('PNG');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

async function fetchPng(request: APIRequestContext, url: string): Promise<{ width: number; height: number }> {
  const response = await request.get(url);
  expect(response.status(), url).toBe(200);
  expect(response.headers()['content-type'], url).toBe('image/png');
  return pngSize(await response.body());
}

async function signInDevice(page: Page, fixture: DeviceFixture): Promise<void> {
  await page.goto('/device');
  await page.getByLabel('Device token').fill(fixture.deviceToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByText(`Connected as ${fixture.deviceName}`)).toBeVisible();
}

async function signInOperator(page: Page): Promise<void> {
  if (!page.url().endsWith('/admin/login')) await page.goto('/admin/login');
  await page.getByLabel('Operator token').fill(operatorToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/admin$/);
}

test('every page and dashboard section fits a 390 px screen and logs no console error', async ({ page, admin, request }) => {
  const fixture = await createDeviceFixture(admin.client, { schemes: ['chat'] });
  await sendNotifications(request, fixture, [
    { message: 'Anna wants you to join room 42: "we are about to start the review, come when you can"', action: 'chat://room/42' },
    { message: 'Deploy finished', action: 'https://ci.example/pipelines/987654321/jobs/123456789/artifacts/summary?format=html&expand=all' },
  ]);
  let errors = collectConsoleErrors(page);

  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Presence', level: 1 })).toBeVisible();
  await expectFits(page, 'start');

  await page.goto('/admin/login');
  await expect(page.getByLabel('Operator token')).toBeVisible();
  await expectFits(page, 'admin-login');
  await signInOperator(page);

  // Each section loaded on its own, with the fixture's rows in its tables.
  const sections: [string, string, string][] = [
    ['queues', '/admin', fixture.uid],
    ['queue-items', `/admin/queues/${fixture.uid}`, 'Deploy finished'],
    ['acks', '/admin/acks', 'Acks'],
    ['send', '/admin/send', 'Test send'],
    ['apps', '/admin/apps', fixture.appName],
    ['users', '/admin/users', fixture.deviceName.replace('Phone', 'E2E user')],
    ['devices', '/admin/devices', fixture.deviceName],
    ['uids', '/admin/uids', fixture.uid],
  ];
  for (const [name, path, text] of sections) {
    await page.goto(path);
    await expect(page.getByTestId('connection-state')).toHaveText('Live');
    await expect(page.getByText(text).first()).toBeAttached();
    await expectFits(page, `admin-${name}`);
  }

  await page.goto('/device');
  await expect(page.getByLabel('Device token')).toBeVisible();
  await expectFits(page, 'device-signed-out');
  await signInDevice(page, fixture);
  await expect(page.getByRole('list', { name: 'Notifications' }).getByRole('listitem')).toHaveCount(2);
  await expectFits(page, 'device-signed-in');
  expect(errors, 'console errors').toEqual([]);

  errors = collectConsoleErrors(page, '/no-such-page');
  const notFound = await page.goto('/no-such-page');
  expect(notFound?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
  await expectFits(page, 'not-found');
  expect(errors, 'console errors on the 404 page').toEqual([]);
});

test('every page names a favicon that is served, and /favicon.ico is served too', async ({ page, request }) => {
  for (const path of ['/', '/device', '/admin/login', '/no-such-page']) {
    await page.goto(path);
    const icons = await page.locator('link[rel="icon"]').evaluateAll((links) => links.map((link) => (link as HTMLLinkElement).href));
    expect(icons.length, `${path}: icon links`).toBeGreaterThan(0);
    for (const href of icons) expect((await request.get(href)).status(), href).toBe(200);
  }
  const ico = await request.get('/favicon.ico');
  expect(ico.status()).toBe(200);
  expect((await ico.body()).readUInt32LE(0), 'an ICO header').toBe(0x00010000);
});

test('the device page is installable: a manifest starting at /device, standalone, with 192, 512 and maskable PNG icons', async ({ page, request }) => {
  const errors = collectConsoleErrors(page);
  const response = await page.goto('/device');
  expect(response?.headers()['content-security-policy']).toContain("manifest-src 'self'");
  await expect(page.locator('link[rel="manifest"]')).toHaveCount(1);
  const manifestHref = await page.locator('link[rel="manifest"]').getAttribute('href');
  expect(manifestHref).toBeTruthy();

  const manifestResponse = await request.get(new URL(manifestHref ?? '', page.url()).toString());
  expect(manifestResponse.status()).toBe(200);
  expect(manifestResponse.headers()['content-type']).toMatch(/^application\/manifest\+json/);
  const manifest = (await manifestResponse.json()) as { icons: { src: string; sizes: string; type: string; purpose?: string }[] };
  expect(manifest).toMatchObject({
    name: 'Presence',
    short_name: 'Presence',
    start_url: '/device',
    scope: '/',
    display: 'standalone',
    theme_color: '#2f6fed',
    background_color: '#f7f8fa',
  });

  // Each icon is served as the PNG of the size it claims.
  for (const icon of manifest.icons) {
    const [width, height] = icon.sizes.split('x').map(Number);
    expect(icon.type).toBe('image/png');
    expect(await fetchPng(request, new URL(icon.src, page.url()).toString()), icon.src).toEqual({ width, height });
  }
  const anyIcons = manifest.icons.filter((icon) => (icon.purpose ?? 'any').split(' ').includes('any')).map((icon) => icon.sizes);
  expect(anyIcons).toEqual(expect.arrayContaining(['192x192', '512x512']));
  expect(manifest.icons.some((icon) => icon.purpose === 'maskable')).toBe(true);

  // iOS takes its home-screen icon from the page, not the manifest.
  const appleIcon = await page.locator('link[rel="apple-touch-icon"]').getAttribute('href');
  expect(await fetchPng(request, new URL(appleIcon ?? '', page.url()).toString())).toEqual({ width: 180, height: 180 });
  await expect(page.locator('meta[name="theme-color"]')).toHaveAttribute('content', '#2f6fed');

  // Chromium itself fetched and parsed the manifest under the page's policy.
  const cdp = await page.context().newCDPSession(page);
  const parsed = await cdp.send('Page.getAppManifest');
  expect(parsed.errors).toEqual([]);
  expect(parsed.url).toContain(manifestHref ?? '');
  expect(errors, 'console errors').toEqual([]);
});

test('the dashboard\'s user pickers say "Choose a user", never "an user"', async ({ page, admin }) => {
  await createDeviceFixture(admin.client);
  await signInOperator(page);
  await page.goto('/admin/devices');
  await expect(page.getByLabel('User', { exact: true })).toContainText('Choose a user');
  await page.goto('/admin/uids');
  const grant = page.getByRole('form', { name: 'Grant a UID' });
  await expect(grant.getByLabel('App', { exact: true })).toContainText('Choose an app');
  await expect(grant.getByLabel('User', { exact: true })).toContainText('Choose a user');
  await expect(page.locator('body')).not.toContainText(/\ban user\b/i);
});
