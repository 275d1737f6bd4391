/**
 * The dashboard's Apps page sets and edits an app's redirect URIs in a real
 * browser, and the grant page then honours exactly those (error page for a
 * look-alike, sign-in for the registered one), unframeable.
 */
import { expect, test, type Page } from '@playwright/test';

const operatorToken = process.env.PRESENCE_E2E_ADMIN_TOKEN ?? '';

async function signIn(page: Page): Promise<void> {
  await page.goto('/admin/login');
  await page.getByLabel('Operator token').fill(operatorToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/admin$/);
  await expect(page.getByTestId('connection-state')).toHaveText('Live');
}

test('an operator sets redirect URIs when creating an app and edits them; a refused one is explained beside the field, and the grant page follows the list', async ({
  page,
}) => {
  const appid = `uris-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  await signIn(page);
  await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name: 'Apps', exact: true }).click();
  await page.getByLabel('App id').fill(appid);
  await page.getByLabel('Name', { exact: true }).fill('Chat with redirects');
  await page.getByLabel('Redirect URIs', { exact: true }).fill('https://chat.example/cb\n');
  await page.getByRole('button', { name: 'Create app' }).click();
  await expect(page.getByTestId('secret-once')).toBeVisible();
  const row = page.locator(`[data-testid="app-row"][data-appid="${appid}"]`);
  await expect(row.getByTestId('redirect-uris')).toHaveText('https://chat.example/cb');

  await row.getByRole('button', { name: `Edit the redirect URIs of ${appid}` }).click();
  const field = row.getByRole('textbox', { name: `Redirect URIs of ${appid}` });
  await field.fill('http://chat.example/cb');
  await row.getByRole('button', { name: 'Save' }).click();
  await expect(row.getByTestId('redirect-uris-error')).toContainText('only https, or http on 127.0.0.1, [::1] or localhost');
  await field.fill('https://chat.example/cb\nhttp://127.0.0.1:8080/callback');
  await row.getByRole('button', { name: 'Save' }).click();
  await expect(row.getByTestId('redirect-uris')).toHaveText('https://chat.example/cbhttp://127.0.0.1:8080/callback');

  const lookAlike = await page.goto(`/${appid}/grant?redirect_uri=${encodeURIComponent('http://127.0.0.1:8080/callback/')}&state=s`);
  expect(lookAlike?.status()).toBe(400);
  await expect(page.getByRole('alert')).toContainText('has not registered');
  const registered = await page.goto(`/${appid}/grant?redirect_uri=${encodeURIComponent('http://127.0.0.1:8080/callback')}&state=s`);
  expect(registered?.status()).toBe(200);
  expect(registered?.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
  expect(registered?.headers()['x-frame-options']).toBe('DENY');
  await expect(page.getByRole('heading', { name: 'Sign in to answer Chat with redirects' })).toBeVisible();
  await page.screenshot({ path: 'test-results/screenshots/grant-sign-in.png', fullPage: true });
});
