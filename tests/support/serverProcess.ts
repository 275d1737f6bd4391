/**
 * Runs the real server entry (`node --import tsx src/server/main.ts`, what
 * `npm start` runs) as a child process, for end-to-end and fault tests.
 *
 * Every process started here is remembered until it exits, so a test file can
 * kill whatever is left in its afterAll with {@link killServerProcesses}, also
 * when a test failed half-way. {@link stopClusterPostgres} stops a PostgreSQL
 * that a killed server left running in an embedded data folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

/** A server process that printed its URL. */
export interface ServerProcess {
  /** From the line `Presence is running at <url>`. */
  url: string;
  pid: number;
  /** Everything printed so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` in stdout (waiting for more output if needed). */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends a signal (no-op once the process has exited). */
  kill(signal?: NodeJS.Signals): void;
  /** The exit code, or null when a signal ended it (see `exitSignal()`). */
  exited: Promise<number | null>;
  exitSignal(): NodeJS.Signals | null;
}

/** Env overrides; `undefined` removes a variable inherited from the test process. */
export type ServerEnv = Record<string, string | undefined>;

const live = new Set<ChildProcess>();

/**
 * The environment of the child: the test process's, without DATABASE_URL (so
 * the embedded default runs unless `env` sets it) and without NODE_ENV (Vitest
 * sets "test"; the server defaults to production), then `env` applied.
 */
function childEnv(env: ServerEnv): NodeJS.ProcessEnv {
  const { DATABASE_URL: _databaseUrl, NODE_ENV: _nodeEnv, ...inherited } = process.env;
  const result: Record<string, string | undefined> = inherited;
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) delete result[name];
    else result[name] = value;
  }
  return result as NodeJS.ProcessEnv;
}

/**
 * Starts the server and resolves once it printed `Presence is running at
 * <url>`. Rejects (after killing the process) if it exits first or does not
 * get there within `timeoutMs`, with its output in the message.
 */
export async function startServerProcess(env: ServerEnv, options: { timeoutMs?: number; args?: string[] } = {}): Promise<ServerProcess> {
  const timeoutMs = options.timeoutMs ?? 90_000;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server/main.ts', ...(options.args ?? [])], {
    cwd: projectRoot,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    for (const listener of listeners) listener();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  let hasExited = false;
  const exited = new Promise<number | null>((resolve) => {
    // 'close' rather than 'exit': all output has been read by then.
    child.once('close', (code) => {
      hasExited = true;
      live.delete(child);
      for (const listener of listeners) listener();
      resolve(code);
    });
  });
  child.once('error', (error) => (err += `\nspawn error: ${error.message}`));

  const waitForOutput = (pattern: RegExp, waitMs = timeoutMs) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const match = out.match(pattern);
        if (match) return finish(() => resolve(match));
        if (hasExited)
          return finish(() =>
            reject(new Error(`server exited (code ${child.exitCode}, signal ${child.signalCode}) before printing ${pattern}\n${describe()}`)),
          );
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`server did not print ${pattern} within ${waitMs / 1000} s\n${describe()}`))), waitMs);
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        listeners.delete(check);
        settle();
      };
      listeners.add(check);
      check();
    });
  const describe = () => `--- stdout ---\n${out}\n--- stderr ---\n${err}`;
  const kill = (signal: NodeJS.Signals = 'SIGTERM') => {
    if (!hasExited) child.kill(signal);
  };

  let url: string;
  try {
    url = (await waitForOutput(/Presence is running at (\S+)\r?\n/))[1] as string;
  } catch (error) {
    kill('SIGKILL');
    await exited;
    throw error;
  }
  return {
    url,
    pid: child.pid as number,
    stdout: () => out,
    stderr: () => err,
    waitForOutput,
    kill,
    exited,
    exitSignal: () => child.signalCode,
  };
}

/** Kills (SIGKILL) every server process started here that is still running, and waits for each to exit. */
export async function killServerProcesses(): Promise<void> {
  const children = [...live];
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('close', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}

/** Alive and not a zombie (PID 1 here does not reap orphans, so a dead orphan stays a zombie). */
export function isProcessRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (process.platform !== 'linux') return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
  } catch {
    return false;
  }
}

/** The pid in `<clusterDir>/postmaster.pid`, or null. */
export async function postmasterPid(clusterDir: string): Promise<number | null> {
  const pid = Number((await fs.readFile(path.join(clusterDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

/**
 * Stops the postmaster of the cluster in `<dataDir>/pgdata` if one still runs
 * (left by a killed server or a failed test): fast shutdown, then immediate,
 * then SIGKILL. Only a process whose working directory is that cluster is
 * signalled.
 */
export async function stopClusterPostgres(dataDir: string): Promise<void> {
  const clusterDir = path.join(await fs.realpath(dataDir).catch(() => dataDir), 'pgdata');
  const pid = await postmasterPid(clusterDir);
  if (pid === null || !isProcessRunning(pid)) return;
  const cwd = await fs.readlink(`/proc/${pid}/cwd`).catch(() => undefined);
  if (cwd !== undefined && cwd !== clusterDir) return;
  for (const [signal, waitMs] of [
    ['SIGINT', 20_000],
    ['SIGQUIT', 5_000],
    ['SIGKILL', 5_000],
  ] as const) {
    try {
      process.kill(pid, signal);
    } catch {
      return;
    }
    for (const deadline = Date.now() + waitMs; Date.now() < deadline; await sleep(100)) {
      if (!isProcessRunning(pid)) return;
    }
  }
}
