/**
 * The device page tells how to install the desktop daemon: one npm line with
 * the page's own origin and the download path the server answers.
 */
import { expect } from '@playwright/test';
import { createDeviceFixture, test } from './adminApi.ts';

test('the signed-in device page shows the one-line install with its own origin', async ({ page, admin, baseURL }) => {
  const fixture = await createDeviceFixture(admin.client);
  await page.goto('/device');
  await page.getByLabel('Device token').fill(fixture.deviceToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByText(`Connected as ${fixture.deviceName}`)).toBeVisible();

  const command = page.getByTestId('daemon-install-command');
  await expect(command).toHaveText(`npm install -g ${baseURL}/downloads/presence-daemon.tgz`);
  await expect(page.getByText('presence-daemon service install')).toBeVisible();
});
