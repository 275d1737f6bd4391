/**
 * Consent from the user's side in a real Chromium: the device page's "Apps
 * that can notify you" with Revoke, and an AppService started by the test
 * that onboards a user through the grant page and notifies them.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, type APIRequestContext, type Page } from '@playwright/test';
import { createDeviceFixture, test, type AdminClient, type DeviceFixture } from './adminApi.ts';

async function signIn(page: Page, fixture: { deviceToken: string; deviceName: string }): Promise<void> {
  await page.goto('/device');
  await page.getByLabel('Device token').fill(fixture.deviceToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByText(`Connected as ${fixture.deviceName}`)).toBeVisible();
}

const appGrants = (page: Page) => page.getByRole('region', { name: 'Apps that can notify you' });
const grantOf = (page: Page, appName: string) => appGrants(page).getByTestId('app-grant').filter({ hasText: appName });
const notificationOf = (page: Page, message: string) => page.getByRole('list', { name: 'Notifications' }).getByRole('listitem').filter({ hasText: message });

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

/** What reached the AppService's callback: its query, and what the AppService did with it. */
interface Callback {
  query: Record<string, string>;
  outcome: 'notified' | 'denied' | 'bad state' | 'exchange refused';
}

/**
 * A small AppService, as a developer would write one: `/start` sends the
 * browser to the grant page with a fresh `state`; `/callback` checks that
 * state, exchanges the code with the app key and POSTs a notification to the
 * UID it got; `/attack` is a page of this other origin that posts a forged
 * consent form to Presence.
 */
class AppService {
  readonly callbacks: Callback[] = [];
  /** Every path this server was asked for, to prove a browser never came here. */
  readonly visits: string[] = [];
  uid: string | null = null;
  private readonly states = new Set<string>();
  private app: { appid: string; key: string } | null = null;

  private constructor(
    private readonly server: Server,
    readonly origin: string,
    private readonly presence: string,
  ) {}

  static async start(presence: string): Promise<AppService> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const service = new AppService(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, presence);
    server.on('request', (req, res) => {
      const url = new URL(req.url ?? '/', service.origin);
      service.visits.push(url.pathname);
      void service.route(url).then(
        ({ status, type, body, location }) => res.writeHead(status, { 'Content-Type': type, ...(location ? { Location: location } : {}) }).end(body),
        (error: unknown) => res.writeHead(500, { 'Content-Type': 'text/plain' }).end(String(error)),
      );
    });
    return service;
  }

  get callbackUri(): string {
    return `${this.origin}/callback`;
  }

  use(app: { appid: string; key: string }): void {
    this.app = app;
  }

  /** The grant page's address for a fresh state, as `/start` redirects to it. */
  grantUrl(redirectUri = this.callbackUri): { url: string; state: string } {
    const state = randomBytes(12).toString('base64url');
    this.states.add(state);
    const query = new URLSearchParams({ redirect_uri: redirectUri, state });
    return { url: `${this.presence}/${this.requireApp().appid}/grant?${query.toString()}`, state };
  }

  /** POSTs a notification to the UID the exchange gave. */
  async notify(message: string): Promise<{ status: number; body: { result: string; errno?: number } }> {
    const { appid, key } = this.requireApp();
    const response = await fetch(`${this.presence}/${appid}/notification`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ UID: this.uid, message, action: `${this.origin}/inbox` }),
    });
    return { status: response.status, body: (await response.json()) as { result: string; errno?: number } };
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private requireApp(): { appid: string; key: string } {
    if (!this.app) throw new Error('AppService has no app yet');
    return this.app;
  }

  private async route(url: URL): Promise<{ status: number; type: string; body: string; location?: string }> {
    if (url.pathname === '/start') return { status: 302, type: 'text/plain', body: '', location: this.grantUrl().url };
    if (url.pathname === '/attack') return { status: 200, type: 'text/html', body: this.attackPage(url.searchParams.get('state') ?? '') };
    if (url.pathname !== '/callback') return { status: 404, type: 'text/plain', body: 'not found' };
    const query = Object.fromEntries(url.searchParams);
    const record = (outcome: Callback['outcome'], body: string) => {
      this.callbacks.push({ query, outcome });
      return { status: outcome === 'notified' || outcome === 'denied' ? 200 : 400, type: 'text/plain', body };
    };
    // Only a state this service issued (and only once) proves the browser came from its own /start.
    if (!query.state || !this.states.delete(query.state)) return record('bad state', 'state does not match');
    if (query.error) return record('denied', `You said no (${query.error}).`);
    const { appid, key } = this.requireApp();
    const exchange = await fetch(`${this.presence}/${appid}/grant/token`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ code: query.code }),
    });
    const answer = (await exchange.json()) as { uid?: string; errno?: number };
    if (exchange.status !== 200 || !answer.uid) return record('exchange refused', `exchange refused: ${JSON.stringify(answer)}`);
    this.uid = answer.uid;
    const sent = await this.notify('Welcome: notifications from the test AppService are on');
    if (sent.body.result !== 'OK') return record('exchange refused', `POST refused: ${JSON.stringify(sent.body)}`);
    return record('notified', 'Connected: you will get notifications from us.');
  }

  /** A page of this origin that posts an Allow to Presence's consent form by itself, with a made-up form token. */
  private attackPage(state: string): string {
    const { appid } = this.requireApp();
    const field = (name: string, value: string) => `<input type="hidden" name="${name}" value="${value.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`)}">`;
    return (
      `<!doctype html><title>Win a prize</title><form id="f" method="post" action="${this.presence}/${appid}/grant">` +
      field('decision', 'allow') +
      field('redirect_uri', this.callbackUri) +
      field('state', state) +
      field('csrf', 'forged') +
      `</form><script>document.getElementById('f').submit()</script>`
    );
  }
}

/** A consent app registered with the AppService's callback, and a signed-in device page of a user who has not granted it. */
async function consentSetup(page: Page, admin: AdminClient, baseURL: string) {
  const fixture = await createDeviceFixture(admin);
  const service = await AppService.start(baseURL);
  const appid = `e2e-c-${fixture.appid.slice('e2e-'.length)}`;
  const appName = `Consent app ${appid.slice(-6)}`;
  const { key } = await admin.admin.apps.create.mutate({ appid, name: appName, redirectUris: [service.callbackUri] });
  service.use({ appid, key });
  await signIn(page, fixture);
  return { fixture, service, appid, appName };
}

test.describe('consent through the grant page', () => {
  let service: AppService | null = null;
  test.afterEach(async () => {
    await service?.close();
    service = null;
  });

  test('allow, exchange and notify with no operator step; the user revokes on the device page and the next POST gets 105', async ({ page, admin, baseURL }) => {
    const setup = await consentSetup(page, admin.client, baseURL as string);
    service = setup.service;
    expect(await admin.client.admin.uids.list.query({ appid: setup.appid })).toEqual([]);

    await page.goto(`${setup.service.origin}/start`);
    // The device page's sign-in in this browser carries over: the consent question, not a sign-in.
    await expect(page.getByRole('heading', { name: `Allow ${setup.appName} to send you notifications?` })).toBeVisible();
    await page.getByRole('button', { name: 'Allow' }).click();
    await expect(page.getByText('Connected: you will get notifications from us.')).toBeVisible();
    expect(new URL(page.url()).origin).toBe(setup.service.origin);
    expect(setup.service.callbacks).toEqual([{ query: { code: expect.any(String), state: expect.any(String) }, outcome: 'notified' }]);
    expect(setup.service.uid).toMatch(/^[A-Za-z0-9_-]{22}$/);

    await page.goto('/device');
    await expect(notificationOf(page, 'Welcome: notifications from the test AppService are on')).toBeVisible();
    await expect(grantOf(page, setup.appName)).toBeVisible();
    await grantOf(page, setup.appName)
      .getByRole('button', { name: `Revoke ${setup.appName}` })
      .click();
    await grantOf(page, setup.appName).getByRole('button', { name: 'Yes, revoke' }).click();
    await expect(grantOf(page, setup.appName)).toHaveCount(0);
    expect(await setup.service.notify('after the user said stop')).toEqual({ status: 404, body: expect.objectContaining({ result: 'KO', errno: 105 }) });
  });

  test('Deny lands on the callback with error=access_denied and the state the AppService sent, and grants nothing', async ({ page, admin, baseURL }) => {
    const setup = await consentSetup(page, admin.client, baseURL as string);
    service = setup.service;
    const { url, state } = setup.service.grantUrl();
    await page.goto(url);
    await page.getByRole('button', { name: 'Deny' }).click();
    await expect(page.getByText('You said no (access_denied).')).toBeVisible();
    expect(setup.service.callbacks).toEqual([{ query: { error: 'access_denied', state }, outcome: 'denied' }]);
    expect(await admin.client.admin.uids.list.query({ appid: setup.appid })).toEqual([]);
  });

  test('an unregistered or look-alike redirect_uri shows the error page and the browser stays on Presence', async ({ page, admin, baseURL }) => {
    const setup = await consentSetup(page, admin.client, baseURL as string);
    service = setup.service;
    const presence = new URL(baseURL as string).origin;
    for (const redirectUri of [
      `${setup.service.origin}/elsewhere`,
      `${setup.service.callbackUri}/`,
      `${setup.service.callbackUri}?next=/`,
      `http://localhost:${new URL(setup.service.origin).port}/callback`,
    ]) {
      await page.goto(setup.service.grantUrl(redirectUri).url);
      await expect(page.getByRole('heading', { name: 'This link does not work' })).toBeVisible();
      await expect(page.getByRole('button', { name: 'Allow' })).toHaveCount(0);
      expect(new URL(page.url()).origin, redirectUri).toBe(presence);
    }
    expect(setup.service.visits).toEqual([]);
  });

  test('a cross-origin page that posts an Allow to the consent form changes nothing', async ({ page, admin, baseURL }) => {
    const setup = await consentSetup(page, admin.client, baseURL as string);
    service = setup.service;
    const presence = new URL(baseURL as string).origin;
    // Visit the consent page first, so the browser holds a live session cookie the forged post would carry.
    const { state } = setup.service.grantUrl();
    await page.goto(setup.service.grantUrl().url);
    await expect(page.getByRole('button', { name: 'Allow' })).toBeVisible();

    await page.goto(`${setup.service.origin}/attack?state=${encodeURIComponent(state)}`);
    await expect(page.getByRole('heading', { name: 'This link does not work' })).toBeVisible();
    expect(new URL(page.url()).origin).toBe(presence);
    expect(setup.service.callbacks).toEqual([]);
    expect(await admin.client.admin.uids.list.query({ appid: setup.appid })).toEqual([]);
  });
});
