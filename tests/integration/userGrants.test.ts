/**
 * "Apps that can notify you": a signed-in device lists its user's grants and
 * revokes them (daemon.grants), called directly against the real database.
 * Revoke works as `presence uid revoke` does, and only for the caller's own user.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/server/platform/db/client.ts';
import { createApp } from '../../src/server/domain/apps.ts';
import { authenticateDevice, type AuthenticatedDevice } from '../../src/server/domain/devices.ts';
import { grantUid, listUids } from '../../src/server/domain/uids.ts';
import { Metrics } from '../../src/server/platform/metrics.ts';
import { openOperatorSession } from '../../src/server/domain/operators.ts';
import { appRouter } from '../../src/server/trpc/routers/_app.ts';
import { makeDaemonUser, queueItems, queueSize, testDatabase, uniqueAppid } from '../support/factories.ts';
import { procedureContext, refusal } from '../support/procedures.ts';

let db: Database;
let metrics: Metrics;

beforeAll(() => {
  db = testDatabase();
  metrics = new Metrics(db);
});

afterAll(async () => {
  await db.close();
});

const contextFor = (who: Parameters<typeof procedureContext>[2] = {}) => procedureContext(db, metrics, who);

/** A user with a device (and a first app's UID) and the daemon procedures of that device. */
async function signedInUser() {
  const user = await makeDaemonUser(db);
  const device = await authenticateDevice(db, user.token);
  expect(device).not.toBeNull();
  return { ...user, daemon: appRouter.createCaller(contextFor({ device: device as AuthenticatedDevice })).daemon };
}

async function operator() {
  return appRouter.createCaller(contextFor({ operatorSession: await openOperatorSession(db, 'operator-token-of-this-test') })).admin;
}

describe('daemon.grants', () => {
  it('lists the apps that can notify this user, with display name and grant time, and no other user’s', async () => {
    const me = await signedInUser();
    const other = await signedInUser();
    const named = await createApp(db, { appid: uniqueAppid('named'), name: 'Chat <b>bold</b> & co' });
    const before = Date.now();
    const { uid } = await grantUid(db, { appid: named.appid, userId: me.userId });

    const grants = await me.daemon.grants.list();
    expect(grants.map((grant) => grant.appid)).toEqual([me.appid, named.appid]);
    const listed = grants[1];
    expect(listed).toEqual({ uid, appid: named.appid, appName: 'Chat <b>bold</b> & co', grantedAt: expect.any(String) });
    expect(Date.parse(listed?.grantedAt ?? '')).toBeGreaterThanOrEqual(before - 5_000);
    expect(grants.some((grant) => grant.uid === other.uid)).toBe(false);
  });

  it('revoke deletes the UID and its queue as uid revoke does: the app gets 105, a later grant makes a new UID', async () => {
    const me = await signedInUser();
    const admin = await operator();
    expect(await admin.testSend({ appid: me.appid, uid: me.uid, message: 'pending', action: 'https://example.org/' })).toMatchObject({ result: 'OK' });
    expect(await queueSize(db, me.uid)).toBe(1);

    expect(await me.daemon.grants.revoke({ uid: me.uid })).toEqual({ revoked: me.uid });
    expect(await me.daemon.grants.list()).toEqual([]);
    expect(await listUids(db, { appid: me.appid })).toEqual([]);
    expect(await queueItems(db, me.uid)).toEqual([]);
    expect(await admin.testSend({ appid: me.appid, uid: me.uid, message: 'too late', action: 'https://example.org/' })).toMatchObject({
      result: 'KO',
      errno: 105,
    });

    const again = await grantUid(db, { appid: me.appid, userId: me.userId });
    expect(again.uid).not.toBe(me.uid);
    // Revoked already: a second revoke finds nothing.
    expect(await refusal(me.daemon.grants.revoke({ uid: me.uid }))).toEqual({ code: 'NOT_FOUND', errno: 304 });
  });

  it('cannot revoke another user’s grant by its UID: NOT_FOUND, and that UID and its queue stay', async () => {
    const me = await signedInUser();
    const victim = await signedInUser();
    const admin = await operator();
    await admin.testSend({ appid: victim.appid, uid: victim.uid, message: 'still mine', action: 'https://example.org/' });

    expect(await refusal(me.daemon.grants.revoke({ uid: victim.uid }))).toEqual({ code: 'NOT_FOUND', errno: 304 });
    expect((await victim.daemon.grants.list()).map((grant) => grant.uid)).toEqual([victim.uid]);
    expect((await queueItems(db, victim.uid)).map((item) => item.message)).toEqual(['still mine']);
    // The caller's own grant is untouched too.
    expect((await me.daemon.grants.list()).map((grant) => grant.uid)).toEqual([me.uid]);
  });

  it('refuse a malformed UID and a connection without a device', async () => {
    const me = await signedInUser();
    expect(await refusal(me.daemon.grants.revoke({ uid: 'not a uid' }))).toEqual({ code: 'BAD_REQUEST' });
    const dashboard = appRouter.createCaller(contextFor({ operatorSession: await openOperatorSession(db, 'operator-token-of-this-test') })).daemon;
    expect(await refusal(dashboard.grants.list())).toEqual({ code: 'UNAUTHORIZED' });
    expect(await refusal(dashboard.grants.revoke({ uid: me.uid }))).toEqual({ code: 'UNAUTHORIZED' });
    expect((await me.daemon.grants.list()).map((grant) => grant.uid)).toEqual([me.uid]);
  });
});
