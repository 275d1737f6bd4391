/**
 * Periodic housekeeping on every node (each job is safe to run on several
 * nodes at once): the expiry sweep, the ack log's bound, old idempotency
 * keys and rate windows, and online rows of nodes that died.
 */
import { trimAckLog } from '../domain/ackLog.ts';
import type { Database } from './db/client.ts';
import { sweepStaleOnlineRows } from '../domain/delivery/onlineRows.ts';
import type { Logger } from './log.ts';
import { sweepExpiredItems } from '../domain/notifications/expiry.ts';
import { sweepIdempotencyKeys } from '../domain/notifications/idempotency.ts';

const MAINTENANCE_INTERVAL_MS = 30_000;

export function startMaintenance(db: Database, options: { ackLogSize: number; logger: Logger; intervalMs?: number }): { stop(): void } {
  const jobs: [string, () => Promise<unknown>][] = [
    ['expiry sweep', () => sweepExpiredItems(db)],
    ['ack log trim', () => trimAckLog(db, options.ackLogSize)],
    ['idempotency keys', () => sweepIdempotencyKeys(db)],
    ['rate windows', () => db.pool.query(`DELETE FROM rate_windows WHERE window_start < now() - interval '1 minute'`)],
    ['stale connections', () => sweepStaleOnlineRows(db)],
  ];
  let running = false;
  const run = async () => {
    if (running) return; // a slow round (database trouble) is not stacked
    running = true;
    for (const [name, job] of jobs) {
      await job().catch((error: Error) => options.logger.warn({ job: name, err: { message: error.message } }, 'maintenance job failed'));
    }
    running = false;
  };
  const timer = setInterval(() => void run(), options.intervalMs ?? MAINTENANCE_INTERVAL_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
