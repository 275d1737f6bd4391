/**
 * The API reference page, in a real Chromium against the production build:
 * /docs renders /openapi.json with the bundled renderer, shows the
 * notification route, and does so under the page's Content Security Policy
 * with no violation, no console error and no request to another origin.
 */
import { expect, test } from '@playwright/test';

test('/docs shows the notification route with no CSP violation, no console error and nothing fetched from another origin', async ({ page, baseURL }) => {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || /Content Security Policy|Refused to/i.test(message.text())) problems.push(`console ${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (!['data:', 'blob:'].includes(url.protocol) && url.origin !== new URL(baseURL ?? '').origin)
      problems.push(`request to another origin: ${request.url()}`);
  });
  await page.exposeFunction('reportPolicyViolation', (text: string) => problems.push(text));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      (window as unknown as { reportPolicyViolation(text: string): void }).reportPolicyViolation(`${event.violatedDirective} blocked ${event.blockedURI}`);
    });
  });

  const response = await page.goto('/docs');
  expect(response?.status()).toBe(200);
  expect(response?.headers()['content-security-policy']).toMatch(/script-src [^;]*'nonce-[^']+' 'strict-dynamic'/);
  await expect(page.getByText('/{appid}/notification').first()).toBeVisible({ timeout: 30_000 });
  await expect(page.getByText('Send notifications').first()).toBeVisible();
  await expect(page.getByText('Idempotency-Key').first()).toBeVisible();
  expect(problems).toEqual([]);
});
