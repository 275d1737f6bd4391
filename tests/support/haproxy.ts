/**
 * Runs Debian's HAProxy on one of the configurations in deploy/haproxy/ (the
 * ones the README shows), its addresses given through the environment, and
 * talks to its runtime API (stats, server states) over the stats socket.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { waitUntil } from './faultTools.ts';
import { projectRoot } from './serverProcess.ts';

export interface Haproxy {
  pid: number;
  /** Sends one runtime API command and resolves with its answer. */
  command(line: string): Promise<string>;
  /** `show stat` as records (pxname, svname, status, …), one per frontend, server and backend. */
  stats(): Promise<Record<string, string>[]>;
  /** The status (`UP`, `DOWN`, `MAINT`, …) of one server of one backend. */
  serverStatus(backend: string, server: string): Promise<string | undefined>;
  /** Everything it printed, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/** Debian installs it in /usr/sbin, which is not on every user's PATH. */
const HAPROXY = existsSync('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : 'haproxy';

/** Fails with what to install when HAProxy is missing (the tests never skip silently). */
export function requireHaproxy(): void {
  const found = spawnSync(HAPROXY, ['-v'], { stdio: 'ignore' });
  if (found.error || found.status !== 0) throw new Error('haproxy is not installed: apt-get install haproxy (.ci/run does)');
}

/**
 * Starts `haproxy -db -f deploy/haproxy/<config>` with `env` (the addresses
 * the file reads) and a stats socket of its own, and resolves once every
 * address in `waitForPorts` accepts connections.
 */
export async function startHaproxy(config: string, env: Record<string, string>, waitForPorts: number[]): Promise<Haproxy> {
  requireHaproxy();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'presence-haproxy-'));
  const socket = path.join(dir, 'admin.sock');
  const child: ChildProcess = spawn(HAPROXY, ['-db', '-f', path.join(projectRoot, 'deploy', 'haproxy', config)], {
    env: { ...process.env, ...env, HAPROXY_STATS_SOCKET: socket },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let exited = false;
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const closed = new Promise<void>((resolve) =>
    child.once('close', () => {
      exited = true;
      resolve();
    }),
  );

  const command = (line: string) =>
    new Promise<string>((resolve, reject) => {
      let answer = '';
      const connection = net.connect(socket, () => connection.end(`${line}\n`));
      connection.setEncoding('utf8').on('data', (chunk: string) => (answer += chunk));
      connection.once('end', () => resolve(answer));
      connection.once('error', reject);
    });
  const stats = async () => {
    const [header, ...lines] = (await command('show stat')).trim().split('\n');
    const names = (header ?? '').replace(/^# /, '').split(',');
    return lines.map((line) => Object.fromEntries(line.split(',').map((value, i) => [names[i] ?? String(i), value])));
  };
  const stop = async () => {
    if (!exited) child.kill('SIGKILL');
    await closed;
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await waitUntil(async () => exited || (await Promise.all(waitForPorts.map(accepts))).every(Boolean), {
      timeoutMs: 10_000,
      describe: () => `haproxy ${exited ? 'exited' : 'does not listen'}: ${output}`,
    });
    if (exited) throw new Error(`haproxy exited: ${output}`);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    pid: child.pid as number,
    command,
    stats,
    serverStatus: async (backend, server) => (await stats()).find((row) => row.pxname === backend && row.svname === server)?.status,
    output: () => output,
    stop,
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
