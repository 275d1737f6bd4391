/**
 * A PostgreSQL primary and a streaming standby with synchronous replication
 * (an acknowledged commit is on both), from Debian's PostgreSQL 15 programs,
 * on free loopback ports in a temporary folder. As root the clusters run as
 * the `postgres` account, which PostgreSQL requires (see
 * src/server/platform/db/postgresBinaries.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { postgresAccount, type UserIds } from '../../src/server/platform/db/postgresBinaries.ts';
import { freePort, waitUntil } from './faultTools.ts';

export const POSTGRES_15_BIN = '/usr/lib/postgresql/15/bin';
const USER = 'presence';
const DATABASE = 'presence';

/** Fails with what to install when Debian's PostgreSQL 15 is missing (the tests never skip silently). */
export function requirePostgres15(): void {
  for (const program of ['initdb', 'pg_basebackup', 'pg_ctl', 'postgres']) {
    if (!existsSync(path.join(POSTGRES_15_BIN, program)))
      throw new Error(`${POSTGRES_15_BIN}/${program} is missing: apt-get install postgresql-15 (.ci/run does)`);
  }
}

export interface PostgresServer {
  port: number;
  /** postgresql:// URL of the presence database on this server alone. */
  url: string;
  dataDir: string;
  /** Kills the postmaster and every backend at once (SIGKILL to its process group), like a machine that dies. */
  kill(): Promise<void>;
}

export interface ReplicatedPostgres {
  primary: PostgresServer;
  standby: PostgresServer;
  /** `pg_ctl promote -w` on the standby: it leaves recovery and takes writes. */
  promoteStandby(): Promise<void>;
  /** Stops whatever still runs and removes the folder. */
  stop(): Promise<void>;
}

/**
 * initdb, start the primary, pg_basebackup the standby from it and start it
 * streaming, then make the primary wait for it on every commit
 * (`synchronous_standby_names = '*'`, `synchronous_commit = on`); resolves
 * once the primary reports it as its synchronous standby.
 */
export async function startReplicatedPostgres(): Promise<ReplicatedPostgres> {
  requirePostgres15();
  const owner = process.getuid?.() === 0 ? postgresAccount(() => {}) : undefined;
  const base = await fs.mkdtemp(path.join(os.tmpdir(), 'presence-replicated-'));
  // mkdtemp makes it owner-only; the cluster owner must reach it.
  await fs.chmod(base, 0o755);
  const running: ChildProcess[] = [];
  const makeDir = async (name: string) => {
    const dir = path.join(base, name);
    await fs.mkdir(dir, { mode: 0o700 });
    if (owner) await fs.chown(dir, owner.uid, owner.gid);
    return dir;
  };
  const stop = async () => {
    await Promise.all(running.map((child) => stopPostmaster(child)));
    await fs.rm(base, { recursive: true, force: true });
  };
  try {
    const primaryDir = await makeDir('primary');
    const standbyDir = await makeDir('standby');
    await run(owner, 'initdb', ['-D', primaryDir, '-U', USER, '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-instructions']);
    const primaryPort = await freePort();
    const primary = await startPostmaster(owner, primaryDir, primaryPort, path.join(base, 'primary.log'), ['synchronous_commit=on']);
    running.push(primary);
    // Synchronous from here on only: with no standby yet, every commit (this CREATE DATABASE too) would wait.
    await onPrimary(primaryPort, `CREATE DATABASE ${DATABASE}`);
    // -R writes standby.signal and primary_conninfo; -X stream copies the WAL written meanwhile.
    await run(owner, 'pg_basebackup', ['-h', '127.0.0.1', '-p', String(primaryPort), '-U', USER, '-D', standbyDir, '-R', '-X', 'stream', '--checkpoint=fast']);
    const standbyPort = await freePort();
    // Promoted, it has no standby of its own: with the primary's setting it would wait for one on every commit.
    const standby = await startPostmaster(owner, standbyDir, standbyPort, path.join(base, 'standby.log'), ['synchronous_standby_names=']);
    running.push(standby);
    // Set after the base backup, so the standby does not inherit it.
    await onPrimary(primaryPort, "ALTER SYSTEM SET synchronous_standby_names = '*'");
    await onPrimary(primaryPort, 'SELECT pg_reload_conf()');
    await waitUntil(
      async () => {
        const client = new pg.Client({ host: '127.0.0.1', port: primaryPort, user: USER, database: 'postgres' });
        try {
          await client.connect();
          const { rows } = await client.query<{ sync_state: string }>("SELECT sync_state FROM pg_stat_replication WHERE state = 'streaming'");
          return rows.some((row) => row.sync_state === 'sync');
        } finally {
          await client.end().catch(() => undefined);
        }
      },
      { timeoutMs: 30_000, describe: () => 'the standby is not streaming as the synchronous standby' },
    );
    const server = (port: number, dataDir: string, child: ChildProcess): PostgresServer => ({
      port,
      url: `postgresql://${USER}@127.0.0.1:${port}/${DATABASE}`,
      dataDir,
      kill: async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        process.kill(-(child.pid as number), 'SIGKILL');
        await exited;
      },
    });
    return {
      primary: server(primaryPort, primaryDir, primary),
      standby: server(standbyPort, standbyDir, standby),
      promoteStandby: () => run(owner, 'pg_ctl', ['promote', '-w', '-t', '60', '-D', standbyDir]),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function onPrimary(port: number, sql: string): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: USER, database: 'postgres' });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Runs one PostgreSQL program as the cluster owner (not blocking: load runs meanwhile) and rejects with its output when it fails. */
function run(owner: UserIds | undefined, program: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(POSTGRES_15_BIN, program), args, { ...owner, cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.once('error', reject);
    child.once('close', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${program} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${output}`)),
    );
  });
}

/** Starts `postgres` itself (not through pg_ctl) so its process is ours to kill, and resolves once it accepts connections. */
async function startPostmaster(owner: UserIds | undefined, dataDir: string, port: number, logPath: string, settings: string[]): Promise<ChildProcess> {
  const log = await fs.open(logPath, 'a', 0o644);
  const args = ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'];
  for (const setting of settings) args.push('-c', setting);
  let child: ChildProcess;
  try {
    // detached: its own process group, so `kill` takes every backend down with it.
    child = spawn(path.join(POSTGRES_15_BIN, 'postgres'), args, { ...owner, cwd: dataDir, detached: true, stdio: ['ignore', log.fd, log.fd] });
  } finally {
    await log.close();
  }
  let exited = false;
  child.once('exit', () => (exited = true));
  await waitUntil(
    async () => {
      if (exited) return true;
      const client = new pg.Client({ host: '127.0.0.1', port, user: USER, database: 'postgres', connectionTimeoutMillis: 2_000 });
      client.on('error', () => {});
      try {
        await client.connect();
        return true;
      } catch {
        return false;
      } finally {
        await client.end().catch(() => undefined);
      }
    },
    { timeoutMs: 30_000, describe: () => `PostgreSQL in ${dataDir} does not accept connections` },
  );
  if (exited) throw new Error(`PostgreSQL in ${dataDir} exited while starting:\n${await fs.readFile(logPath, 'utf8')}`);
  return child;
}

/** Fast shutdown of a postmaster still running, then SIGKILL to its group. */
async function stopPostmaster(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGINT');
  const timer = setTimeout(() => {
    try {
      process.kill(-(child.pid as number), 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }, 10_000);
  await exited;
  clearTimeout(timer);
}
