/** The grant page over plain HTTP, as a user's browser goes through it: sign in with a device token, open the page, Allow. */
import { expect } from 'vitest';

/** Returns the code the grant page appended to the redirect, and where it redirected. */
export async function allowOnGrantPage(baseUrl: string, appid: string, deviceToken: string, params: { redirect_uri: string; state?: string }) {
  const post = (path: string, fields: Record<string, string>, cookie?: string) =>
    fetch(`${baseUrl}${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: baseUrl, ...(cookie ? { Cookie: cookie } : {}) },
      body: new URLSearchParams(fields).toString(),
    });
  const signedIn = await post(`/${appid}/grant/signin`, { ...params, token: deviceToken });
  expect(signedIn.status).toBe(303);
  const cookie = (signedIn.headers.get('set-cookie') ?? '').split(';')[0] as string;
  const page = await fetch(`${baseUrl}/${appid}/grant?${new URLSearchParams(params).toString()}`, { headers: { Cookie: cookie } });
  const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? '';
  const allowed = await post(`/${appid}/grant`, { ...params, csrf, decision: 'allow' }, cookie);
  expect(allowed.status).toBe(303);
  const location = new URL(allowed.headers.get('location') as string);
  return { location, code: location.searchParams.get('code') as string };
}
