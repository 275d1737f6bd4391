/**
 * The handoff (src/server/domain/delivery/handoff.ts): a node gives what it
 * stores to its own daemons without reading it back, the same items a read
 * would give; a wake-up from elsewhere still reads; a push rolled back is
 * never handed; a push whose outcome is unknown makes the node's daemons read.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Database } from '../../src/server/platform/db/client.ts';
import { createDevice } from '../../src/server/domain/devices.ts';
import { pushNotifications } from '../../src/server/domain/notifications/push.ts';
import type { PresenceNode } from '../../src/server/server.ts';
import { BUS_MODES, useBusMode } from '../support/busModes.ts';
import { connectChannel } from '../support/daemonClient.ts';
import { makeDaemonUser, refuseRows } from '../support/factories.ts';
import { postNotifications, useTestNode } from '../support/node.ts';

const item = (UID: string, message: string, extra: { ttl?: number; tag?: string } = {}) => ({ UID, message, action: 'https://example.com/', ...extra });

describe.each(BUS_MODES)('the handoff, wake-ups over $mode', ({ mode }) => {
  const bus = useBusMode(mode);
  let node: PresenceNode;
  // Another process's view of the database: its pushes are not this node's.
  let elsewhere: Database;
  useTestNode(
    (started) => ({ node, db: elsewhere } = started),
    () => bus.env(),
  );

  /** Counts the node's backlog reads from now on. */
  function countReads(): () => number {
    const query = vi.spyOn(node.db.pool, 'query');
    return () => query.mock.calls.filter(([statement]) => (statement as { name?: string }).name === 'read-pending').length;
  }
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('gives a daemon what its node stored without reading it back: the items a read gives', async () => {
    const user = await makeDaemonUser(elsewhere);
    const daemon = connectChannel(node.url, user.token);
    try {
      await daemon.event(0);
      const reads = countReads();
      await postNotifications(node.url, user.appid, user.key, [item(user.uid, 'one'), item(user.uid, 'two', { ttl: 600, tag: 'unread' })]);
      await postNotifications(node.url, user.appid, user.key, item(user.uid, 'three'));
      await expect.poll(() => daemon.events.flatMap((e) => e.items.map((i) => i.message))).toEqual(['one', 'two', 'three']);
      expect(daemon.events.slice(1).every((e) => e.kind === 'live')).toBe(true);
      expect(reads()).toBe(0);

      // Another device of the user reads them as its backlog: field for field the same.
      const { token } = await createDevice(elsewhere, { userId: user.userId, name: 'second' });
      const second = connectChannel(node.url, token);
      try {
        const handed = daemon.events.slice(1).flatMap((e) => e.items);
        expect((await second.event(0)).items).toEqual(handed);
        expect(handed[1]).toMatchObject({ tag: 'unread', expiresAt: expect.any(String) });
      } finally {
        await second.close();
      }
    } finally {
      await daemon.close();
    }
  });

  it('reads when the wake-up comes from another node’s push', async () => {
    const user = await makeDaemonUser(elsewhere);
    const daemon = connectChannel(node.url, user.token);
    try {
      await daemon.event(0);
      const reads = countReads();
      await pushNotifications(elsewhere, user.appid, [{ uid: user.uid, message: 'from elsewhere', action: 'https://example.com/' }]);
      expect((await daemon.event(1)).items.map((i) => i.message)).toEqual(['from elsewhere']);
      expect(reads()).toBe(1);
    } finally {
      await daemon.close();
    }
  });

  it('never hands the items of a push its group rolled back', async () => {
    const user = await makeDaemonUser(elsewhere);
    const poison = `poison ${user.appid}`;
    // A fault after the push's items are stored: the database refuses to record its answer under this key.
    const refusal = await refuseRows(elsewhere, { table: 'idempotency_keys', event: 'UPDATE', column: 'key', value: poison });
    const daemon = connectChannel(node.url, user.token);
    try {
      await daemon.event(0);
      const note = (message: string) => [{ uid: user.uid, message, action: 'https://example.com/' }];
      // One group: it fails, runs again with a savepoint per push, and only the middle push is refused.
      const results = await Promise.allSettled([
        pushNotifications(node.db, user.appid, note('before')),
        pushNotifications(node.db, user.appid, note('rolled back'), { idempotency: { key: poison, bodyDigest: Buffer.alloc(32) } }),
        pushNotifications(node.db, user.appid, note('after')),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      await expect.poll(() => daemon.events.flatMap((e) => e.items.map((i) => i.message))).toEqual(['before', 'after']);
      await sleep(300);
      expect(daemon.events.flatMap((e) => e.items.map((i) => i.message))).toEqual(['before', 'after']);
    } finally {
      await refusal.drop();
      await daemon.close();
    }
  });

  it('makes every daemon of the node read when a push’s outcome is unknown', async () => {
    const user = await makeDaemonUser(elsewhere);
    const daemon = connectChannel(node.url, user.token);
    // Holds the queue's lock, so the push waits past its timeout: its connection is closed, the outcome unknown to the node.
    const locker = await elsewhere.pool.connect();
    try {
      await daemon.event(0);
      await locker.query('BEGIN');
      await locker.query('SELECT 1 FROM queues WHERE uid = $1 FOR UPDATE', [user.uid]);
      const reads = countReads();
      await expect(
        pushNotifications(node.db, user.appid, [{ uid: user.uid, message: 'unknown', action: 'https://example.com/' }], { timeoutMs: 300 }),
      ).rejects.toThrow(/transaction timeout/);
      await expect.poll(reads).toBeGreaterThan(0);
    } finally {
      await locker.query('ROLLBACK');
      locker.release();
      await daemon.close();
    }
  });
});
