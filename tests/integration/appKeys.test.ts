/**
 * A node checks an app's key against what it read before (`KnownApps` in
 * src/server/domain/apps.ts) while its listener hears every rotation: no
 * round trip per POST that no rate limit counts, none for a wrong key of a
 * known app, and a key rotated anywhere stops working at once.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Database } from '../../src/server/platform/db/client.ts';
import { KnownApps, rotateAppKey } from '../../src/server/domain/apps.ts';
import type { PresenceNode } from '../../src/server/server.ts';
import { makeRecipient } from '../support/factories.ts';
import { postNotifications, useTestNode } from '../support/node.ts';

describe('key checks on a node without a rate limit', () => {
  let node: PresenceNode;
  // Another process's view of the database, as the CLI has.
  let elsewhere: Database;
  // With a rate limit, every request is counted in the database (tests/integration/hardening.test.ts).
  useTestNode((started) => ({ node, db: elsewhere } = started), { RATE_LIMIT_PER_SECOND: '0' });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  /** Counts the node's key-check statements from now on. */
  function countChecks(): () => number {
    const query = vi.spyOn(node.db.pool, 'query');
    return () => query.mock.calls.filter(([statement]) => (statement as { name?: string }).name === 'check-keys').length;
  }

  it('reads an app’s key once, refuses a wrong one without asking again, and stops the old key when it is rotated elsewhere', async () => {
    const app = await makeRecipient(elsewhere);
    const note = { UID: app.uid, message: 'hi', action: 'https://example.com/' };
    const checks = countChecks();
    expect((await postNotifications(node.url, app.appid, app.key, note)).status).toBe(200);
    expect((await postNotifications(node.url, app.appid, app.key, note)).status).toBe(200);
    expect((await postNotifications(node.url, app.appid, `${app.key}x`, note)).body).toMatchObject({ result: 'KO', errno: 111 });
    expect(checks()).toBe(1);

    const { key } = await rotateAppKey(elsewhere, app.appid);
    await expect.poll(async () => (await postNotifications(node.url, app.appid, app.key, note)).status, { timeout: 2_000, interval: 20 }).toBe(401);
    expect((await postNotifications(node.url, app.appid, key, note)).status).toBe(200);
  });

  it('stops the old key at once when the node itself rotates it', async () => {
    const app = await makeRecipient(elsewhere);
    const note = { UID: app.uid, message: 'hi', action: 'https://example.com/' };
    expect((await postNotifications(node.url, app.appid, app.key, note)).status).toBe(200);
    const { key } = await rotateAppKey(node.db, app.appid);
    expect((await postNotifications(node.url, app.appid, app.key, note)).status).toBe(401);
    expect((await postNotifications(node.url, app.appid, key, note)).status).toBe(200);
  });
});

describe('KnownApps', () => {
  const row = (id: string) => ({ id, name: id, schemes: [], key_digest: Buffer.alloc(32) });

  it('keeps nothing until trusted, and forgets everything when trust ends', () => {
    const known = new KnownApps();
    known.keep(row('a'), known.mark());
    expect(known.get('a')).toBeUndefined();
    known.trust(true);
    known.keep(row('a'), known.mark());
    expect(known.get('a')?.id).toBe('a');
    known.trust(false);
    expect(known.get('a')).toBeUndefined();
    known.trust(true);
    expect(known.get('a')).toBeUndefined();
  });

  it('does not keep a read that began before a rotation was heard, and lets what it keeps expire', () => {
    const known = new KnownApps();
    known.trust(true);
    const mark = known.mark();
    known.forget('a'); // the rotation's signal, while the read was in flight
    known.keep(row('a'), mark);
    expect(known.get('a')).toBeUndefined();
    known.keep(row('a'), known.mark(), 0);
    expect(known.get('a', 29_999)?.id).toBe('a');
    expect(known.get('a', 30_000)).toBeUndefined();
  });
});
