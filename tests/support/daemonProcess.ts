/** Runs the real `presence-daemon` command (bin/presence-daemon.mjs) as a child process. */
import { spawn, type ChildProcess } from 'node:child_process';
import { projectRoot } from './serverProcess.ts';

export interface DaemonRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface DaemonProcess {
  child: ChildProcess;
  /** Everything written so far. */
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves when the process has exited. */
  exited: Promise<DaemonRun>;
}

/**
 * Starts the daemon. The test's own environment is passed on without a device
 * token or a desktop session unless `env` gives them.
 */
export function startDaemonProcess(args: string[], env: Record<string, string> = {}): DaemonProcess {
  const child = spawn(process.execPath, ['bin/presence-daemon.mjs', ...args], {
    cwd: projectRoot,
    env: { ...process.env, PRESENCE_DEVICE_TOKEN: '', DBUS_SESSION_BUS_ADDRESS: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<DaemonRun>((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    exited,
  };
}

/** Runs the daemon to its end (`--once`, or an error). */
export function runDaemonProcess(args: string[], env: Record<string, string> = {}): Promise<DaemonRun> {
  return startDaemonProcess(args, env).exited;
}
