/**
 * Every operator input, through the dashboard's tRPC API on a real WebSocket:
 * text that is not storable or printable (NUL, a lone surrogate, an escape
 * sequence) is an invalid argument, errno 300, never an internal error
 * carrying the database's words.
 */
import { randomUUID } from 'node:crypto';
import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Database } from '../../src/server/platform/db/client.ts';
import type { AppRouter } from '../../src/server/trpc/routers/_app.ts';
import type { PresenceNode } from '../../src/server/server.ts';
import { makeRecipient, uniqueAppid } from '../support/factories.ts';
import { useTestNode } from '../support/node.ts';

const operatorToken = 'prs_adm_operator-input-test-token-0123456789';
let node: PresenceNode;
let db: Database;
useTestNode((started) => ({ node, db } = started), { ADMIN_TOKEN: operatorToken });

/** A dashboard client signed in with the operator token. */
async function dashboard() {
  const res = await fetch(`${node.url}/admin/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: operatorToken }),
  });
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] as string;
  class CookieWebSocket extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols, { headers: { Cookie: cookie } });
    }
  }
  const wsClient = createWSClient({
    url: `${node.url.replace('http', 'ws')}/presence`,
    WebSocket: CookieWebSocket as unknown as typeof globalThis.WebSocket,
    retryDelayMs: () => 60_000,
  });
  return { client: createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient })] }), close: () => wsClient.close() };
}

const badTexts = { NUL: 'nul\u0000byte', 'a lone surrogate': 'lone \ud800 half', 'an escape sequence': 'esc \u001b]0;title\u0007' };

describe('dashboard API: operator text', () => {
  it.each(Object.entries(badTexts))('answers %s in any name, scheme or id with errno 300 and no database error', async (_kind, bad) => {
    const { client, close } = await dashboard();
    try {
      const recipient = await makeRecipient(db);
      const appid = uniqueAppid('input');
      const calls: [string, () => Promise<unknown>][] = [
        ['apps.create name', () => client.admin.apps.create.mutate({ appid, name: bad })],
        ['apps.create scheme', () => client.admin.apps.create.mutate({ appid, schemes: [bad] })],
        ['apps.rotateKey appid', () => client.admin.apps.rotateKey.mutate({ appid: bad })],
        ['users.create name', () => client.admin.users.create.mutate({ name: bad })],
        ['devices.create name', () => client.admin.devices.create.mutate({ userId: recipient.userId, name: bad })],
        ['devices.create userId', () => client.admin.devices.create.mutate({ userId: bad })],
        ['devices.revoke deviceId', () => client.admin.devices.revoke.mutate({ deviceId: bad })],
        ['uids.grant appid', () => client.admin.uids.grant.mutate({ appid: bad, userId: recipient.userId })],
        ['uids.grant userId', () => client.admin.uids.grant.mutate({ appid: recipient.appid, userId: bad })],
        ['uids.revoke uid', () => client.admin.uids.revoke.mutate({ uid: bad })],
        ['uids.list appid', () => client.admin.uids.list.query({ appid: bad })],
        ['uids.list userId', () => client.admin.uids.list.query({ userId: bad })],
        ['queues.items uid', () => client.admin.queues.items.query({ uid: bad })],
        ['queues.purge uid', () => client.admin.queues.purge.mutate({ uid: bad })],
        ['testSend appid', () => client.admin.testSend.mutate({ appid: bad, uid: recipient.uid, message: 'm', action: 'https://example.com/' })],
      ];
      for (const [name, call] of calls) {
        const error = await call().then(
          () => null,
          (caught: { message: string; data?: { code?: string; errno?: number } }) => caught,
        );
        expect(error, name).not.toBeNull();
        expect({ name, code: error?.data?.code, errno: error?.data?.errno }).toEqual({ name, code: 'BAD_REQUEST', errno: 300 });
        expect(error?.message, name).not.toMatch(/prisma|invocation|byte sequence|SQL|input syntax|column/i);
      }
      expect(await db.prisma.app.count({ where: { id: appid } })).toBe(0);
    } finally {
      await close();
    }
  });

  it('answers 304 for printable ids that name nothing, and takes printable names with accents and emoji', async () => {
    const { client, close } = await dashboard();
    try {
      await expect(client.admin.apps.rotateKey.mutate({ appid: uniqueAppid('missing') })).rejects.toMatchObject({ data: { code: 'NOT_FOUND', errno: 304 } });
      await expect(client.admin.devices.revoke.mutate({ deviceId: randomUUID() })).rejects.toMatchObject({ data: { code: 'NOT_FOUND', errno: 304 } });
      await expect(client.admin.uids.revoke.mutate({ uid: 'C'.repeat(22) })).rejects.toMatchObject({ data: { code: 'NOT_FOUND', errno: 304 } });
      // An id of the wrong form names nothing, as in the CLI; a list filtered by one is empty.
      await expect(client.admin.devices.create.mutate({ userId: 'not-a-uuid' })).rejects.toMatchObject({ data: { code: 'NOT_FOUND', errno: 304 } });
      await expect(client.admin.devices.revoke.mutate({ deviceId: 'not-a-uuid' })).rejects.toMatchObject({ data: { code: 'NOT_FOUND', errno: 304 } });
      expect(await client.admin.uids.list.query({ userId: 'not-a-uuid' })).toEqual([]);
      const { userId } = await client.admin.users.create.mutate({ name: 'Zoë Ångström 😀' });
      expect((await db.prisma.user.findUniqueOrThrow({ where: { id: userId } })).name).toBe('Zoë Ångström 😀');
    } finally {
      await close();
    }
  });
});
