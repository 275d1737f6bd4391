/**
 * Pairing from the device page through the real server, a real Chromium and
 * the real daemon: "Add a device" shows a one-time code and the command to
 * run, and that command pairs a new device of the same user, which then
 * receives that user's notifications.
 */
import { mkdir, mkdtemp, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from '@playwright/test';
import { runDaemonProcess } from '../support/daemonProcess.ts';
import { createDeviceFixture, sendNotifications, test } from './adminApi.ts';

const screenshotDir = fileURLToPath(new URL('../../test-results/screenshots/', import.meta.url));

test('the signed-in device page shows a pairing code that the daemon pairs with, as a new device of the same user', async ({
  page,
  admin,
  request,
  baseURL,
}) => {
  const fixture = await createDeviceFixture(admin.client);
  await page.goto('/device');
  await page.getByLabel('Device token').fill(fixture.deviceToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByText(`Connected as ${fixture.deviceName}`)).toBeVisible();

  const addDevice = page.getByRole('region', { name: 'Add a device' });
  await addDevice.getByRole('button', { name: 'Get a pairing code' }).click();
  const code = (await addDevice.getByTestId('pairing-code').textContent()) ?? '';
  expect(code).toMatch(/^[A-Z2-9]{4}-[A-Z2-9]{4}$/);
  await expect(addDevice.getByRole('timer')).toHaveText(/^Expires in (10:00|9:[0-5]\d)$/);
  await mkdir(screenshotDir, { recursive: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await addDevice.screenshot({ path: `${screenshotDir}device-add-device-phone.png` });
  const command = (await addDevice.getByTestId('pairing-command').textContent()) ?? '';
  expect(command).toBe(`presence-daemon pair ${code} --server ${baseURL}`);
  // The install line of the daemon package is shown beside it.
  await expect(page.getByTestId('daemon-install-command')).toContainText(`npm install -g ${baseURL}/`);

  const home = await mkdtemp(path.join(os.tmpdir(), 'presence-e2e-pair-'));
  const env = { XDG_CONFIG_HOME: home };
  const [, , typedCode, , server] = command.split(' ');
  const paired = await runDaemonProcess(['pair', typedCode as string, '--server', server as string, '--name', 'paired laptop'], env);
  expect(paired.code, paired.stderr).toBe(0);
  expect((await stat(path.join(home, 'presence', 'daemon.json'))).mode & 0o777).toBe(0o600);

  const users = await admin.client.admin.users.list.query();
  expect(users.find((u) => u.userId === fixture.userId)?.devices).toBe(2);

  await page.close();
  await sendNotifications(request, fixture, [{ message: 'Hello from the paired laptop test', action: 'https://chat.example/' }]);
  const once = await runDaemonProcess(['--once', '--json'], env);
  expect(once.code, once.stderr).toBe(0);
  expect(once.stdout).toContain('Hello from the paired laptop test');
});
