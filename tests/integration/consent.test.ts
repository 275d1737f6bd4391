/**
 * Consent through a real node over HTTP: an app's redirect URIs (domain and
 * CLI), the grant page (sign-in, Allow, Deny, and every refusal that redirects
 * nowhere), the code exchange (one UID per active grant, one use per code),
 * and the cross-site form posts that change nothing.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { createApp, setAppRedirectUris } from '../../src/server/domain/apps.ts';
import { createDevice, revokeDevice } from '../../src/server/domain/devices.ts';
import { Doorbells } from '../../src/server/channel/doorbell.ts';
import { openOperatorSession } from '../../src/server/domain/operators.ts';
import { Metrics } from '../../src/server/platform/metrics.ts';
import { appRouter } from '../../src/server/trpc/routers/_app.ts';
import { issuePairingCode } from '../../src/server/domain/pairing.ts';
import { grantUid } from '../../src/server/domain/uids.ts';
import { EXAMPLE_GRANT_CODE, EXAMPLE_UID } from '../../src/server/http/openapi.ts';
import type { Database } from '../../src/server/platform/db/client.ts';
import type { PresenceNode } from '../../src/server/server.ts';
import { runCli } from '../support/cli.ts';
import { makeUser, uniqueAppid } from '../support/factories.ts';
import { postNotifications, useTestNode } from '../support/node.ts';

let node: PresenceNode;
let db: Database;
useTestNode((started) => ({ node, db } = started));

const CALLBACK = 'https://chat.example/presence/callback';

/** An app with these redirect URIs, and a user with a device. */
async function consentFixture(redirectUris: string[] = [CALLBACK], name?: string) {
  const app = await createApp(db, { appid: uniqueAppid('grant'), name, redirectUris });
  const { userId } = await makeUser(db);
  const device = await createDevice(db, { userId, name: 'phone' });
  return { ...app, userId, deviceToken: device.token, deviceId: device.deviceId };
}

function grantUrl(appid: string, params: Record<string, string>): string {
  return `${node.url}/${appid}/grant?${new URLSearchParams(params).toString()}`;
}

/** Posts a form as the page's own browser would (same Origin), without following redirects. */
function postForm(path: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  return fetch(`${node.url}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: node.url, ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

/** Signs in on the grant page with a device token; returns the session cookie (name=value). */
async function signIn(appid: string, fields: Record<string, string>): Promise<string> {
  const answer = await postForm(`/${appid}/grant/signin`, fields);
  expect(answer.status).toBe(303);
  const cookie = answer.headers.get('set-cookie') ?? '';
  expect(cookie).toMatch(/^presence_user=[\w-]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+$/);
  return cookie.split(';')[0] as string;
}

/** The consent page for a signed-in browser, and the form token it carries. */
async function consentPage(appid: string, params: Record<string, string>, cookie: string) {
  const page = await fetch(grantUrl(appid, params), { headers: { Cookie: cookie }, redirect: 'manual' });
  const html = await page.text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
  return { page, html, csrf };
}

/** From a user's device token to a code in the redirect: sign in, GET the page, Allow. */
async function allow(appid: string, deviceToken: string, params: { redirect_uri: string; state?: string }) {
  const cookie = await signIn(appid, { ...params, token: deviceToken });
  const { csrf } = await consentPage(appid, params, cookie);
  const answer = await postForm(`/${appid}/grant`, { ...params, csrf, decision: 'allow' }, { Cookie: cookie });
  expect(answer.status).toBe(303);
  const location = new URL(answer.headers.get('location') as string);
  return { cookie, location, code: location.searchParams.get('code') as string };
}

function exchange(appid: string, key: string, body: unknown, init: { contentType?: string; raw?: string } = {}) {
  return fetch(`${node.url}/${appid}/grant/token`, {
    method: 'POST',
    headers: { 'Content-Type': init.contentType ?? 'application/json', Authorization: `Bearer ${key}` },
    body: init.raw ?? JSON.stringify(body),
  });
}

async function grantCodeCount(appid: string): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM grant_codes WHERE app_id = $1', [appid]);
  return rows[0]?.n ?? -1;
}

describe('redirect URIs', () => {
  it('accepts https and loopback http in normal form, and refuses other schemes, hosts, fragments, user names, other spellings, overlong and too many (300)', async () => {
    const accepted = ['https://chat.example/cb', 'https://chat.example/cb?team=1', 'http://127.0.0.1:8080/cb', 'http://[::1]/cb', 'http://localhost:3001/cb'];
    const app = await createApp(db, { appid: uniqueAppid('uris'), redirectUris: accepted });
    expect(app.appid).toBeTruthy();
    const refused = [
      'http://chat.example/cb',
      'ftp://chat.example/cb',
      'chat://cb',
      'https://chat.example/cb#top',
      'https://good.example@evil.example/cb',
      'HTTPS://chat.example/cb',
      'https://chat.example',
      'https://chat.example/a b',
      '/relative/cb',
      `https://chat.example/${'a'.repeat(512)}`,
    ];
    for (const uri of refused) {
      await expect(setAppRedirectUris(db, app.appid, [uri]), uri).rejects.toMatchObject({ errno: 300 });
    }
    const eleven = Array.from({ length: 11 }, (_, i) => `https://chat.example/cb${i}`);
    await expect(setAppRedirectUris(db, app.appid, eleven)).rejects.toMatchObject({ errno: 300 });
    await expect(setAppRedirectUris(db, 'no-such-app-here', [CALLBACK])).rejects.toMatchObject({ errno: 304 });
    expect(await setAppRedirectUris(db, app.appid, [CALLBACK, CALLBACK])).toEqual({ appid: app.appid, redirectUris: [CALLBACK] });
  });

  it('are set by `presence app create --redirect-uri` (repeatable) and replaced by `presence app redirect-uris`, with 300 for a refused one', async () => {
    const env = { DATABASE_URL: inject('databaseUrl') };
    const appid = uniqueAppid('cliuris');
    const created = await runCli(['app', 'create', appid, '--redirect-uri', CALLBACK, '--redirect-uri', 'http://127.0.0.1:9000/cb', '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    const listed = await runCli(['app', 'list', '--json'], env);
    expect((JSON.parse(listed.stdout) as { appid: string; redirectUris: string[] }[]).find((a) => a.appid === appid)?.redirectUris).toEqual([
      CALLBACK,
      'http://127.0.0.1:9000/cb',
    ]);
    const replaced = await runCli(['app', 'redirect-uris', appid, '--redirect-uri', 'https://new.example/cb', '--json'], env);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(JSON.parse(replaced.stdout)).toEqual({ appid, redirectUris: ['https://new.example/cb'] });
    const refused = await runCli(['app', 'redirect-uris', appid, '--redirect-uri', 'http://evil.example/cb', '--json'], env);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toMatchObject({ result: 'KO', errno: 300 });
  }, 120_000);

  it('are set on create and replaced by the dashboard’s procedures, which list them and refuse a bad one with 300', async () => {
    const context = { db, doorbells: new Doorbells(), metrics: new Metrics(db), device: null, daemonSocket: null };
    const admin = appRouter.createCaller({ ...context, operatorSession: await openOperatorSession(db, 'operator-token-of-this-test') }).admin;
    const appid = uniqueAppid('dashuris');
    await admin.apps.create({ appid, redirectUris: [CALLBACK] });
    expect((await admin.apps.list()).find((a) => a.appid === appid)?.redirectUris).toEqual([CALLBACK]);
    expect(await admin.apps.setRedirectUris({ appid, redirectUris: ['http://localhost:5000/cb', CALLBACK] })).toEqual({
      appid,
      redirectUris: ['http://localhost:5000/cb', CALLBACK],
    });
    await expect(admin.apps.setRedirectUris({ appid, redirectUris: ['https://chat.example/cb#frag'] })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      cause: { errno: 300 },
    });
    await expect(admin.apps.create({ appid: uniqueAppid('dashuris'), redirectUris: ['http://chat.example/cb'] })).rejects.toMatchObject({
      cause: { errno: 300 },
    });
  });
});

describe('the grant page', () => {
  it('the happy path: sign in, the page names the app, Allow redirects with a code and the state, the exchange gives the UID, and a second grant the same UID', async () => {
    const fixture = await consentFixture([CALLBACK], 'Chat <b>&</b> co');
    const state = `s-${randomBytes(8).toString('hex')} ü&=?`;
    const params = { redirect_uri: CALLBACK, state };
    const cookie = await signIn(fixture.appid, { ...params, token: fixture.deviceToken });
    const { page, html, csrf } = await consentPage(fixture.appid, params, cookie);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    const policy = page.headers.get('content-security-policy') ?? '';
    expect(policy).toContain("frame-ancestors 'none'");
    expect(policy).toMatch(/script-src 'self' 'nonce-[^']+'/);
    expect(policy).toContain("form-action 'self' https://chat.example");
    // The app's name, escaped: its markup is shown, not run.
    expect(html).toContain('Chat &#60;b&#62;&#38;&#60;/b&#62; co');
    expect(html).not.toContain('<b>&</b>');
    expect(html).toMatch(/value="allow"[^>]*>Allow</);
    expect(html).toMatch(/value="deny"[^>]*>Deny</);
    expect(csrf).not.toBe('');

    const decided = await postForm(`/${fixture.appid}/grant`, { ...params, csrf, decision: 'allow' }, { Cookie: cookie });
    expect(decided.status).toBe(303);
    const location = new URL(decided.headers.get('location') as string);
    expect(`${location.origin}${location.pathname}`).toBe(CALLBACK);
    expect(location.searchParams.get('state')).toBe(state);
    const code = location.searchParams.get('code') as string;
    expect(code).toMatch(/^[\w-]{43}$/);
    // Stored only as a digest.
    const { rows } = await db.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM grant_codes WHERE encode(code_digest, 'escape') LIKE '%' || $1 || '%'",
      [code],
    );
    expect(rows[0]?.n).toBe(0);

    const exchanged = await exchange(fixture.appid, fixture.key, { code });
    expect(exchanged.status).toBe(200);
    const { uid } = (await exchanged.json()) as { uid: string };
    expect(uid).toBe((await grantUid(db, { appid: fixture.appid, userId: fixture.userId })).uid);
    const pushed = await postNotifications(node.url, fixture.appid, fixture.key, { UID: uid, message: 'Hello', action: 'https://chat.example/' });
    expect(pushed.status).toBe(200);

    const again = await allow(fixture.appid, fixture.deviceToken, params);
    const second = await exchange(fixture.appid, fixture.key, { code: again.code });
    expect(await second.json()).toEqual({ uid });
  });

  it('appends code and state after the query of a registered URI that has one, and returns an empty state as sent', async () => {
    const withQuery = 'https://chat.example/cb?team=a%20b&x=1';
    const fixture = await consentFixture([withQuery]);
    const { location } = await allow(fixture.appid, fixture.deviceToken, { redirect_uri: withQuery, state: '' });
    expect(location.href).toMatch(/^https:\/\/chat\.example\/cb\?team=a%20b&x=1&code=[\w-]{43}&state=$/);
  });

  it('Deny redirects with error=access_denied and the state, and issues no code', async () => {
    const fixture = await consentFixture();
    const params = { redirect_uri: CALLBACK, state: 'xyz' };
    const cookie = await signIn(fixture.appid, { ...params, token: fixture.deviceToken });
    const { csrf } = await consentPage(fixture.appid, params, cookie);
    const denied = await postForm(`/${fixture.appid}/grant`, { ...params, csrf, decision: 'deny' }, { Cookie: cookie });
    expect(denied.status).toBe(303);
    expect(denied.headers.get('location')).toBe(`${CALLBACK}?error=access_denied&state=xyz`);
    expect(await grantCodeCount(fixture.appid)).toBe(0);
  });

  it('shows an error page and redirects nowhere for an unknown app, a missing or unregistered redirect URI and every look-alike of a registered one', async () => {
    const registered = 'https://chat.example:8443/cb/Done';
    const fixture = await consentFixture([registered]);
    const cookie = await signIn(fixture.appid, { redirect_uri: registered, token: fixture.deviceToken });
    const unknown = await fetch(grantUrl('no-such-app-x', { redirect_uri: registered }), { redirect: 'manual' });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('location')).toBeNull();
    const lookAlikes = [
      'https://chat.example:8443/cb/Done/',
      'https://chat.example:8444/cb/Done',
      'https://chat.example/cb/Done',
      'http://chat.example:8443/cb/Done',
      'https://chat.example:8443/cb/Done/more',
      'https://chat.example:8443/cb/done',
      'https://chat.example:8443@evil.example/cb/Done',
      'https://good@chat.example:8443/cb/Done',
      'https://chat.example:8443/cb/Done?x=1',
      'https://chat.example:8443/cb/Done#',
      'https://chat.example:8443/cb/%44one',
      'https://evil.example/',
    ];
    for (const uri of lookAlikes) {
      const page = await fetch(grantUrl(fixture.appid, { redirect_uri: uri, state: 's' }), { headers: { Cookie: cookie }, redirect: 'manual' });
      expect({ uri, status: page.status, location: page.headers.get('location') }).toEqual({ uri, status: 400, location: null });
      expect(await page.text()).not.toContain('name="csrf"');
    }
    const missing = await fetch(`${node.url}/${fixture.appid}/grant`, { headers: { Cookie: cookie }, redirect: 'manual' });
    expect(missing.status).toBe(400);
    // A form posted with a look-alike gets no redirect either.
    const { csrf } = await consentPage(fixture.appid, { redirect_uri: registered }, cookie);
    const posted = await postForm(`/${fixture.appid}/grant`, { redirect_uri: `${registered}/`, csrf, decision: 'allow' }, { Cookie: cookie });
    expect(posted.status).toBe(400);
    expect(posted.headers.get('location')).toBeNull();
    expect(await grantCodeCount(fixture.appid)).toBe(0);
  });

  it('refuses a state longer than 512 characters with the error page, and takes one of 512', async () => {
    const fixture = await consentFixture();
    const cookie = await signIn(fixture.appid, { redirect_uri: CALLBACK, token: fixture.deviceToken });
    const long = await fetch(grantUrl(fixture.appid, { redirect_uri: CALLBACK, state: 'x'.repeat(513) }), { headers: { Cookie: cookie }, redirect: 'manual' });
    expect(long.status).toBe(400);
    expect(long.headers.get('location')).toBeNull();
    const { location } = await allow(fixture.appid, fixture.deviceToken, { redirect_uri: CALLBACK, state: 'y'.repeat(512) });
    expect(location.searchParams.get('state')).toBe('y'.repeat(512));
  });

  it('a cross-site form post (another Origin, or no form token, or another session’s) changes nothing and gets 403', async () => {
    const fixture = await consentFixture();
    const params = { redirect_uri: CALLBACK, state: 's' };
    const cookie = await signIn(fixture.appid, { ...params, token: fixture.deviceToken });
    const { csrf } = await consentPage(fixture.appid, params, cookie);
    const other = await consentFixture();
    const otherCookie = await signIn(fixture.appid, { ...params, token: other.deviceToken });
    const { csrf: otherCsrf } = await consentPage(fixture.appid, params, otherCookie);
    const attempts: [string, Record<string, string>, Record<string, string>][] = [
      ['another origin', { ...params, csrf, decision: 'allow' }, { Cookie: cookie, Origin: 'https://evil.example' }],
      ['no form token', { ...params, decision: 'allow' }, { Cookie: cookie }],
      ['a wrong form token', { ...params, csrf: 'x'.repeat(43), decision: 'allow' }, { Cookie: cookie }],
      ['another session’s token', { ...params, csrf: otherCsrf, decision: 'allow' }, { Cookie: cookie }],
      ['no session', { ...params, csrf, decision: 'allow' }, {}],
      ['a deny from another origin', { ...params, csrf, decision: 'deny' }, { Cookie: cookie, Origin: 'https://evil.example' }],
    ];
    for (const [what, fields, headers] of attempts) {
      const answer = await postForm(`/${fixture.appid}/grant`, fields, headers);
      expect({ what, status: answer.status, location: answer.headers.get('location') }).toEqual({ what, status: 403, location: null });
      expect(await answer.text()).toContain('nothing was done');
    }
    expect(await grantCodeCount(fixture.appid)).toBe(0);
    const signInFromElsewhere = await postForm(`/${fixture.appid}/grant/signin`, { ...params, token: fixture.deviceToken }, { Origin: 'https://evil.example' });
    expect(signInFromElsewhere.status).toBe(403);
    expect(signInFromElsewhere.headers.get('set-cookie')).toBeNull();
  });

  it('without a session shows the sign-in; a wrong token is refused, a pairing code signs in, and a revoked device’s session ends', async () => {
    const fixture = await consentFixture();
    const params = { redirect_uri: CALLBACK };
    const signedOut = await fetch(grantUrl(fixture.appid, params), { redirect: 'manual' });
    expect(signedOut.status).toBe(200);
    const html = await signedOut.text();
    expect(html).toContain('name="token"');
    expect(html).not.toContain('name="csrf"');
    const wrong = await postForm(`/${fixture.appid}/grant/signin`, { ...params, token: 'prs_dev_wrong' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();

    const { code: pairingCode } = await issuePairingCode(db, fixture.userId);
    const byCode = await signIn(fixture.appid, { ...params, code: pairingCode.toLowerCase() });
    expect((await consentPage(fixture.appid, params, byCode)).csrf).not.toBe('');
    const reused = await postForm(`/${fixture.appid}/grant/signin`, { ...params, code: pairingCode });
    expect(reused.status).toBe(401);

    const byDevice = await signIn(fixture.appid, { ...params, token: fixture.deviceToken });
    expect((await consentPage(fixture.appid, params, byDevice)).csrf).not.toBe('');
    await revokeDevice(db, fixture.deviceId);
    const after = await consentPage(fixture.appid, params, byDevice);
    expect(after.csrf).toBe('');
    expect(after.html).toContain('name="token"');
  });
});

describe('POST /<appid>/grant/token', () => {
  it('refuses a reused code, an expired code and another app’s code with 160, and another app’s key with 111', async () => {
    const fixture = await consentFixture();
    const first = await allow(fixture.appid, fixture.deviceToken, { redirect_uri: CALLBACK });
    expect((await exchange(fixture.appid, fixture.key, { code: first.code })).status).toBe(200);
    const reused = await exchange(fixture.appid, fixture.key, { code: first.code });
    expect(reused.status).toBe(400);
    expect(await reused.json()).toMatchObject({ result: 'KO', errno: 160 });

    const late = await allow(fixture.appid, fixture.deviceToken, { redirect_uri: CALLBACK });
    await db.pool.query("UPDATE grant_codes SET expires_at = now() - interval '1 second' WHERE app_id = $1 AND used_at IS NULL", [fixture.appid]);
    const expired = await exchange(fixture.appid, fixture.key, { code: late.code });
    expect(await expired.json()).toMatchObject({ errno: 160 });

    const other = await consentFixture();
    const fresh = await allow(fixture.appid, fixture.deviceToken, { redirect_uri: CALLBACK });
    const byOtherApp = await exchange(other.appid, other.key, { code: fresh.code });
    expect(byOtherApp.status).toBe(400);
    expect(await byOtherApp.json()).toMatchObject({ errno: 160 });
    const otherKey = await exchange(fixture.appid, other.key, { code: fresh.code });
    expect(otherKey.status).toBe(401);
    expect(await otherKey.json()).toMatchObject({ errno: 111 });
    // Neither attempt used the code up.
    expect((await exchange(fixture.appid, fixture.key, { code: fresh.code })).status).toBe(200);
  });

  it('of two concurrent exchanges of one code exactly one succeeds', async () => {
    const fixture = await consentFixture();
    const { code } = await allow(fixture.appid, fixture.deviceToken, { redirect_uri: CALLBACK });
    const answers = await Promise.all(Array.from({ length: 6 }, () => exchange(fixture.appid, fixture.key, { code })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 400, 400, 400, 400, 400]);
  });

  it('answers a bad method, content type, JSON, body shape and size with the notification route’s errnos', async () => {
    const fixture = await consentFixture();
    const cases: [string, Promise<Response>, number, number][] = [
      ['GET', fetch(`${node.url}/${fixture.appid}/grant/token`), 405, 108],
      ['no key', fetch(`${node.url}/${fixture.appid}/grant/token`, { method: 'POST', body: '{}' }), 401, 110],
      ['text/plain', exchange(fixture.appid, fixture.key, { code: 'x' }, { contentType: 'text/plain' }), 415, 107],
      ['bad JSON', exchange(fixture.appid, fixture.key, null, { raw: '{"code":' }), 400, 100],
      ['a list', exchange(fixture.appid, fixture.key, [{ code: 'x' }]), 400, 102],
      ['no code', exchange(fixture.appid, fixture.key, {}), 400, 102],
      ['a number', exchange(fixture.appid, fixture.key, { code: 42 }), 400, 102],
      ['unknown field', exchange(fixture.appid, fixture.key, { code: 'x', uid: 'y' }), 400, 103],
      ['5 KiB', exchange(fixture.appid, fixture.key, { code: 'x'.repeat(5000) }), 413, 106],
    ];
    for (const [what, pending, status, errno] of cases) {
      const answer = await pending;
      expect({ what, status: answer.status, errno: ((await answer.json()) as { errno: number }).errno }).toEqual({ what, status, errno });
    }
  });

  it('its /openapi.json examples, sent with a real code, get the documented status and body', async () => {
    const document = (await (await fetch(`${node.url}/openapi.json`)).json()) as Record<string, any>;
    const post = document.paths['/{appid}/grant/token'].post;
    const examples = Object.entries(post.requestBody.content['application/json'].examples as Record<string, { value: unknown }>);
    expect(examples.length).toBeGreaterThanOrEqual(2);
    for (const [name, example] of examples) {
      const fixture = await consentFixture();
      const { code } = await allow(fixture.appid, fixture.deviceToken, { redirect_uri: CALLBACK });
      const answer = await exchange(fixture.appid, fixture.key, JSON.parse(JSON.stringify(example.value).replaceAll(EXAMPLE_GRANT_CODE, code)));
      const [status, documented] = Object.entries(post.responses as Record<string, any>).find(([, r]) => r.content?.['application/json']?.examples?.[name]) as [
        string,
        any,
      ];
      expect({ name, status: answer.status }).toEqual({ name, status: Number(status) });
      const { uid } = await grantUid(db, { appid: fixture.appid, userId: fixture.userId });
      const expected = JSON.parse(JSON.stringify(documented.content['application/json'].examples[name].value).replaceAll(EXAMPLE_UID, uid));
      expect(await answer.json()).toEqual(expected);
    }
  });
});
