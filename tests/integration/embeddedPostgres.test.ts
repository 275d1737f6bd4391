import { describe, it, expect, afterEach } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../src/server/platform/db/embeddedPostgres.ts';
import type { EmbeddedPostgres } from '../../src/server/platform/db/embeddedPostgres.ts';
import { isProcessRunning } from '../support/serverProcess.ts';

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
const childScript = fileURLToPath(new URL('../fixtures/embeddedPostgresChild.ts', import.meta.url));
const isRoot = process.getuid?.() === 0;
const TIMEOUT = 60_000;

/** Everything a test created, undone in afterEach (also when it fails). */
const started: EmbeddedPostgres[] = [];
const tempDirs: string[] = [];
/** Postmasters orphaned by the crash tests, in case a test fails before they are dealt with. */
const orphans: number[] = [];

afterEach(async () => {
  for (const pid of orphans.splice(0)) if (isProcessRunning(pid)) process.kill(pid, 'SIGKILL');
  for (const db of started.splice(0)) {
    await db.stop();
    // As root the cluster may live outside dataDir, in /var/lib/presence/clusters/<hash>/pgdata.
    if (path.basename(path.dirname(path.dirname(db.clusterDir))) === 'clusters') {
      await fs.rm(path.dirname(db.clusterDir), { recursive: true, force: true });
    }
  }
  for (const dir of tempDirs.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

/** A fresh data folder under os.tmpdir(), opened up (mkdtemp makes 0700) so that as root the postgres user can reach it. */
async function tempDataDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'presence-pg-'));
  tempDirs.push(dir);
  await fs.chmod(dir, 0o755);
  return dir;
}

async function start(dataDir: string, logs: string[] = []): Promise<EmbeddedPostgres> {
  const db = await startEmbeddedPostgres({ dataDir, log: (line) => logs.push(line) });
  started.push(db);
  return db;
}

async function query(url: string, sql: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

async function postmasterPid(clusterDir: string): Promise<number> {
  return Number((await fs.readFile(path.join(clusterDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
}

/** Runs the fixture in a separate Node process until it reports the started database, then kills it with SIGKILL. */
async function startInChildAndKillIt(dataDir: string): Promise<{ url: string; clusterDir: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', childScript, dataDir], {
    cwd: projectRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const reported = await new Promise<{ url: string; clusterDir: string }>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const line = stdout.split('\n')[0];
      if (stdout.includes('\n') && line !== undefined) resolve(JSON.parse(line) as { url: string; clusterDir: string });
    });
    void exited.then(() => reject(new Error(`child exited before reporting:\n${stderr}`)));
  });
  child.kill('SIGKILL');
  await exited;
  return reported;
}

describe('startEmbeddedPostgres', () => {
  it(
    'initialises a cluster, serves queries, stops, and keeps the data for the next start',
    async () => {
      const dataDir = await tempDataDir();
      const logs: string[] = [];
      const first = await start(dataDir, logs);
      expect(first.url).toMatch(/^postgresql:\/\/presence:[A-Za-z0-9_-]{43}@127\.0\.0\.1:\d+\/presence$/);
      expect(first.clusterDir).toBe(path.join(await fs.realpath(dataDir), 'pgdata'));
      expect(logs.some((line) => line.startsWith('initialising'))).toBe(true);
      expect((await fs.stat(path.join(dataDir, 'postgres-password'))).mode & 0o777).toBe(0o600);
      if (isRoot) {
        const postgresUid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
        expect((await fs.stat(first.clusterDir)).uid).toBe(postgresUid);
      }

      expect(await query(first.url, 'select 1 as one')).toEqual([{ one: 1 }]);
      await query(first.url, "create table kept (note text); insert into kept values ('first run')");
      const pid = await postmasterPid(first.clusterDir);
      await first.stop();
      await first.stop(); // idempotent
      expect(isProcessRunning(pid)).toBe(false);

      logs.length = 0;
      const second = await start(dataDir, logs);
      expect(logs.some((line) => line.startsWith('initialising'))).toBe(false);
      expect(await query(second.url, 'select note from kept')).toEqual([{ note: 'first run' }]);
    },
    TIMEOUT,
  );

  it(
    'stops the PostgreSQL left running when the Node process was killed with SIGKILL',
    async () => {
      const dataDir = await tempDataDir();
      const { clusterDir } = await startInChildAndKillIt(dataDir);
      const orphan = await postmasterPid(clusterDir);
      orphans.push(orphan);
      expect(isProcessRunning(orphan)).toBe(true); // postgres outlived its parent

      const logs: string[] = [];
      const db = await start(dataDir, logs);
      expect(logs.some((line) => line.includes('left running by an earlier crash'))).toBe(true);
      expect(isProcessRunning(orphan)).toBe(false);
      expect(await query(db.url, 'select note from crash_marker')).toEqual([{ note: 'written before the crash' }]);
    },
    TIMEOUT,
  );

  it(
    'starts after both the Node process and postgres were killed with SIGKILL',
    async () => {
      const dataDir = await tempDataDir();
      const { clusterDir } = await startInChildAndKillIt(dataDir);
      const orphan = await postmasterPid(clusterDir);
      orphans.push(orphan);
      process.kill(orphan, 'SIGKILL');
      while (isProcessRunning(orphan)) await new Promise((resolve) => setTimeout(resolve, 50));

      const db = await start(dataDir);
      expect(await query(db.url, 'select note from crash_marker')).toEqual([{ note: 'written before the crash' }]);
    },
    TIMEOUT,
  );

  it.runIf(isRoot)(
    'as root, keeps the cluster under /var/lib/presence/clusters when the postgres user cannot reach dataDir',
    async () => {
      const privateParent = await tempDataDir();
      await fs.chmod(privateParent, 0o700);
      const dataDir = path.join(privateParent, 'data');

      const db = await start(dataDir);
      const hash = createHash('sha256')
        .update(await fs.realpath(dataDir))
        .digest('hex')
        .slice(0, 16);
      expect(db.clusterDir).toBe(`/var/lib/presence/clusters/${hash}/pgdata`);
      const stat = await fs.stat(db.clusterDir);
      expect(stat.mode & 0o777).toBe(0o700);
      expect(stat.uid).toBe(Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()));
      expect((await fs.stat(path.join(dataDir, 'postgres-password'))).uid).toBe(0);
      expect(await query(db.url, 'select current_user as who')).toEqual([{ who: 'presence' }]);

      await db.stop();
      const again = await start(dataDir);
      expect(again.clusterDir).toBe(db.clusterDir);
      expect(await query(again.url, 'select 1 as one')).toEqual([{ one: 1 }]);
    },
    TIMEOUT,
  );
});
