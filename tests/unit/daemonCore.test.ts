/**
 * The daemon core (src/shared/daemonCore.ts) that the desktop daemon and the
 * device page both run, against a real node: what it shows, how it acks, how
 * it subscribes again, and that a refused token ends it.
 */
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/server/platform/db/client.ts';
import type { AppRouter } from '../../src/server/trpc/routers/_app.ts';
import type { PresenceNode } from '../../src/server/server.ts';
import { grantUid } from '../../src/server/domain/uids.ts';
import { channelUrl } from '../../src/shared/channel.ts';
import { createChannelClient } from '../../src/shared/channelClient.ts';
import { SeenIds, startDaemonCore, type DaemonChannelClient, type DaemonCore, type DaemonCoreOptions } from '../../src/shared/daemonCore.ts';
import type { DeliveredItem } from '../../src/shared/delivery.ts';
import { MAX_IDS_PER_ACK, QUEUE_CAPACITY } from '../../src/shared/limits.ts';
import { makeApp, makeDaemonUser, queueSize } from '../support/factories.ts';
import { postNotifications, useTestNode } from '../support/node.ts';

let node: PresenceNode;
let db: Database;
useTestNode((started) => ({ node, db } = started));

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A real channel client of the test node, closed after the test. */
function openClient(token: string) {
  const channel = createChannelClient<AppRouter>({ url: channelUrl(node.url), token, WebSocket: WebSocket as unknown as typeof globalThis.WebSocket });
  cleanups.push(() => channel.close());
  return channel.client;
}

/** A real channel client, with its ack and subscribe calls recorded (and acks failing while `failAcks` is set). */
function recordedChannel(token: string) {
  const real: DaemonChannelClient = openClient(token);
  const calls = { acks: [] as string[][], subscriptions: 0, failAcks: false };
  const client: DaemonChannelClient = {
    daemon: {
      notifications: {
        subscribe: (input, handlers) => {
          calls.subscriptions++;
          return real.daemon.notifications.subscribe(input, handlers);
        },
      },
      ack: {
        mutate: async (input) => {
          calls.acks.push(input.ids);
          if (calls.failAcks) throw new Error('ack failed on purpose');
          return real.daemon.ack.mutate(input);
        },
      },
      dismiss: real.daemon.dismiss,
    },
  };
  return { client, calls };
}

/** Starts a core that records what it shows, its acked events and its refusals. */
function runCore(client: DaemonChannelClient, extra: Partial<DaemonCoreOptions> = {}) {
  const shown: DeliveredItem[] = [];
  const refusals: Error[] = [];
  const acked: number[] = [];
  const core: DaemonCore = startDaemonCore({
    client,
    show: (items) => shown.push(...items),
    onRefused: (error) => refusals.push(error),
    onAcked: (event) => acked.push(event.items.length),
    ...extra,
  });
  cleanups.push(() => core.stop());
  return { core, shown, refusals, acked };
}

/** A user with a device and UIDs of `apps` apps, each app's queue filled with 100 items (the cap): a backlog of 100 × `apps`. */
async function userWithFullQueues(apps: number) {
  const user = await makeDaemonUser(db);
  const queues = [{ appid: user.appid, key: user.key, uid: user.uid }];
  for (let n = 1; n < apps; n++) {
    const app = await makeApp(db);
    queues.push({ appid: app.appid, key: app.key, uid: (await grantUid(db, { appid: app.appid, userId: user.userId })).uid });
  }
  for (const queue of queues) {
    const items = Array.from({ length: QUEUE_CAPACITY }, (_, i) => ({ UID: queue.uid, message: `item ${i}`, action: 'https://example.com/' }));
    expect((await postNotifications(node.url, queue.appid, queue.key, items)).status).toBe(200);
  }
  return { ...user, queues };
}

describe('the daemon core', () => {
  it('shows a backlog of more than 1,000 items once, then acks it in calls of at most 1,000 ids', async () => {
    const user = await userWithFullQueues(11);
    const { client, calls } = recordedChannel(user.token);
    const { shown, acked } = runCore(client);
    await expect.poll(() => acked).toEqual([11 * QUEUE_CAPACITY]);
    expect(shown).toHaveLength(11 * QUEUE_CAPACITY);
    expect(new Set(shown.map((item) => item.id)).size).toBe(11 * QUEUE_CAPACITY);
    expect(calls.acks.map((ids) => ids.length)).toEqual([MAX_IDS_PER_ACK, 11 * QUEUE_CAPACITY - MAX_IDS_PER_ACK]);
    for (const queue of user.queues) expect(await queueSize(db, queue.uid)).toBe(0);
  });

  it('drops a redelivered item by id on a new connection, and acks it again', async () => {
    const user = await makeDaemonUser(db);
    await postNotifications(node.url, user.appid, user.key, { UID: user.uid, message: 'once', action: 'https://example.com/' });
    const seen = new SeenIds();
    const first = recordedChannel(user.token);
    first.calls.failAcks = true;
    const ackFailures: Error[] = [];
    const firstCore = runCore(first.client, { seen, onAckFailed: (error) => ackFailures.push(error) });
    await expect.poll(() => ackFailures.length).toBe(1);
    expect(firstCore.shown.map((item) => item.message)).toEqual(['once']);
    firstCore.core.stop();
    // The ack was lost: the next connection's backlog repeats the item.
    expect(await queueSize(db, user.uid)).toBe(1);
    const second = recordedChannel(user.token);
    const secondCore = runCore(second.client, { seen });
    await expect.poll(() => secondCore.acked).toEqual([1]);
    expect(secondCore.shown).toEqual([]);
    expect(second.calls.acks).toEqual([first.calls.acks[0]]);
    expect(await queueSize(db, user.uid)).toBe(0);
  });

  it('subscribes again with backoff when the server refuses the subscription, until it is served', async () => {
    const user = await makeDaemonUser(db);
    const { client, calls } = recordedChannel(user.token);
    const holder = runCore(client);
    await expect.poll(() => holder.acked).toEqual([0]);
    // A second subscription on the same socket is refused (CONFLICT): the core tries again, later each time.
    const retries: number[] = [];
    const started: number[] = [];
    runCore(client, { onSubscriptionError: (_error, retryInMs) => retries.push(retryInMs), onStarted: () => started.push(retries.length) });
    await expect.poll(() => retries.length).toBeGreaterThanOrEqual(2);
    expect(retries[0]).toBeGreaterThanOrEqual(250);
    expect(retries[0]).toBeLessThanOrEqual(500);
    expect(retries[1]).toBeGreaterThanOrEqual(500);
    expect(retries[1]).toBeLessThanOrEqual(1_000);
    holder.core.stop();
    await expect.poll(() => started.length).toBe(1);
    const subscriptions = calls.subscriptions;
    await postNotifications(node.url, user.appid, user.key, { UID: user.uid, message: 'after the retry', action: 'https://example.com/' });
    await expect.poll(() => queueSize(db, user.uid)).toBe(0);
    expect(calls.subscriptions).toBe(subscriptions);
  });

  it('stops for good on a refused token: one refusal, no second subscription, nothing acked', async () => {
    const { client, calls } = recordedChannel('prs_dev_not-a-valid-token');
    const { refusals, shown } = runCore(client);
    await expect.poll(() => refusals.length).toBe(1);
    expect(refusals[0]?.message).toBeTruthy();
    // Well past the first backoff: a core that retried would have subscribed again by now.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(calls.subscriptions).toBe(1);
    expect(refusals).toHaveLength(1);
    expect(shown).toEqual([]);
    expect(calls.acks).toEqual([]);
  });

  it("ends on a refusal of a front end's own call too", async () => {
    const user = await makeDaemonUser(db);
    const { client } = recordedChannel(user.token);
    const { core, refusals } = runCore(client);
    core.check(new Error('not a refusal'));
    expect(refusals).toEqual([]);
    const refusal = await openClient('prs_dev_wrong')
      .daemon.whoami.query()
      .catch((error: unknown) => error);
    core.check(refusal);
    expect(refusals).toHaveLength(1);
  });
});
