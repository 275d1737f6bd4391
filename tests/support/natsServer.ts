/**
 * A real NATS server (Debian's `nats-server`) on a free loopback port, for
 * the tests of the bus mode (PRESENCE_BUS). It can be killed and started
 * again at the same address, to test an outage of the bus.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './faultTools.ts';

export interface NatsServer {
  /** `nats://127.0.0.1:<port>`: the value of PRESENCE_BUS. */
  url: string;
  /** Kills the server (SIGKILL) and waits until it is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  /** The subjects each client subscribes to now, by client name, from the server's monitoring endpoint. */
  subscriptions(): Promise<Map<string, string[]>>;
  stop(): Promise<void>;
}

/** Fails (never skips) when the program is missing, saying what to install. */
export function requireNatsServer(): void {
  if (spawnSync('sh', ['-c', 'command -v nats-server']).status !== 0) {
    throw new Error('nats-server is not installed: install Debian’s package (apt-get install -y nats-server) to run the bus tests');
  }
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

export async function startNatsServer(): Promise<NatsServer> {
  requireNatsServer();
  const port = await freePort();
  const monitorPort = await freePort();
  let child: ChildProcess | null = null;
  let output = '';
  const start = async () => {
    const started = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-m', String(monitorPort)], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    started.stdout?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
    started.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(50)) {
      if (started.exitCode !== null) break;
      if (await accepts(port)) return;
    }
    started.kill('SIGKILL');
    throw new Error(`nats-server did not start on port ${port}:\n${output}`);
  };
  const kill = async () => {
    const running = child;
    child = null;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  };
  const subscriptions = async () => {
    const response = await fetch(`http://127.0.0.1:${monitorPort}/connz?subs=1`);
    const body = (await response.json()) as { connections?: { name?: string; subscriptions_list?: string[] }[] };
    return new Map((body.connections ?? []).map((c) => [c.name ?? '', c.subscriptions_list ?? []]));
  };
  await start();
  return { url: `nats://127.0.0.1:${port}`, kill, start, stop: kill, subscriptions };
}
