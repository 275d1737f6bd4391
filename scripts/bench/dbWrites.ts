/**
 * Database writes over a window, from PostgreSQL's own counters for the bench
 * database (pg_stat_database): committed transactions and rows inserted,
 * updated and deleted. Backends report their counters about once a second,
 * so the window should span several seconds (and, for idle daemons, several
 * heartbeats).
 */
import type { Database } from '../../src/server/platform/db/client.ts';

export interface WriteRate {
  seconds: number;
  commitsPerSecond: number;
  /** Rows inserted, updated and deleted per second. */
  rowsPerSecond: number;
}

interface Counters {
  commits: number;
  rows: number;
  at: number;
}

async function readCounters(db: Database): Promise<Counters> {
  // A fresh snapshot each time: within one transaction PostgreSQL would keep serving the first one.
  await db.pool.query('SELECT pg_stat_clear_snapshot()');
  const { rows } = await db.pool.query<{ commits: string; rows: string }>(
    `SELECT xact_commit::text AS commits, (tup_inserted + tup_updated + tup_deleted)::text AS rows
       FROM pg_stat_database WHERE datname = current_database()`,
  );
  return { commits: Number(rows[0]?.commits ?? Number.NaN), rows: Number(rows[0]?.rows ?? Number.NaN), at: performance.now() };
}

/** Starts a window; the function it returns ends it and gives the rates in between. */
export async function startWriteMeter(db: Database): Promise<() => Promise<WriteRate>> {
  const first = await readCounters(db);
  return async () => {
    const last = await readCounters(db);
    const seconds = (last.at - first.at) / 1000;
    return { seconds, commitsPerSecond: (last.commits - first.commits) / seconds, rowsPerSecond: (last.rows - first.rows) / seconds };
  };
}
