/**
 * PostgreSQL primary failover under load. Two nodes reach the database only
 * through HAProxy, run on the configuration the README shows
 * (deploy/haproxy/presence-postgres.cfg); behind it a primary and a
 * synchronous streaming standby (Debian's PostgreSQL 15). The primary is
 * killed (kill -9, every backend with it), the balancer repointed through its
 * runtime API to the standby, which takes connections but refuses writes
 * until it is promoted a moment later. Meanwhile
 * every POST is answered, with 200 or 503 errno 150 (never 500, never a
 * dropped connection); the nodes recover by themselves, their LISTEN
 * connection included; every notification acknowledged before, during and
 * after reaches its daemon. The unavailability window is printed.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '../../src/server/platform/db/client.ts';
import { expectOwnMessagesUnderOneId, startFailoverDaemon, waitForBacklogs, type FailoverDaemon } from '../support/failoverDaemon.ts';
import { makeApp, makeAppUsers } from '../support/factories.ts';
import { FaultLoad } from '../support/faultLoad.ts';
import { freePort, rawRequest, startServerWithRetry, waitUntil } from '../support/faultTools.ts';
import { requireHaproxy, startHaproxy, type Haproxy } from '../support/haproxy.ts';
import { requirePostgres15, startReplicatedPostgres, type ReplicatedPostgres } from '../support/replicatedPostgres.ts';
import { isProcessRunning, killServerProcesses, type ServerProcess } from '../support/serverProcess.ts';

const USERS = 16;
/** Acknowledged notifications to reach before the kill, and again after the failover. */
const ACKED_PER_PHASE = 200;
const BACKEND = 'postgres';

let postgres: ReplicatedPostgres | undefined;
let balancer: Haproxy | undefined;
let db: Database;
const nodes: ServerProcess[] = [];
let app: { appid: string; key: string };
const users: { uid: string; token: string }[] = [];
const daemons: FailoverDaemon[] = [];
let load: FaultLoad | undefined;

beforeAll(async () => {
  requireHaproxy();
  requirePostgres15();
  postgres = await startReplicatedPostgres();
  const port = await freePort();
  balancer = await startHaproxy(
    'presence-postgres.cfg',
    { PRESENCE_PG_BIND: `127.0.0.1:${port}`, PG_PRIMARY: `127.0.0.1:${postgres.primary.port}`, PG_STANDBY: `127.0.0.1:${postgres.standby.port}` },
    [port],
  );
  const proxy = balancer;
  await waitUntil(async () => (await proxy.serverStatus(BACKEND, 'primary')) === 'UP', {
    timeoutMs: 20_000,
    describe: () => 'the primary is not UP by its health check',
  });
  const databaseUrl = `postgresql://presence@127.0.0.1:${port}/presence`;
  const env = { DATABASE_URL: databaseUrl, PORT: '0', HOST: '127.0.0.1', RATE_LIMIT_PER_SECOND: '0', LOG_LEVEL: 'warn', DATABASE_CONNECT_TIMEOUT_MS: '1000' };
  // One after the other: the first applies the migrations.
  for (let i = 0; i < 2; i++) nodes.push(await startServerWithRetry(env));
  db = connectDatabase({ url: databaseUrl, poolSize: 2 });
  app = await makeApp(db);
  users.push(...(await makeAppUsers(db, app.appid, USERS)));
  // Daemons split over both nodes, straight to them: this test is about the database behind the nodes.
  for (const [i, user] of users.entries())
    daemons.push(
      startFailoverDaemon(
        nodes.map((n) => n.url),
        user.token,
        { start: i % 2 },
      ),
    );
  await waitForBacklogs(daemons);
}, 150_000);

afterAll(async () => {
  await load?.stop().catch(() => undefined);
  await Promise.all(daemons.map((d) => d.close().catch(() => undefined)));
  await killServerProcesses();
  await db?.close().catch(() => undefined);
  await balancer?.stop();
  await postgres?.stop();
});

/** The nodes' LISTEN connections on one server, by their application name (channel/channel.ts). */
async function listenersOn(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  try {
    await client.connect();
    const { rows } = await client.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'presence-listener%' AND query LIKE 'LISTEN %' AND state = 'idle'",
    );
    return rows[0]?.n ?? 0;
  } finally {
    await client.end().catch(() => undefined);
  }
}

describe('PostgreSQL primary failover under load', () => {
  it('answers 503 errno 150 while no primary takes writes, recovers by itself with LISTEN, and loses nothing acknowledged', async () => {
    const pair = postgres as ReplicatedPostgres;
    const proxy = balancer as Haproxy;
    expect(await listenersOn(pair.primary.url)).toBe(nodes.length);

    const running = new FaultLoad({
      targets: nodes.map((n) => n.url),
      appid: app.appid,
      key: app.key,
      uids: users.map((u) => u.uid),
      batch: 4,
      concurrency: 4,
    });
    load = running;
    const progress = () =>
      `acked ${running.acked.size}, sent ${running.sent.size}, connection errors ${running.connectionErrors}, refusals ${running.refusals.length} ` +
      `(first ${JSON.stringify(running.refusals[0])})`;
    running.start();
    await waitUntil(() => running.acked.size >= ACKED_PER_PHASE || running.saturated, { timeoutMs: 60_000, describe: progress });
    const ackedBeforeKill = running.acked.size;

    // The primary dies. A hasty operator repoints the balancer first, so for a while the nodes reach a
    // standby still in recovery, which refuses every write; then promotes it.
    const tKill = Date.now();
    await pair.primary.kill();
    await waitUntil(() => running.refusals.length > 0, { timeoutMs: 20_000, describe: progress });
    await proxy.command(`set server ${BACKEND}/primary state maint`);
    await proxy.command(`shutdown sessions server ${BACKEND}/primary`);
    await proxy.command(`set server ${BACKEND}/standby state ready`);
    await waitUntil(async () => (await proxy.serverStatus(BACKEND, 'standby')) === 'UP', { timeoutMs: 10_000, describe: () => 'standby not UP' });
    const refusalsOnStandby = running.refusals.length;
    await waitUntil(() => running.refusals.length >= refusalsOnStandby + 8, { timeoutMs: 20_000, describe: progress });
    await pair.promoteStandby();
    const tPromoted = Date.now();
    const firstRefusal = running.refusals[0]?.at as number;
    await waitUntil(() => running.okAt.some((at) => at > firstRefusal), { timeoutMs: 30_000, describe: progress });
    const firstOkAfter = running.okAt.find((at) => at > firstRefusal) as number;
    const ackedAtRecovery = running.acked.size;
    await waitUntil(() => running.acked.size >= ackedAtRecovery + ACKED_PER_PHASE || running.saturated, { timeoutMs: 60_000, describe: progress });
    await running.stop();
    expect(running.saturated, progress()).toBe(false);
    expect(running.maxMayBeStored()).toBeLessThanOrEqual(90);

    // Every POST had an answer: a 200 or "storage unavailable", nothing else.
    expect(running.connectionErrors, progress()).toBe(0);
    for (const refusal of running.refusals) {
      expect(refusal.status, refusal.body).toBe(503);
      expect(JSON.parse(refusal.body)).toMatchObject({ result: 'KO', errno: 150 });
      expect(refusal.retryAfter).toBeDefined();
    }
    expect(running.refusals.every((r) => r.at >= tKill && r.at <= firstOkAfter + 5_000)).toBe(true);
    // Both nodes are still the processes they were: nothing crashed.
    for (const node of nodes) expect(isProcessRunning(node.pid), node.stderr().slice(-2_000)).toBe(true);

    // Everything acknowledged, before, during and after, reaches its daemon.
    const missing = () => users.flatMap((_, index) => running.ackedFor(index).filter((m) => !daemons[index]?.messages().has(m)));
    await waitUntil(() => missing().length === 0, {
      timeoutMs: 30_000,
      describe: () =>
        `${missing().length} acknowledged notifications not received, e.g. ${missing().slice(0, 5).join(', ')}\n` +
        daemons.map((d, i) => `daemon ${i}: ${d.describe()}`).join('\n'),
    });
    expectOwnMessagesUnderOneId(daemons, running.sent, { subscriptionErrors: 'allowed' });

    // LISTEN came back on the new primary: a wake-up now reaches a daemon live, on its open
    // connection, from a POST to the other node (not a backlog after a reconnect).
    await waitUntil(async () => (await listenersOn(pair.standby.url)) === nodes.length, {
      timeoutMs: 20_000,
      describe: () => 'the nodes are not listening on the new primary',
    });
    const backlogsBefore = daemons.map((d) => d.backlogs());
    const probes = users.map((user, index) => ({ index, message: `after failover ${index}` }));
    for (const { index, message } of probes) {
      const otherNode = nodes[(index + 1) % nodes.length] as ServerProcess;
      const res = await rawRequest(`${otherNode.url}/${app.appid}/notification`, {
        headers: { Authorization: `Bearer ${app.key}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ UID: users[index]?.uid, message, action: 'https://example.com/failover' }),
      });
      expect(res.status, res.text).toBe(200);
    }
    await waitUntil(() => probes.every(({ index, message }) => daemons[index]?.messages().has(message)), {
      timeoutMs: 15_000,
      describe: () => `probes not received live: ${probes.filter(({ index, message }) => !daemons[index]?.messages().has(message)).length}`,
    });
    expect(daemons.map((d) => d.backlogs())).toEqual(backlogsBefore);

    const duplicates = daemons.reduce((sum, d) => sum + d.deliveries() - d.items.size, 0);
    console.info(
      `[failover] unavailability window ${((firstOkAfter - firstRefusal) / 1000).toFixed(2)} s (first 503 to first 200 after it; ` +
        `the standby refusing writes until promoted ${((tPromoted - tKill) / 1000).toFixed(2)} s after the kill, kill to first 200 ${((firstOkAfter - tKill) / 1000).toFixed(2)} s), ` +
        `${running.refusals.length} POSTs answered 503 errno 150, acked ${running.acked.size} (${ackedBeforeKill} before the kill), redelivered duplicates ${duplicates}`,
    );
  }, 180_000);
});
