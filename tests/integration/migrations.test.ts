/**
 * The migration runner on a fresh database of the test server: concurrent
 * starts apply each migration once, the history matches Prisma's, and the
 * generated Prisma client works on the result (the hand-written SQL matches
 * prisma/schema.prisma).
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest';
import { createApp, authenticateApp } from '../../src/server/domain/apps.ts';
import { connectDatabase, type Database } from '../../src/server/platform/db/client.ts';
import { Prisma } from '../../src/server/platform/db/generated/client.ts';
import { applyMigrations, migrationsDir } from '../../src/server/platform/db/migrate.ts';
import { createDevice } from '../../src/server/domain/devices.ts';
import { grantUid, revokeUid } from '../../src/server/domain/uids.ts';
import { createUser } from '../../src/server/domain/users.ts';

const databaseName = `presence_migrations_${randomBytes(5).toString('hex')}`;
let admin: pg.Client;
let url: string;
const pools: pg.Pool[] = [];
let db: Database | undefined;
const tempDirs: string[] = [];

beforeAll(async () => {
  admin = new pg.Client({ connectionString: inject('databaseUrl') });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(databaseName)}`);
  const parsed = new URL(inject('databaseUrl'));
  parsed.pathname = `/${databaseName}`;
  url = parsed.toString();
});

afterAll(async () => {
  await db?.close();
  for (const pool of pools) await pool.end().catch(() => undefined);
  await admin.query(`DROP DATABASE IF EXISTS ${admin.escapeIdentifier(databaseName)} WITH (FORCE)`);
  await admin.end();
  for (const dir of tempDirs) await fs.rm(dir, { recursive: true, force: true });
});

function pool(): pg.Pool {
  const created = new pg.Pool({ connectionString: url, max: 2 });
  created.on('error', () => {});
  pools.push(created);
  return created;
}

/** The migration folders, in the order they apply, with the checksum Prisma records (sha256 hex of migration.sql). */
async function migrationFolders(): Promise<{ name: string; checksum: string }[]> {
  const entries = await fs.readdir(migrationsDir, { withFileTypes: true });
  const names = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  return Promise.all(
    names.map(async (name) => ({
      name,
      checksum: createHash('sha256')
        .update(await fs.readFile(path.join(migrationsDir, name, 'migration.sql')))
        .digest('hex'),
    })),
  );
}

/** The advisory lock key Prisma Migrate (and so applyMigrations) takes. */
const PRISMA_MIGRATE_LOCK = 72707369;

/** Polls until `count` sessions of this database wait for Prisma's migrate lock. */
async function waitForLockWaiters(on: pg.Pool, count: number): Promise<void> {
  for (;;) {
    const { rows } = await on.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database
        WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()
          AND ((l.classid::bigint << 32) | l.objid::bigint) = $1`,
      [PRISMA_MIGRATE_LOCK],
    );
    if ((rows[0]?.n ?? 0) >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The table names the schema maps its models to (`@@map("…")`). */
async function schemaTables(): Promise<string[]> {
  const schema = await fs.readFile(path.join(migrationsDir, '..', 'schema.prisma'), 'utf8');
  return [...schema.matchAll(/@@map\("([^"]+)"\)/g)].map((m) => m[1] as string).sort();
}

describe('applyMigrations on a fresh database', () => {
  it('applies each migration once when two nodes start at the same time, as Prisma records it', async () => {
    const folders = await migrationFolders();
    expect(folders.length).toBeGreaterThan(0);

    // Hold Prisma's migrate lock until both runners wait for it, so they really do start together.
    const holder = pool();
    const lock = await holder.connect();
    let a: string[];
    let b: string[];
    try {
      await lock.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATE_LOCK]);
      const both = Promise.all([applyMigrations(pool()), applyMigrations(pool())]);
      both.catch(() => undefined); // awaited below; this only keeps a failure from going unhandled meanwhile
      await waitForLockWaiters(holder, 2);
      await lock.query('SELECT pg_advisory_unlock($1)', [PRISMA_MIGRATE_LOCK]);
      [a, b] = await both;
    } finally {
      lock.release();
    }
    // Under the advisory lock one applies everything, the other then finds nothing to do.
    expect([...a, ...b].sort()).toEqual(folders.map((f) => f.name));
    expect([a.length, b.length].sort()).toEqual([0, folders.length]);

    const check = pool();
    const { rows } = await check.query<{
      migration_name: string;
      checksum: string;
      finished_at: Date | null;
      rolled_back_at: Date | null;
      applied_steps_count: number;
      logs: string | null;
    }>('SELECT migration_name, checksum, finished_at, rolled_back_at, applied_steps_count, logs FROM "_prisma_migrations" ORDER BY migration_name');
    expect(rows).toEqual(
      folders.map((f) => ({
        migration_name: f.name,
        checksum: f.checksum,
        finished_at: expect.any(Date),
        rolled_back_at: null,
        applied_steps_count: 1,
        logs: null,
      })),
    );

    const tables = await check.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`,
    );
    expect(tables.rows.map((r) => r.table_name).sort()).toEqual([...(await schemaTables()), '_prisma_migrations'].sort());

    // A later start applies nothing and changes nothing.
    expect(await applyMigrations(pool())).toEqual([]);
    expect((await check.query('SELECT count(*)::int AS n FROM "_prisma_migrations"')).rows[0].n).toBe(folders.length);
  }, 60_000);

  it('refuses to start when an applied migration was edited afterwards', async () => {
    const folders = await migrationFolders();
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'presence-migrations-'));
    tempDirs.push(dir);
    await fs.cp(migrationsDir, dir, { recursive: true });
    const first = folders[0]?.name as string;
    await fs.appendFile(path.join(dir, first, 'migration.sql'), '\n-- edited after it was applied\n');
    await expect(applyMigrations(pool(), dir)).rejects.toThrow(`Migration ${first} was changed after it was applied`);
  }, 60_000);

  it('gives a schema the generated Prisma client can use for every model', async () => {
    db = connectDatabase({ url, poolSize: 3 });

    const { appid, key } = await createApp(db, { appid: 'migrated', name: 'Migrated', schemes: ['chat'] });
    expect(await authenticateApp(db, appid, key)).toMatchObject({ id: 'migrated', name: 'Migrated', schemes: ['chat'] });
    const { userId } = await createUser(db, { name: 'Ada' });
    const { deviceId } = await createDevice(db, { userId, name: 'laptop' });
    const { uid } = await grantUid(db, { appid, userId });
    await db.prisma.queueItem.create({ data: { uid, appId: appid, message: 'hello', action: 'chat://room/1', expiresAt: new Date(Date.now() + 60_000) } });
    await db.prisma.queue.update({ where: { uid }, data: { size: 1 } });
    await db.prisma.ackLogEntry.create({ data: { appId: appid, result: 'OK', itemCount: 1, uids: [uid], queueSize: 1 } });

    const user = await db.prisma.user.findUniqueOrThrow({
      where: { id: userId },
      include: { devices: true, uids: { include: { app: true, queue: { include: { items: true } } } } },
    });
    expect(user.name).toBe('Ada');
    expect(user.devices).toEqual([expect.objectContaining({ id: deviceId, name: 'laptop', lastSeenAt: null, tokenDigest: expect.any(Uint8Array) })]);
    expect(user.uids).toHaveLength(1);
    const [grant] = user.uids;
    expect(grant).toMatchObject({ uid, appId: appid, app: { id: appid, schemes: ['chat'] }, queue: { uid, appId: appid, size: 1 } });
    expect(grant?.queue?.items).toEqual([
      expect.objectContaining({ id: expect.any(BigInt), uid, appId: appid, message: 'hello', action: 'chat://room/1', expiresAt: expect.any(Date) }),
    ]);

    // Every model's columns, as the client knows them, exist in the migrated schema.
    for (const model of Object.values(Prisma.ModelName)) {
      const delegate = (db.prisma as unknown as Record<string, { findMany(args: object): Promise<unknown[]> }>)[model.charAt(0).toLowerCase() + model.slice(1)];
      expect(delegate, model).toBeDefined();
      await expect(delegate?.findMany({ take: 1 })).resolves.toBeInstanceOf(Array);
    }

    // Cascades as the schema declares them: revoking a UID deletes its queue and items.
    await revokeUid(db, uid);
    expect(await db.prisma.queue.count({ where: { uid } })).toBe(0);
    expect(await db.prisma.queueItem.count({ where: { uid } })).toBe(0);
  }, 60_000);
});
