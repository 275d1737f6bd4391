/**
 * The tRPC procedures called directly (`createCaller`), with a context built
 * from plain inputs against the real test database: no socket, no server.
 * The channel's own tests cover what only a socket has (credentials, limits).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/server/platform/db/client.ts';
import { authenticateDevice, type AuthenticatedDevice } from '../../src/server/domain/devices.ts';
import { Metrics } from '../../src/server/platform/metrics.ts';
import { openOperatorSession } from '../../src/server/domain/operators.ts';
import { appRouter } from '../../src/server/trpc/routers/_app.ts';
import { makeApp, makeDaemonUser, makeRecipient, queueItems, testDatabase, uniqueAppid } from '../support/factories.ts';
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

describe('admin procedures', () => {
  it('refuse a context without a live operator session', async () => {
    const caller = appRouter.createCaller(contextFor({ operatorSession: 'adm_not-a-session' }));
    expect(await refusal(caller.admin.apps.list())).toEqual({ code: 'UNAUTHORIZED' });
    expect(await refusal(appRouter.createCaller(contextFor()).admin.users.list())).toEqual({ code: 'UNAUTHORIZED' });
  });

  it('create an app, a user, a device and a UID, send to it, list and purge its queue', async () => {
    const caller = appRouter.createCaller(contextFor({ operatorSession: await openOperatorSession(db, 'operator-token-of-this-test') }));
    const appid = uniqueAppid('proc');
    expect(await caller.admin.apps.create({ appid, schemes: ['myapp'] })).toMatchObject({ appid, key: expect.any(String) });
    expect((await caller.admin.apps.list()).find((app) => app.appid === appid)).toMatchObject({ schemes: ['myapp'], uids: 0 });
    const { userId } = await caller.admin.users.create({ name: 'procedure user' });
    expect(await caller.admin.devices.create({ userId, name: 'laptop' })).toMatchObject({ deviceId: expect.any(String), token: expect.any(String) });
    const { uid } = await caller.admin.uids.grant({ appid, userId });

    expect(await caller.admin.testSend({ appid, uid, message: 'hello', action: 'myapp://inbox' })).toEqual({
      result: 'OK',
      queue_size: 1,
      queue_sizes: { [uid]: 1 },
    });
    expect((await caller.admin.queues.items({ uid })).map((item) => item.message)).toEqual(['hello']);
    expect(await caller.admin.queues.purge({ uid })).toEqual({ removed: 1 });
    expect(await queueItems(db, uid)).toEqual([]);
  });

  it('answer refusals with their tRPC code and errno: bad input 300, unknown names 304, a taken appid 309', async () => {
    const caller = appRouter.createCaller(contextFor({ operatorSession: await openOperatorSession(db, 'operator-token-of-this-test') }));
    const taken = await makeApp(db);
    expect(await refusal(caller.admin.apps.create({ appid: 'Not An Appid!' }))).toEqual({ code: 'BAD_REQUEST', errno: 300 });
    expect(await refusal(caller.admin.apps.create({ appid: taken.appid }))).toEqual({ code: 'CONFLICT', errno: 309 });
    expect(await refusal(caller.admin.apps.rotateKey({ appid: uniqueAppid('missing') }))).toEqual({ code: 'NOT_FOUND', errno: 304 });
    expect(await refusal(caller.admin.uids.grant({ appid: taken.appid, userId: 'no-such-user' }))).toEqual({ code: 'NOT_FOUND', errno: 304 });
  });

  it('test send answers a refused notification with its KO body, not an error', async () => {
    const caller = appRouter.createCaller(contextFor({ operatorSession: await openOperatorSession(db, 'operator-token-of-this-test') }));
    const [{ appid }, other] = [await makeRecipient(db), await makeRecipient(db)];
    const answer = await caller.admin.testSend({ appid, uid: other.uid, message: 'hello', action: 'https://example.org/' });
    expect(answer).toMatchObject({ result: 'KO', errno: 105 });
  });
});

describe('daemon procedures', () => {
  it('refuse a context without a device', async () => {
    const caller = appRouter.createCaller(contextFor({ operatorSession: await openOperatorSession(db, 'operator-token-of-this-test') }));
    expect(await refusal(caller.daemon.whoami())).toEqual({ code: 'UNAUTHORIZED' });
  });

  it('say who the device is, send the backlog then live items, and purge what is acked', async () => {
    const user = await makeDaemonUser(db);
    const device = await authenticateDevice(db, user.token);
    expect(device).not.toBeNull();
    const ctx = contextFor({ device: device as AuthenticatedDevice });
    const daemon = appRouter.createCaller(ctx).daemon;
    const admin = appRouter.createCaller(contextFor({ operatorSession: await openOperatorSession(db, 'operator-token-of-this-test') })).admin;
    expect(await daemon.whoami()).toEqual({ deviceId: user.deviceId, deviceName: 'test device', userId: user.userId });

    expect(await admin.testSend({ appid: user.appid, uid: user.uid, message: 'waiting', action: 'https://example.org/' })).toMatchObject({ result: 'OK' });
    const stop = new AbortController();
    const events = (await appRouter.createCaller(ctx, { signal: stop.signal }).daemon.notifications())[Symbol.asyncIterator]();
    const backlog = await events.next();
    expect(backlog.value).toMatchObject({ kind: 'backlog', items: [{ message: 'waiting', appid: user.appid }] });
    // One subscription per connection.
    expect(await refusal(daemon.notifications())).toEqual({ code: 'CONFLICT' });

    await admin.testSend({ appid: user.appid, uid: user.uid, message: 'live', action: 'https://example.org/' });
    // What the NOTIFY listener does on a commit for this user.
    ctx.doorbells.ring([user.userId]);
    const live = await events.next();
    expect(live.value).toMatchObject({ kind: 'live', items: [{ message: 'live' }] });

    const ids = [...(backlog.value?.items ?? []), ...(live.value?.items ?? [])].map((item) => item.id);
    expect(await daemon.ack({ ids })).toEqual({ acked: 2 });
    expect(await queueItems(db, user.uid)).toEqual([]);
    expect(await refusal(daemon.ack({ ids: ['0'] }))).toEqual({ code: 'BAD_REQUEST' });

    stop.abort();
    await events.return?.(undefined);
    expect(ctx.daemonSocket?.notifications).toBeNull();
  });
});
