/**
 * The pages' security headers and the sign-in guard, in a real Chromium
 * against the production build: every page works under its Content Security
 * Policy with no violation, no page can be framed (not even by a same-site
 * page), signed-in pages are never stored by a cache, and raw paths that name
 * the dashboard never reach it without a session.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, type Page, type Response } from '@playwright/test';
import { createDeviceFixture, test } from './adminApi.ts';

const operatorToken = process.env.PRESENCE_E2E_ADMIN_TOKEN ?? '';

/** Collects what the browser reports against the page's policy: violation events and console errors. */
async function watchPolicyViolations(page: Page): Promise<string[]> {
  const violations: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(`console: ${message.text()}`);
  });
  await page.exposeFunction('reportPolicyViolation', (text: string) => violations.push(text));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      (window as unknown as { reportPolicyViolation(text: string): void }).reportPolicyViolation(`${event.violatedDirective} blocked ${event.blockedURI}`);
    });
  });
  return violations;
}

function expectPageHeaders(response: Response | null, what: string): string {
  expect(response, what).not.toBeNull();
  const headers = (response as Response).headers();
  const policy = headers['content-security-policy'] ?? '';
  expect(policy, `${what}: Content-Security-Policy`).toMatch(/script-src [^;]*'nonce-[A-Za-z0-9+/=_-]{16,}'/);
  expect(policy, `${what}: no eval in production`).not.toContain('unsafe-eval');
  expect(policy, `${what}: no inline scripts by default`).not.toMatch(/script-src [^;]*'unsafe-inline'/);
  expect(policy, `${what}: frame-ancestors`).toContain("frame-ancestors 'none'");
  expect(headers['x-frame-options'], `${what}: X-Frame-Options`).toBe('DENY');
  expect(headers['x-content-type-options'], `${what}: nosniff`).toBe('nosniff');
  expect(headers['referrer-policy'], `${what}: Referrer-Policy`).toBe('same-origin');
  return headers['cache-control'] ?? '';
}

async function signInOperator(page: Page): Promise<void> {
  await page.goto('/admin/login');
  await page.getByLabel('Operator token').fill(operatorToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/admin$/);
  await expect(page.getByTestId('connection-state')).toHaveText('Live');
}

test('every page works under its Content-Security-Policy with no violation reported', async ({ page, admin }) => {
  const violations = await watchPolicyViolations(page);

  expectPageHeaders(await page.goto('/'), '/');
  await expect(page.getByRole('heading', { name: 'Presence', level: 1 })).toBeVisible();

  const missing = await page.goto('/no-such-page');
  expect(missing?.status()).toBe(404);
  expectPageHeaders(missing, '404');
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();

  expectPageHeaders(await page.goto('/admin/login'), '/admin/login');
  await signInOperator(page);
  expectPageHeaders(await page.goto('/admin/apps'), '/admin/apps');
  await expect(page.getByTestId('connection-state')).toHaveText('Live');
  await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name: 'Queues', exact: true }).click();
  await expect(page.getByTestId('connection-state')).toHaveText('Live');

  // The device page: a WebSocket to /presence on the same origin and a service worker.
  const fixture = await createDeviceFixture(admin.client);
  expectPageHeaders(await page.goto('/device'), '/device');
  await page.getByLabel('Device token').fill(fixture.deviceToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByText(`Connected as ${fixture.deviceName}`)).toBeVisible();
  const registered = await page.evaluate(async () => {
    const registration = await navigator.serviceWorker.register('/device-sw.js', { scope: '/device' });
    await navigator.serviceWorker.ready;
    return registration.scope;
  });
  expect(registered).toMatch(/\/device$/);

  expect(violations).toEqual([]);
});

test('signed-in pages and the sign-in page are never stored by a cache', async ({ page }) => {
  expect(expectPageHeaders(await page.goto('/admin/login'), '/admin/login')).toContain('no-store');
  await signInOperator(page);
  for (const path of ['/admin', '/admin/apps', '/admin/queues/none']) {
    const cacheControl = expectPageHeaders(await page.goto(path), path);
    expect(cacheControl, path).toContain('no-store');
    expect(cacheControl, path).not.toMatch(/s-maxage|public/);
  }
});

test('a same-site page of another port cannot frame the signed-in dashboard', async ({ page, baseURL }) => {
  await signInOperator(page);
  // Another port of the same host is the same site: the SameSite=Strict cookie goes along.
  const framing = http.createServer((_req, res) => {
    res
      .writeHead(200, { 'Content-Type': 'text/html' })
      .end(`<!doctype html><title>framing</title><iframe id="victim" src="${baseURL}/admin/apps" width="800" height="600"></iframe>`);
  });
  await new Promise<void>((resolve) => framing.listen(0, '127.0.0.1', resolve));
  try {
    const blocked = page.waitForEvent('console', { predicate: (message) => /frame-ancestors|X-Frame-Options/i.test(message.text()) });
    await page.goto(`http://127.0.0.1:${(framing.address() as AddressInfo).port}/`);
    await blocked;
    const frame = page.frames().find((f) => f !== page.mainFrame());
    expect(frame).toBeDefined();
    await expect(page.frameLocator('#victim').getByRole('button', { name: 'Sign out' })).toHaveCount(0);
    expect(frame?.url()).not.toContain('/admin/apps');
  } finally {
    await new Promise((resolve) => framing.close(resolve));
  }
});

/** A raw request: the path goes out exactly as written (a browser or fetch would normalise it first). */
function rawGet(baseURL: string, path: string): Promise<{ status: number; location: string | undefined; body: string }> {
  const { hostname, port } = new URL(baseURL);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('a raw path that names the dashboard never serves it without a session', async ({ baseURL }) => {
  const origin = baseURL ?? '';
  const paths = [
    '/x/../admin',
    '/%2e%2e/admin',
    '/x/%2E%2E/admin/apps',
    '//admin',
    '/admin/./',
    '/./admin',
    '/%61dmin',
    '/admin%2Fapps',
    '/%2Fadmin',
    '/\\admin',
    '/x/..%2Fadmin',
    '/x/..%5Cadmin',
    '/admin/apps/..',
    `${origin}/admin`,
  ];
  for (const path of paths) {
    const answer = await rawGet(origin, path);
    expect(answer.body, `${path}: no dashboard`).not.toContain('Sign out');
    expect([301, 303, 307, 308, 400, 404], `${path}: status ${answer.status}`).toContain(answer.status);
    if (answer.status >= 300 && answer.status < 400) {
      // A redirect goes to the normal form, which the guard then sends to sign-in.
      const location = answer.location ?? '';
      expect(location, `${path}: redirect`).toMatch(/^\/[^/\\]/);
      const next = await rawGet(origin, location);
      expect([303, 404], `${path} → ${location}: ${next.status}`).toContain(next.status);
      if (next.status === 303) expect(next.location).toBe('/admin/login');
    }
  }
});
