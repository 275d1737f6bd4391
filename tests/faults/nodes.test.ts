/**
 * Two nodes on one database, daemons split across them, POSTs through both;
 * one node is killed (kill -9) mid-stream. Its daemons fail over to the
 * other node by themselves and miss nothing: every notification whose POST
 * got a 200 (from either node, before or after the kill) reaches its daemon.
 * Run with wake-ups over NOTIFY and over the NATS bus.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Database } from '../../src/server/platform/db/client.ts';
import { BUS_MODES, useBusMode } from '../support/busModes.ts';
import { expectOwnMessagesUnderOneId, startFailoverDaemon, waitForBacklogs, type FailoverDaemon } from '../support/failoverDaemon.ts';
import { makeApp, makeAppUsers, testDatabase } from '../support/factories.ts';
import { FaultLoad } from '../support/faultLoad.ts';
import { startServerWithRetry, waitUntil } from '../support/faultTools.ts';
import { killServerProcesses, type ServerProcess } from '../support/serverProcess.ts';

const USERS = 20;
/** Acknowledged notifications to reach before the kill, and again after it. */
const ACKED_PER_PHASE = 400;

// With wake-ups over PostgreSQL NOTIFY and over the NATS bus.
describe.each(BUS_MODES)('wake-ups over $mode', ({ mode }) => {
  const bus = useBusMode(mode);

  let db: Database;
  let survivor: ServerProcess;
  let victim: ServerProcess;
  let app: { appid: string; key: string };
  const users: { uid: string; token: string }[] = [];
  const daemons: FailoverDaemon[] = [];
  let load: FaultLoad | undefined;

  beforeAll(async () => {
    db = testDatabase();
    const env = { ...bus.env(), DATABASE_URL: inject('databaseUrl'), PORT: '0', HOST: '127.0.0.1', RATE_LIMIT_PER_SECOND: '0', LOG_LEVEL: 'warn' };
    // One after the other: both apply migrations at start-up (safe either way, but quicker on two cores).
    survivor = await startServerWithRetry(env);
    victim = await startServerWithRetry(env);
    app = await makeApp(db);
    users.push(...(await makeAppUsers(db, app.appid, USERS)));
    // Even daemons start on the survivor, odd ones on the victim; each fails over to the other node.
    for (const [i, user] of users.entries()) daemons.push(startFailoverDaemon([survivor.url, victim.url], user.token, { start: i % 2 }));
    await waitForBacklogs(daemons);
  }, 120_000);

  afterAll(async () => {
    await load?.stop().catch(() => undefined);
    await Promise.all(daemons.map((d) => d.close().catch(() => undefined)));
    await killServerProcesses();
    await db?.close();
  });

  describe('a node dies under load', () => {
    it('moves its daemons to the other node, and they miss nothing acknowledged by either node', async () => {
      const onVictim = daemons.filter((_, i) => i % 2 === 1);
      expect(onVictim.every((d) => d.connectedTo[0] === victim.url)).toBe(true);
      expect(daemons.filter((_, i) => i % 2 === 0).every((d) => d.connectedTo[0] === survivor.url)).toBe(true);

      const running = new FaultLoad({
        targets: [survivor.url, victim.url],
        appid: app.appid,
        key: app.key,
        uids: users.map((u) => u.uid),
        batch: 5,
        concurrency: 6,
      });
      load = running;
      const progress = () =>
        `acked ${running.acked.size}, sent ${running.sent.size}, connection errors ${running.connectionErrors}, refusals ${running.refusals.length}`;
      running.start();
      await waitUntil(() => running.acked.size >= ACKED_PER_PHASE || running.saturated, { timeoutMs: 60_000, describe: progress });
      // Both nodes took POSTs, so items crossed nodes to reach their daemons.
      expect(running.okByTarget.get(victim.url) ?? 0).toBeGreaterThan(0);
      expect(running.okByTarget.get(survivor.url) ?? 0).toBeGreaterThan(0);

      victim.kill('SIGKILL');
      await victim.exited;
      const ackedAtKill = running.acked.size;
      await waitUntil(() => running.acked.size >= ackedAtKill + ACKED_PER_PHASE || running.saturated, { timeoutMs: 60_000, describe: progress });
      await running.stop();
      expect(running.saturated, progress()).toBe(false);
      expect(running.maxMayBeStored()).toBeLessThanOrEqual(90);
      expect(running.refusals, 'POSTs answered with something other than 200').toEqual([]);
      // POSTs sent to the dead node failed at connect: they were never acknowledged.
      expect(running.refusedConnections).toBeGreaterThan(0);

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
      });

      // The victim's daemons now live on the survivor; the survivor's never moved.
      for (const daemon of onVictim) expect(daemon.connectedTo.at(-1)).toBe(survivor.url);
      for (const daemon of daemons.filter((_, i) => i % 2 === 0)) expect(daemon.connectedTo).toEqual([survivor.url]);

      expectOwnMessagesUnderOneId(daemons, running.sent, { subscriptionErrors: 'none' });
      const duplicates = daemons.reduce((sum, d) => sum + d.deliveries() - d.items.size, 0);
      console.info(
        `[nodes, ${mode}] acked ${running.acked.size} (${ackedAtKill} before the kill; by node: ${JSON.stringify(Object.fromEntries(running.okByTarget))} POSTs), ` +
          `connection errors ${running.connectionErrors}, redelivered duplicates ${duplicates}`,
      );
    }, 150_000);
  });
});
