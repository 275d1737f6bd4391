/**
 * The database rule shared by the server and the CLI: `DATABASE_URL` if set,
 * else the embedded PostgreSQL kept in `PRESENCE_DATA_DIR`. Migrations are
 * applied either way (safe when several processes start at once).
 */
import type { Config } from '../config.ts';
import { connectDatabase, type Database } from './client.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embeddedPostgres.ts';
import { applyMigrations } from './migrate.ts';

export interface OpenDatabase {
  db: Database;
  /** The URL in use (the embedded one, or DATABASE_URL). */
  url: string;
  /** Set on the embedded default. */
  embedded: EmbeddedPostgres | null;
  /** Closes the pool, then stops the embedded PostgreSQL if this process started it. */
  close(): Promise<void>;
}

export async function openDatabase(config: Config, options: { log?: (line: string) => void; attach?: boolean } = {}): Promise<OpenDatabase> {
  const log = options.log ?? (() => {});
  const embedded = config.DATABASE_URL ? null : await startEmbeddedPostgres({ dataDir: config.PRESENCE_DATA_DIR, log, attach: options.attach });
  const url = config.DATABASE_URL ?? (embedded as EmbeddedPostgres).url;
  const db = connectDatabase({
    url,
    poolSize: config.DATABASE_POOL_SIZE,
    connectTimeoutMs: config.DATABASE_CONNECT_TIMEOUT_MS,
    onError: (error) => log(`database connection error: ${error.message}`),
  });
  const close = async () => {
    await db.close().catch(() => undefined);
    await embedded?.stop();
  };
  try {
    const applied = await applyMigrations(db.pool);
    if (applied.length > 0) log(`applied migrations: ${applied.join(', ')}`);
  } catch (error) {
    await close();
    throw error;
  }
  return { db, url, embedded, close };
}
