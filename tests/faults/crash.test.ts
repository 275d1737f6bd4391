/**
 * kill -9 under load: a real server process takes concurrent POSTs for 50
 * users with a daemon each; it is killed mid-load, POSTs keep coming (and
 * fail: they were never acknowledged), it comes back on the same port, the
 * daemons reconnect by themselves, and every notification whose POST got a
 * 200 reaches its user's daemon (duplicates only as redeliveries of the same
 * id). Nothing acknowledged is ever missing from "received or still queued".
 *
 * The test daemons give up on a WebSocket handshake after 2 s and retry: a
 * restarting node leaves some handshakes unanswered for good (the known bug
 * at the end of this file), which would otherwise stall a daemon forever.
 * How many were abandoned is printed with the results.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import type { Database } from '../../src/server/platform/db/client.ts';
import { createDevice } from '../../src/server/domain/devices.ts';
import { startFailoverDaemon, waitForBacklogs, type FailoverDaemon } from '../support/failoverDaemon.ts';
import { makeApp, makeAppUsers, makeUser, testDatabase } from '../support/factories.ts';
import { FaultLoad } from '../support/faultLoad.ts';
import { freePort, startServerWithRetry, waitUntil } from '../support/faultTools.ts';
import { killServerProcesses, startServerProcess, type ServerEnv, type ServerProcess } from '../support/serverProcess.ts';

const USERS = 50;
/** Acknowledged notifications to reach before the kill, and again after the restart. */
const ACKED_PER_PHASE = 1_000;

let db: Database;
let env: ServerEnv;
let server: ServerProcess;
let app: { appid: string; key: string };
const users: { userId: string; uid: string; token: string; deviceId: string }[] = [];
const daemons: FailoverDaemon[] = [];
let load: FaultLoad | undefined;

beforeAll(async () => {
  db = testDatabase();
  env = {
    DATABASE_URL: inject('databaseUrl'),
    PORT: String(await freePort()),
    HOST: '127.0.0.1',
    RATE_LIMIT_PER_SECOND: '0',
    LOG_LEVEL: 'warn',
  };
  server = await startServerWithRetry(env);
  app = await makeApp(db);
  users.push(...(await makeAppUsers(db, app.appid, USERS)));
  for (const user of users) daemons.push(startFailoverDaemon([server.url], user.token));
  await waitForBacklogs(daemons);
}, 120_000);

afterAll(async () => {
  await load?.stop().catch(() => undefined);
  await Promise.all(daemons.map((d) => d.close().catch(() => undefined)));
  await killServerProcesses();
  await db?.close();
});

/** The messages of this app's queue items still in the database, by UID index. */
async function stillQueued(): Promise<Map<number, Set<string>>> {
  const indexOf = new Map(users.map((u, i) => [u.uid, i]));
  const { rows } = await db.pool.query<{ uid: string; message: string }>('SELECT uid, message FROM queue_items WHERE app_id = $1', [app.appid]);
  const byUser = new Map<number, Set<string>>();
  for (const row of rows) {
    const index = indexOf.get(row.uid) as number;
    if (!byUser.has(index)) byUser.set(index, new Set());
    byUser.get(index)?.add(row.message);
  }
  return byUser;
}

describe('kill -9 under load', () => {
  it('loses no acknowledged notification across a crash and a restart on the same port', async () => {
    const running = new FaultLoad({ targets: [server.url], appid: app.appid, key: app.key, uids: users.map((u) => u.uid), batch: 10, concurrency: 6 });
    load = running;
    const progress = () =>
      `acked ${running.acked.size}, sent ${running.sent.size}, connection errors ${running.connectionErrors}, refusals ${running.refusals.length}, saturated ${running.saturated}`;
    const t0 = Date.now();
    running.start();

    // Phase 1: load on a healthy server.
    await waitUntil(() => running.acked.size >= ACKED_PER_PHASE || running.saturated, { timeoutMs: 60_000, describe: progress });
    expect(running.saturated, progress()).toBe(false);

    // Phase 2: kill -9 mid-load; POSTs keep coming and fail.
    const ackedBeforeKill = running.acked.size;
    const tKill = Date.now();
    server.kill('SIGKILL');
    await server.exited;
    expect(server.exitSignal()).toBe('SIGKILL');
    const errorsAtKill = running.connectionErrors;
    await waitUntil(() => running.connectionErrors >= errorsAtKill + 20, { timeoutMs: 20_000, describe: progress });

    // Phase 3: the server comes back at the same address; load goes on.
    server = await startServerWithRetry(env);
    const tBack = Date.now();
    const ackedAtRestart = running.acked.size;
    await waitUntil(() => running.acked.size >= ackedAtRestart + ACKED_PER_PHASE || running.saturated, { timeoutMs: 60_000, describe: progress });
    await running.stop();
    const tStop = Date.now();
    expect(running.saturated, progress()).toBe(false);
    // The cap never had a reason to drop anything.
    expect(running.maxMayBeStored()).toBeLessThanOrEqual(90);

    // Every answer was a 200 or no answer at all.
    expect(running.refusals, 'POSTs answered with something other than 200').toEqual([]);
    expect(running.refusedConnections).toBeGreaterThan(0);

    // Right after the load: everything acknowledged is received or still queued. (The database
    // is read first: an item is deleted only by the ack of a daemon that had received it.)
    const queued = await stillQueued();
    const missingNow: string[] = [];
    for (const [message, index] of running.acked) {
      if (!daemons[index]?.messages().has(message) && !queued.get(index)?.has(message)) missingNow.push(message);
    }
    expect(missingNow, 'acknowledged but neither received nor queued').toEqual([]);

    // Then every daemon receives every acknowledged notification of its user.
    const stuck = () =>
      users
        .map((_, index) => ({ index, lacking: running.ackedFor(index).filter((m) => !daemons[index]?.messages().has(m)) }))
        .filter((d) => d.lacking.length > 0)
        .map((d) => `daemon ${d.index} lacks ${d.lacking.length} (${d.lacking.slice(0, 3).join(', ')}…): ${daemons[d.index]?.describe()}`)
        .join('\n');
    const missing = () => users.flatMap((_, index) => running.ackedFor(index).filter((m) => !daemons[index]?.messages().has(m)));
    await waitUntil(() => missing().length === 0, {
      timeoutMs: 30_000,
      describe: () => `${missing().length} acknowledged notifications not received, e.g. ${missing().slice(0, 5).join(', ')}\n${stuck()}`,
    }).catch(async (error: Error) => {
      // What the database says about the daemons that lack items: their connection rows and queues.
      const lacking = users.filter((_, index) => running.ackedFor(index).some((m) => !daemons[index]?.messages().has(m)));
      const rows = await db.pool.query(
        `SELECT d.id AS device, (SELECT json_agg(json_build_object('node', c.node_id, 'since', c.connected_at, 'beat', (SELECT h.beat_at FROM node_heartbeats h WHERE h.node_id = c.node_id))) FROM connections c WHERE c.device_id = d.id) AS connections,
                (SELECT count(*) FROM queue_items i JOIN uids u ON u.uid = i.uid WHERE u.user_id = d.user_id)::int AS queued
           FROM devices d WHERE d.id = ANY($1::uuid[])`,
        [lacking.map((u) => u.deviceId)],
      );
      error.message += `\nserver side: ${JSON.stringify(rows.rows)}\nnode stdout tail: ${server.stdout().slice(-2000)}\nstderr tail: ${server.stderr().slice(-2000)}`;
      throw error;
    });

    for (const [index, daemon] of daemons.entries()) {
      // Only this user's notifications, only ones that were sent, each stored once (duplicates share the id).
      const idsByMessage = new Map<string, Set<string>>();
      for (const item of daemon.items.values()) {
        expect(running.sent.get(item.message), `daemon ${index} got ${item.message}`).toBe(index);
        if (!idsByMessage.has(item.message)) idsByMessage.set(item.message, new Set());
        idsByMessage.get(item.message)?.add(item.id);
        expect(item.appid).toBe(app.appid);
      }
      const storedTwice = [...idsByMessage].filter(([, ids]) => ids.size > 1);
      expect(storedTwice, `daemon ${index}: one message under several ids`).toEqual([]);
      expect(daemon.errors, `daemon ${index} subscription errors`).toEqual([]);
    }
    // The daemons reconnected to the new process by themselves (one more backlog each).
    expect(daemons.every((d) => d.backlogs() >= 2)).toBe(true);

    const tAll = Date.now();
    const duplicates = daemons.reduce((sum, d) => sum + d.deliveries() - d.items.size, 0);
    const stalled = daemons.reduce((sum, d) => sum + d.stalledHandshakes(), 0);
    const unackedButReceived = daemons.reduce((sum, d, index) => sum + [...d.messages()].filter((m) => running.acked.get(m) !== index).length, 0);
    console.info(
      `[crash] acked ${running.acked.size} (${ackedBeforeKill} before the kill), sent ${running.sent.size}, ` +
        `connection errors ${running.connectionErrors} (${running.refusedConnections} refused), redelivered duplicates ${duplicates}, ` +
        `received without a 200 (committed as the server died) ${unackedButReceived}, ` +
        `handshakes left unanswered by the restarting server ${stalled} (known bug below); ` +
        `load ${(tKill - t0) / 1000} s, down ${(tBack - tKill) / 1000} s, load after restart ${(tStop - tBack) / 1000} s, all received ${(tAll - tStop) / 1000} s later`,
    );
  }, 170_000);
});

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** How a WebSocket handshake to /presence ends: "open", "http <status>", "error …", or "no answer". */
function handshake(port: number, waitMs: number): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/presence`);
    const timer = setTimeout(() => {
      resolve('no answer');
      ws.terminate();
    }, waitMs);
    const done = (outcome: string) => {
      clearTimeout(timer);
      resolve(outcome);
      ws.terminate();
    };
    ws.on('open', () => done('open'));
    ws.on('unexpected-response', (_req, res) => done(`http ${res.statusCode}`));
    ws.on('error', (error) => done(`error ${error.message}`));
  });
}

describe('a node that is starting', () => {
  /*
   * The HTTP server listens before the channel is open (that waits on the
   * database). An upgrade to /presence arriving in between must be held and
   * answered once the channel is ready, not handed to Next.js as a plain GET
   * (which never answers it, stalling a reconnecting daemon). The window is
   * held open here, deterministically, by locking the connection row that the
   * node's start-up deletes (clearNodeOnlineRows).
   */
  it('answers (or refuses) every WebSocket handshake while it starts', async () => {
    const nodeId = `fault-window-${randomBytes(4).toString('hex')}`;
    const port = await freePort();
    const { userId } = await makeUser(db);
    const { deviceId } = await createDevice(db, { userId, name: 'ghost' });
    const locker = new pg.Client({ connectionString: inject('databaseUrl') });
    await locker.connect();
    try {
      await locker.query(`INSERT INTO connections (id, device_id, node_id) VALUES ($1, $2, $3)`, [randomUUID(), deviceId, nodeId]);
      await locker.query('BEGIN');
      await locker.query('SELECT 1 FROM connections WHERE node_id = $1 FOR UPDATE', [nodeId]);
      const starting = startServerProcess({ ...env, PORT: String(port), NODE_ID: nodeId });
      starting.catch(() => undefined);
      let listening = false;
      for (const deadline = Date.now() + 30_000; !listening && Date.now() < deadline;) {
        listening = await accepts(port);
        if (!listening) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const outcomes = listening ? [await handshake(port, 3_000), await handshake(port, 3_000), await handshake(port, 3_000)] : [];
      await locker.query('COMMIT');
      (await starting).kill('SIGKILL');
      expect(outcomes, 'handshakes while the node starts').not.toContain('no answer');
    } finally {
      await locker.end();
    }
  }, 60_000);
});
