/**
 * PostgreSQL's CPU per push, without HTTP or a server: `pushNotifications`
 * called straight from this process at a chosen batch size and concurrency,
 * into queues already at the cap (each push then prunes as many as it
 * adds), with the CPU of PostgreSQL's whole process tree read from /proc. What the
 * push group costs the database, apart from everything in front of it
 * (docs/benchmarks.md, "Fourth step").
 *
 *   BATCH=100 CONCURRENCY=8 node --import tsx scripts/bench/storeCost.ts
 *
 * BATCH (1), CONCURRENCY (1), PUSHES per round (2000), UIDS (1000); EMPTY=1
 * starts from empty queues instead, right after they were vacuumed.
 */
import { connectDatabase } from '../../src/server/platform/db/client.ts';
import { applyMigrations } from '../../src/server/platform/db/migrate.ts';
import { pushNotifications } from '../../src/server/domain/notifications/push.ts';
import { QUEUE_CAPACITY } from '../../src/shared/limits.ts';
import { BENCH_APPID, resetQueues, seed } from './fixtures.ts';
import { startBenchPostgres } from './postgres.ts';
import { postmasterPid, treeCpuSeconds } from './proc.ts';

const setting = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const batch = setting('BATCH', 1);
const concurrency = setting('CONCURRENCY', 1);
const pushes = setting('PUSHES', 2000);

const postgres = await startBenchPostgres(() => {});
const setup = connectDatabase({ url: postgres.url });
const db = connectDatabase({ url: postgres.url, poolSize: 20 });
try {
  await applyMigrations(setup.pool);
  const { people } = await seed(setup, setting('UIDS', 1000), 4, () => {});
  const uids = people.map((p) => p.uid);
  const items = (n: number) =>
    Array.from({ length: batch }, (_, j) => ({ uid: uids[(n * batch + j) % uids.length] as string, message: `m${n}.${j}`, action: 'https://example.com/' }));
  if (process.env.EMPTY) {
    await resetQueues(setup);
  } else {
    for (const uid of uids) {
      await pushNotifications(
        setup,
        BENCH_APPID,
        Array.from({ length: QUEUE_CAPACITY }, (_, n) => ({ uid, message: `fill ${n}`, action: 'https://example.com/' })),
      );
    }
    await setup.pool.query('VACUUM ANALYZE queues, queue_items, ack_log');
  }

  const postmaster = postmasterPid(postgres.clusterDir) as number;

  // Round 0 warms up: the pool's connections, their plans.
  for (let round = 0; round <= 3; round++) {
    const cpuBefore = treeCpuSeconds(postmaster);
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < pushes) await pushNotifications(db, BENCH_APPID, items(next++));
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const cpu = (treeCpuSeconds(postmaster) - cpuBefore) * 1000; // ms
    if (round === 0) continue;
    console.log(
      `round ${round}: batch ${batch} × ${concurrency} concurrent: ${Math.round((pushes * batch) / seconds)} items/s, ` +
        `PostgreSQL CPU ${Math.round((cpu * 1000) / pushes)} µs per push, ${Math.round((cpu * 1000) / (pushes * batch))} µs per item`,
    );
  }
} finally {
  await db.close();
  await setup.close();
  await postgres.stop();
}
