/**
 * The daemon channel through real servers, a real PostgreSQL and a real
 * WebSocket client: backlog, live delivery, purge after receipt, redelivery,
 * out-of-order commits, several devices and several nodes.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { heartbeat, onlineDevices, sweepStaleOnlineRows } from '../../src/server/domain/delivery/onlineRows.ts';
import type { Database } from '../../src/server/platform/db/client.ts';
import { createDevice, revokeDevice } from '../../src/server/domain/devices.ts';
import type { PresenceNode } from '../../src/server/server.ts';
import { grantUid } from '../../src/server/domain/uids.ts';
import { BUS_MODES, useBusMode } from '../support/busModes.ts';
import { connectChannel, isUnauthorized } from '../support/daemonClient.ts';
import { expireItems, makeApp, makeDaemonUser, queueSize, testDatabase } from '../support/factories.ts';
import { postNotifications, startTestNode, useTestNode } from '../support/node.ts';
import { freePort } from '../support/faultTools.ts';
import { killServerProcesses, startServerProcess } from '../support/serverProcess.ts';

let db: Database;
beforeAll(() => {
  db = testDatabase();
});

afterAll(async () => {
  await killServerProcesses();
  await db.close();
});

const item = (UID: string, message: string) => ({ UID, message, action: 'https://example.com/' });

describe('online rows', () => {
  it('the heartbeat writes the node’s own row, deletes its rows without a socket and names the live ones whose row is gone', async () => {
    const user = await makeDaemonUser(db);
    const nodeId = `heartbeat-test-${user.deviceId}`;
    const [live, ghost, revoked] = [randomUUID(), randomUUID(), randomUUID()];
    for (const id of [live, ghost]) {
      await db.pool.query(`INSERT INTO connections (id, device_id, node_id, connected_at) VALUES ($1, $2, $3, now() - interval '1 minute')`, [
        id,
        user.deviceId,
        nodeId,
      ]);
    }
    expect(await heartbeat(db, nodeId, [live, revoked])).toEqual([revoked]);
    const { rows } = await db.pool.query('SELECT id FROM connections WHERE node_id = $1', [nodeId]);
    expect(rows).toEqual([{ id: live }]);
    const { rows: beats } = await db.pool.query(`SELECT beat_at > now() - interval '5 seconds' AS fresh FROM node_heartbeats WHERE node_id = $1`, [nodeId]);
    expect(beats).toEqual([{ fresh: true }]);
  });

  it('an idle node’s heartbeats write only its own row: no connection or device row, however many sockets it holds', async () => {
    const nodeId = `idle-test-${randomUUID()}`;
    const users = await Promise.all([1, 2, 3, 4, 5].map(() => makeDaemonUser(db)));
    const ids = users.map(() => randomUUID());
    for (const [i, user] of users.entries()) {
      await db.pool.query('INSERT INTO connections (id, device_id, node_id) VALUES ($1, $2, $3)', [ids[i], user.deviceId, nodeId]);
    }
    // A row's xmin changes with every write to it.
    const versions = async () =>
      (
        await db.pool.query(
          `SELECT c.xmin::text AS connection, d.xmin::text AS device FROM connections c JOIN devices d ON d.id = c.device_id WHERE c.node_id = $1 ORDER BY c.id`,
          [nodeId],
        )
      ).rows;
    const before = await versions();
    expect(before).toHaveLength(5);
    for (let beat = 0; beat < 3; beat++) expect(await heartbeat(db, nodeId, ids)).toEqual([]);
    expect(await versions()).toEqual(before);
  });

  it('a device is online while its node’s heartbeat is fresh, and neither online nor counted once the heartbeat is stale', async () => {
    const user = await makeDaemonUser(db);
    const nodeId = `stale-test-${user.deviceId}`;
    await db.pool.query('INSERT INTO node_heartbeats (node_id) VALUES ($1)', [nodeId]);
    await db.pool.query('INSERT INTO connections (id, device_id, node_id) VALUES ($1, $2, $3)', [randomUUID(), user.deviceId, nodeId]);
    expect((await onlineDevices(db)).has(user.deviceId)).toBe(true);
    await db.pool.query(`UPDATE node_heartbeats SET beat_at = now() - interval '31 seconds' WHERE node_id = $1`, [nodeId]);
    expect((await onlineDevices(db)).has(user.deviceId)).toBe(false);
  });

  it('housekeeping deletes the rows and the heartbeat of a node silent for ten minutes, and nothing of a live node', async () => {
    const user = await makeDaemonUser(db);
    const [dead, alive] = [`dead-${user.deviceId}`, `alive-${user.deviceId}`];
    await db.pool.query(`INSERT INTO node_heartbeats (node_id, beat_at) VALUES ($1, now() - interval '11 minutes'), ($2, now() - interval '20 seconds')`, [
      dead,
      alive,
    ]);
    for (const nodeId of [dead, alive]) {
      await db.pool.query(`INSERT INTO connections (id, device_id, node_id, connected_at) VALUES ($1, $2, $3, now() - interval '1 hour')`, [
        randomUUID(),
        user.deviceId,
        nodeId,
      ]);
    }
    await sweepStaleOnlineRows(db);
    const { rows } = await db.pool.query('SELECT node_id FROM connections WHERE device_id = $1', [user.deviceId]);
    expect(rows).toEqual([{ node_id: alive }]);
    const { rows: beats } = await db.pool.query('SELECT node_id FROM node_heartbeats WHERE node_id = ANY($1)', [[dead, alive]]);
    expect(beats).toEqual([{ node_id: alive }]);
  });
});

// Every delivery test runs with wake-ups over PostgreSQL NOTIFY and over the NATS bus.
describe.each(BUS_MODES)('wake-ups over $mode', ({ mode }) => {
  const bus = useBusMode(mode);
  let node: PresenceNode;
  let db: Database;
  useTestNode(
    (started) => ({ node, db } = started),
    () => bus.env(),
  );

  describe('delivery', () => {
    it('sends everything queued in the first event, oldest first, and empties the queue on ack', async () => {
      const user = await makeDaemonUser(db);
      await postNotifications(
        node.url,
        user.appid,
        user.key,
        [1, 2, 3, 4, 5].map((n) => item(user.uid, `m${n}`)),
      );
      const daemon = connectChannel(node.url, user.token);
      try {
        const first = await daemon.event(0);
        expect(first.kind).toBe('backlog');
        expect(first.items.map((i) => i.message)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
        expect(first.items[0]).toMatchObject({ appid: user.appid, appName: user.appid, action: 'https://example.com/' });
        expect(typeof first.items[0]?.id).toBe('string');
        expect(new Date(first.items[0]?.createdAt as string).toISOString()).toBe(first.items[0]?.createdAt);
        expect(await daemon.ack(first.items.map((i) => i.id))).toEqual({ acked: 5 });
        expect(await queueSize(db, user.uid)).toBe(0);
        // Acks are idempotent.
        expect(await daemon.ack(first.items.map((i) => i.id))).toEqual({ acked: 0 });
      } finally {
        await daemon.close();
      }
    });

    it('sends an empty backlog, then an item posted while connected, live', async () => {
      const user = await makeDaemonUser(db);
      const daemon = connectChannel(node.url, user.token);
      try {
        expect((await daemon.event(0)).items).toEqual([]);
        await postNotifications(node.url, user.appid, user.key, item(user.uid, 'live one'));
        const live = await daemon.event(1);
        expect(live.kind).toBe('live');
        expect(live.items.map((i) => i.message)).toEqual(['live one']);
      } finally {
        await daemon.close();
      }
    });

    it('sends unacknowledged items again on the next connection', async () => {
      const user = await makeDaemonUser(db);
      await postNotifications(node.url, user.appid, user.key, [item(user.uid, 'a'), item(user.uid, 'b')]);
      const first = connectChannel(node.url, user.token);
      const seen = (await first.event(0)).items.map((i) => i.id);
      await first.close(); // dropped before its ack
      const second = connectChannel(node.url, user.token);
      try {
        expect((await second.event(0)).items.map((i) => i.id)).toEqual(seen);
      } finally {
        await second.close();
      }
    });

    it('never delivers an expired item', async () => {
      const user = await makeDaemonUser(db);
      await postNotifications(node.url, user.appid, user.key, [item(user.uid, 'stale'), item(user.uid, 'fresh')]);
      await expireItems(db, user.uid, ['stale']);
      const daemon = connectChannel(node.url, user.token);
      try {
        expect((await daemon.event(0)).items.map((i) => i.message)).toEqual(['fresh']);
      } finally {
        await daemon.close();
      }
    });

    it('delivers items whose ids commit out of order across queues', async () => {
      const user = await makeDaemonUser(db);
      const otherApp = await makeApp(db);
      const { uid: otherUid } = await grantUid(db, { appid: otherApp.appid, userId: user.userId });
      const daemon = connectChannel(node.url, user.token);
      const early = new pg.Client({ connectionString: inject('databaseUrl') });
      await early.connect();
      try {
        await daemon.event(0);
        // The first transaction takes the lower id but commits last.
        await early.query('BEGIN');
        await early.query(`INSERT INTO queue_items (uid, app_id, message, action) VALUES ($1, $2, 'lower id, committed last', 'https://e.com/')`, [
          user.uid,
          user.appid,
        ]);
        await postNotifications(node.url, otherApp.appid, otherApp.key, item(otherUid, 'higher id, committed first'));
        expect((await daemon.event(1)).items.map((i) => i.message)).toEqual(['higher id, committed first']);
        await early.query(`SELECT pg_notify('presence_wakeup', $1)`, [user.userId]);
        await early.query('COMMIT');
        const late = await daemon.event(2);
        expect(late.items.map((i) => i.message)).toEqual(['lower id, committed last']);
        expect(BigInt(late.items[0]?.id as string)).toBeLessThan(BigInt(daemon.events[1]?.items[0]?.id as string));
      } finally {
        await early.end();
        await daemon.close();
      }
    });

    it('delivers every item to every connected device of the user; the first ack removes it', async () => {
      const user = await makeDaemonUser(db);
      const { token: secondToken } = await createDevice(db, { userId: user.userId, name: 'phone' });
      const laptop = connectChannel(node.url, user.token);
      const phone = connectChannel(node.url, secondToken);
      try {
        await Promise.all([laptop.event(0), phone.event(0)]);
        await postNotifications(node.url, user.appid, user.key, item(user.uid, 'both'));
        const [a, b] = await Promise.all([laptop.event(1), phone.event(1)]);
        expect(a.items.map((i) => i.message)).toEqual(['both']);
        expect(b.items.map((i) => i.id)).toEqual(a.items.map((i) => i.id));
        expect(await phone.ack(b.items.map((i) => i.id))).toEqual({ acked: 1 });
        expect(await laptop.ack(a.items.map((i) => i.id))).toEqual({ acked: 0 });
      } finally {
        await Promise.all([laptop.close(), phone.close()]);
      }
    });

    it('does not let one user ack another user’s items', async () => {
      const owner = await makeDaemonUser(db);
      const stranger = await makeDaemonUser(db);
      await postNotifications(node.url, owner.appid, owner.key, item(owner.uid, 'mine'));
      const ownerDaemon = connectChannel(node.url, owner.token);
      const strangerDaemon = connectChannel(node.url, stranger.token);
      try {
        const ids = (await ownerDaemon.event(0)).items.map((i) => i.id);
        await strangerDaemon.event(0);
        expect(await strangerDaemon.ack(ids)).toEqual({ acked: 0 });
        expect(await queueSize(db, owner.uid)).toBe(1);
        await expect(strangerDaemon.ack(['not-a-number'])).rejects.toMatchObject({ data: { code: 'BAD_REQUEST' } });
      } finally {
        await Promise.all([ownerDaemon.close(), strangerDaemon.close()]);
      }
    });
  });

  describe('authentication and presence', () => {
    it('refuses a wrong or missing token with UNAUTHORIZED', async () => {
      for (const token of ['prs_dev_wrong', null]) {
        const daemon = connectChannel(node.url, token, { retry: false });
        try {
          await expect(daemon.event(0)).rejects.toSatisfy(isUnauthorized);
        } finally {
          await daemon.close();
        }
      }
    });

    it('keeps a row per live connection and last seen, and closes the sockets of a revoked device', async () => {
      const user = await makeDaemonUser(db);
      const daemon = connectChannel(node.url, user.token, { retry: false });
      await daemon.event(0);
      const rows = async () => (await db.pool.query('SELECT node_id FROM connections WHERE device_id = $1', [user.deviceId])).rows;
      expect(await rows()).toHaveLength(1);
      const { rows: seen } = await db.pool.query('SELECT last_seen_at FROM devices WHERE id = $1', [user.deviceId]);
      expect(seen[0].last_seen_at).toBeInstanceOf(Date);
      await revokeDevice(db, user.deviceId);
      await expect.poll(() => daemon.closeCodes).toContain(4403);
      await daemon.close();
      await expect.poll(rows).toHaveLength(0);
    });

    it('clears the row of a connection that closes, and keeps last seen', async () => {
      const user = await makeDaemonUser(db);
      const daemon = connectChannel(node.url, user.token);
      await daemon.event(0);
      await daemon.close();
      await expect.poll(async () => (await db.pool.query('SELECT 1 FROM connections WHERE device_id = $1', [user.deviceId])).rows.length).toBe(0);
      const { rows } = await db.pool.query('SELECT last_seen_at FROM devices WHERE id = $1', [user.deviceId]);
      expect(rows[0].last_seen_at).toBeInstanceOf(Date);
    });
  });

  describe('outages of the listening connection', () => {
    it('re-checks every connection when the node listens again, so nothing posted meanwhile is missed', async () => {
      const user = await makeDaemonUser(db);
      const daemon = connectChannel(node.url, user.token);
      try {
        await daemon.event(0);
        const killed = await db.pool.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, [
          `presence-listener ${node.nodeId}`,
        ]);
        expect(killed.rowCount).toBe(1);
        await postNotifications(node.url, user.appid, user.key, item(user.uid, 'posted while nobody listened'));
        await expect.poll(() => daemon.events.flatMap((e) => e.items.map((i) => i.message)), { timeout: 10_000 }).toEqual(['posted while nobody listened']);
        // And the listener works again for what comes next.
        await postNotifications(node.url, user.appid, user.key, item(user.uid, 'after'));
        await expect.poll(() => daemon.events.flatMap((e) => e.items.map((i) => i.message)), { timeout: 10_000 }).toContain('after');
      } finally {
        await daemon.close();
      }
    });
  });

  describe('several nodes', () => {
    it('delivers a POST taken by one node to a daemon connected to another process', async () => {
      const other = await startServerProcess({ ...bus.env(), DATABASE_URL: inject('databaseUrl'), PORT: '0', HOST: '127.0.0.1' });
      const user = await makeDaemonUser(db);
      const daemon = connectChannel(other.url, user.token);
      try {
        await daemon.event(0);
        await postNotifications(node.url, user.appid, user.key, item(user.uid, 'across nodes'));
        expect((await daemon.event(1)).items.map((i) => i.message)).toEqual(['across nodes']);
        const { rows } = await db.pool.query('SELECT node_id FROM connections WHERE device_id = $1', [user.deviceId]);
        expect(rows).toHaveLength(1);
        expect(rows[0].node_id).toMatch(new RegExp(`:${new URL(other.url).port}$`));
        // Revoking a device (here, through this process) closes its socket on the other node.
        await revokeDevice(db, user.deviceId);
        await expect.poll(() => daemon.closeCodes).toContain(4403);
      } finally {
        await daemon.close();
        other.kill('SIGTERM');
        expect(await other.exited).toBe(0);
      }
    });

    it('tells connected daemons to reconnect on SIGTERM, and they get what is posted after the restart', async () => {
      const port = String(await freePort());
      const env = { ...bus.env(), DATABASE_URL: inject('databaseUrl'), PORT: port, HOST: '127.0.0.1' };
      const first = await startServerProcess(env);
      const user = await makeDaemonUser(db);
      const daemon = connectChannel(first.url, user.token);
      try {
        await daemon.event(0);
        first.kill('SIGTERM');
        expect(await first.exited).toBe(0);
        await postNotifications(node.url, user.appid, user.key, item(user.uid, 'while the node was down'));
        const second = await startServerProcess(env);
        // The reconnected subscription starts over: its first event is the whole backlog.
        await expect.poll(() => daemon.receivedIds().length, { timeout: 15_000 }).toBe(1);
        expect(daemon.events.at(-1)?.kind).toBe('backlog');
        expect(daemon.events.at(-1)?.items.map((i) => i.message)).toEqual(['while the node was down']);
        second.kill('SIGTERM');
        await second.exited;
      } finally {
        await daemon.close();
      }
    });
  });

  if (mode === 'nats') {
    describe('the bus', () => {
      it('subscribes a node only to the users it holds, and loses no wake-up while the NATS server is killed and started again', async () => {
        const other = await startTestNode(bus.env());
        const [there, here] = [await makeDaemonUser(db), await makeDaemonUser(db)];
        const daemon = connectChannel(other.url, there.token);
        const local = connectChannel(node.url, here.token);
        const subjectsOf = async (url: string) => {
          const subscriptions = await bus.nats().subscriptions();
          const name = [...subscriptions.keys()].find((n) => n.endsWith(`:${new URL(url).port}`));
          return name === undefined ? [] : (subscriptions.get(name) ?? []);
        };
        const messages = () => daemon.events.flatMap((e) => e.items.map((i) => i.message));
        const post = async (message: string) => (await postNotifications(node.url, there.appid, there.key, item(there.uid, message))).status;
        try {
          await Promise.all([daemon.event(0), local.event(0)]);
          const held = await subjectsOf(other.url);
          expect(held).toContain(`presence.wakeup.${there.userId}`);
          expect(held).not.toContain(`presence.wakeup.${here.userId}`);
          expect(await subjectsOf(node.url)).toContain(`presence.wakeup.${here.userId}`);

          expect(await post('over the bus')).toBe(200);
          await expect.poll(messages).toEqual(['over the bus']);
          await bus.nats().kill();
          expect(await post('while the bus is down')).toBe(200);
          await expect.poll(messages, { timeout: 15_000 }).toContain('while the bus is down');
          await bus.nats().start();
          // The node subscribes again by itself once it is back.
          await expect.poll(() => subjectsOf(other.url), { timeout: 15_000 }).toContain(`presence.wakeup.${there.userId}`);
          expect(await post('after the bus is back')).toBe(200);
          await expect.poll(messages, { timeout: 15_000 }).toContain('after the bus is back');
        } finally {
          await Promise.all([daemon.close(), local.close()]);
          await other.close();
        }
      }, 60_000);
    });
  }
});
