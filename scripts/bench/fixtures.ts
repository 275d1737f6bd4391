/**
 * The benchmark's world, made with the service's own domain functions (what
 * the CLI calls): one app, and per simulated person a user, a device (its
 * token) and a UID with its queue. Person i is the same across phases: the
 * first `uids` of them take the ingest load, the first `latencyDaemons` are
 * the latency phase's daemons, all of them connect in the capacity phase.
 */
import { createApp } from '../../src/server/domain/apps.ts';
import type { Database } from '../../src/server/platform/db/client.ts';
import { createDevice } from '../../src/server/domain/devices.ts';
import { grantUid } from '../../src/server/domain/uids.ts';
import { createUser } from '../../src/server/domain/users.ts';

export const BENCH_APPID = 'bench';

export interface Person {
  userId: string;
  uid: string;
  token: string;
}

export interface Fixtures {
  appid: string;
  key: string;
  people: Person[];
}

/** Creates the app and `count` people, `parallel` at a time. */
export async function seed(db: Database, count: number, parallel: number, log: (line: string) => void): Promise<Fixtures> {
  const { appid, key } = await createApp(db, { appid: BENCH_APPID, name: 'Bench chat' });
  const people: Person[] = new Array(count);
  let next = 0;
  let lastReport = Date.now();
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const { userId } = await createUser(db, { name: `bench user ${i}` });
      const [{ token }, { uid }] = await Promise.all([createDevice(db, { userId, name: `bench device ${i}` }), grantUid(db, { appid, userId })]);
      people[i] = { userId, uid, token };
      if (Date.now() - lastReport > 5_000) {
        lastReport = Date.now();
        log(`  seeded ${i + 1}/${count} users`);
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return { appid, key, people };
}

/**
 * Empties every queue and the ack log between measurements, so each row
 * starts from the same state (no queue near its cap, no dead tuples left by
 * the previous row). Runs while no load is applied.
 */
export async function resetQueues(db: Database): Promise<void> {
  await db.pool.query('TRUNCATE queue_items, ack_log');
  await db.pool.query('UPDATE queues SET size = 0, first_expiry = NULL WHERE size <> 0 OR first_expiry IS NOT NULL');
  await db.pool.query('VACUUM ANALYZE queues, queue_items, ack_log, rate_windows');
}
