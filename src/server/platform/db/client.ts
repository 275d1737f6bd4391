/**
 * One pool per process, shared by Prisma (through its pg adapter) and by the
 * raw SQL of the queue transactions, so both count against one limit.
 */
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from './generated/client.ts';

export interface DatabaseOptions {
  url: string;
  poolSize?: number;
  connectTimeoutMs?: number;
  /** Where pool errors go; an idle client's error must not crash the process. */
  onError?: (error: Error) => void;
}

export interface Database {
  pool: pg.Pool;
  prisma: PrismaClient;
  close(): Promise<void>;
}

/** Opens the pool and the Prisma client over it. Nothing connects until first use. */
export function connectDatabase(options: DatabaseOptions): Database {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 20,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    idleTimeoutMillis: 30_000,
    // Every query here is small and indexed; a parallel plan would start worker
    // processes per query, which costs more than the query (a reconnect storm
    // reads thousands of backlogs at once).
    options: '-c max_parallel_workers_per_gather=0',
  });
  // A pg client emits 'error' when its connection drops (a database restart),
  // also while checked out, when the pool's own listener is detached: without
  // a listener of its own, that is an uncaught exception. The query in flight
  // still fails, and the pool discards the broken client on release.
  const onError = options.onError ?? (() => {});
  pool.on('connect', (client) => client.on('error', onError));
  pool.on('error', () => {}); // an idle client's error: already reported by its own listener
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    pool,
    prisma,
    async close() {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

/**
 * One of something per database handle, made on first use: the coalescers,
 * which batch their queries on one pool (a process may open several handles,
 * as the tests do).
 */
export function perDatabase<T>(make: (db: Database) => T): (db: Database) => T {
  const made = new WeakMap<Database, T>();
  return (db) => {
    let value = made.get(db);
    if (value === undefined) made.set(db, (value = make(db)));
    return value;
  };
}

/**
 * Runs `work` on a connection of its own from the pool. Past `timeoutMs` the
 * connection is closed, which makes PostgreSQL roll back what it was doing,
 * and the caller gets a "transaction timeout" (storage unavailable). `work`
 * calls `discard` when the connection must not go back to the pool.
 */
async function onConnection<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient, discard: (error: Error) => void) => Promise<T>,
  timeoutMs: number | undefined,
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  let timedOut = false;
  const timer = timeoutMs
    ? setTimeout(() => {
        timedOut = true;
        broken = new Error('transaction timeout');
        void client.end().catch(() => undefined);
      }, timeoutMs)
    : undefined;
  try {
    return await work(client, (error) => (broken ??= error));
  } catch (error) {
    if (timedOut) throw new Error('transaction timeout', { cause: error });
    throw error;
  } finally {
    clearTimeout(timer);
    client.release(broken);
  }
}

/**
 * Runs `work` in a transaction on a connection of its own from the pool:
 * COMMIT when it resolves, ROLLBACK when it throws, and the timeout of
 * {@link onConnection}.
 */
export function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>, options: { timeoutMs?: number } = {}): Promise<T> {
  return onConnection(
    pool,
    async (client, discard) => {
      try {
        await client.query('BEGIN');
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        // A connection that cannot even roll back is not given back to the pool.
        await client.query('ROLLBACK').catch(discard);
        throw error;
      }
    },
    options.timeoutMs,
  );
}

/** One statement, which is its own transaction, with the timeout of {@link onConnection}. */
export function queryWithin<R extends pg.QueryResultRow>(pool: pg.Pool, query: pg.QueryConfig, timeoutMs: number): Promise<pg.QueryResult<R>> {
  return onConnection(pool, (client) => client.query<R>(query), timeoutMs);
}

const unavailableCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
  '08000', // connection_exception
  '08001', // sqlclient_unable_to_establish_sqlconnection
  '08003', // connection_does_not_exist
  '08006', // connection_failure
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available
  '57014', // query_canceled (statement or transaction timeout)
  '25P04', // transaction_timeout
  '25006', // read_only_sql_transaction: a standby still in recovery, reached during a failover
]);

const unavailableMessages =
  /timeout exceeded when trying to connect|Connection terminated|Client has encountered a connection error|Transaction already closed|Unable to start a transaction|transaction timeout/i;

/**
 * True when an error says the database cannot serve now (down, restarting,
 * saturated, timed out) rather than that the request or the code is wrong:
 * the caller answers "storage unavailable, retry later".
 */
export function isStorageUnavailable(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && unavailableCodes.has(code)) return true;
    if (unavailableMessages.test(e.message)) return true;
  }
  return false;
}
