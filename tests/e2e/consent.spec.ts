/**
 * Consent from the user's side in a real Chromium: the device page's "Apps
 * that can notify you" with Revoke, and an AppService started by the test
 * that onboards a user through the grant page and notifies them.
 */
import { expect, type APIRequestContext, type Page } from '@playwright/test';
import { createDeviceFixture, test, type DeviceFixture } from './adminApi.ts';

async function signIn(page: Page, fixture: { deviceToken: string; deviceName: string }): Promise<void> {
  await page.goto('/device');
  await page.getByLabel('Device token').fill(fixture.deviceToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByText(`Connected as ${fixture.deviceName}`)).toBeVisible();
}

const appGrants = (page: Page) => page.getByRole('region', { name: 'Apps that can notify you' });
const grantOf = (page: Page, appName: string) => appGrants(page).getByTestId('app-grant').filter({ hasText: appName });

/** POSTs one notification as an AppService does; answers the status and the body. */
async function post(request: APIRequestContext, app: { appid: string; appKey: string }, uid: string, message: string) {
  const response = await request.post(`/${app.appid}/notification`, {
    headers: { Authorization: `Bearer ${app.appKey}`, 'Content-Type': 'application/json' },
    data: [{ UID: uid, message, action: 'https://example.org/' }],
  });
  return { status: response.status(), body: (await response.json()) as { result: string; errno?: number } };
}

test('the device page lists the apps that can notify you, names as text, and Revoke makes the app’s next POST get 105', async ({ page, admin, request }) => {
  const dialogs: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  const fixture: DeviceFixture = await createDeviceFixture(admin.client);
  const suffix = fixture.appid.slice('e2e-'.length);
  const markupName = `<img src=x onerror="alert(1)"><b>Loud ${suffix}</b>`;
  const { key: markupKey } = await admin.client.admin.apps.create.mutate({ appid: `e2e-m-${suffix}`, name: markupName });
  const markup = { appid: `e2e-m-${suffix}`, appKey: markupKey };
  const { uid: markupUid } = await admin.client.admin.uids.grant.mutate({ appid: markup.appid, userId: fixture.userId });

  await signIn(page, fixture);
  await expect(appGrants(page).getByTestId('app-grant')).toHaveCount(2);
  await expect(grantOf(page, fixture.appName)).toContainText('since');
  // The app's name is shown exactly as written, never as markup.
  await expect(grantOf(page, markupName)).toContainText(markupName);
  await expect(appGrants(page).locator('img, b')).toHaveCount(0);

  // Cancel keeps the grant.
  await grantOf(page, markupName)
    .getByRole('button', { name: `Revoke ${markupName}` })
    .click();
  await grantOf(page, markupName).getByRole('button', { name: 'Cancel' }).click();
  expect((await post(request, markup, markupUid, 'still allowed')).body).toMatchObject({ result: 'OK' });

  await grantOf(page, markupName)
    .getByRole('button', { name: `Revoke ${markupName}` })
    .click();
  await grantOf(page, markupName).getByRole('button', { name: 'Yes, revoke' }).click();
  await expect(grantOf(page, markupName)).toHaveCount(0);
  await expect(grantOf(page, fixture.appName)).toBeVisible();
  expect(await post(request, markup, markupUid, 'too late')).toMatchObject({ status: 404, body: { result: 'KO', errno: 105 } });
  // The queue went with the UID: the operator lists no UID of that app.
  expect(await admin.client.admin.uids.list.query({ appid: markup.appid })).toEqual([]);
  expect(dialogs).toEqual([]);

  // Still revoked after a reload; the other app still notifies.
  await page.reload();
  await expect(appGrants(page).getByTestId('app-grant')).toHaveCount(1);
  expect((await post(request, { appid: fixture.appid, appKey: fixture.appKey }, fixture.uid, 'hello')).body).toMatchObject({ result: 'OK' });
});
