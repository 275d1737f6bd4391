/** `GET /healthz`: is the database reachable, and are all migrations applied? */
import { readdir } from 'node:fs/promises';
import type { Database } from './db/client.ts';
import { migrationsDir } from './db/migrate.ts';

export interface Health {
  status: 'ok' | 'unavailable';
  database: 'ok' | 'unreachable';
  migrations: 'ok' | 'pending' | 'unknown';
}

export async function checkHealth(db: Database): Promise<Health> {
  try {
    const expected = (await readdir(migrationsDir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
    const { rows } = await db.pool.query<{ migration_name: string }>(
      'SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
    );
    const applied = new Set(rows.map((r) => r.migration_name));
    const pending = expected.some((name) => !applied.has(name));
    return { status: pending ? 'unavailable' : 'ok', database: 'ok', migrations: pending ? 'pending' : 'ok' };
  } catch {
    return { status: 'unavailable', database: 'unreachable', migrations: 'unknown' };
  }
}
