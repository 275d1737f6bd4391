/**
 * Starts one real PostgreSQL (the embedded one, in a temporary folder) for
 * the whole test run, migrated, and hands its URL to the tests.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/server/platform/db/embeddedPostgres.ts';
import { applyMigrations } from '../../src/server/platform/db/migrate.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'presence-test-db-'));
  // mkdtemp makes it owner-only; as root, PostgreSQL runs as another user that must reach it.
  await chmod(dataDir, 0o755);
  const postgres = await startEmbeddedPostgres({ dataDir, database: 'presence_test' });
  const pool = new pg.Pool({ connectionString: postgres.url });
  await applyMigrations(pool);
  await pool.end();
  project.provide('databaseUrl', postgres.url);
  return async () => {
    await postgres.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
}
