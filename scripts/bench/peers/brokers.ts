/**
 * The peers Presence is compared with, started by the benchmark as it starts
 * its own PostgreSQL: Debian's `mosquitto` and `nats-server`, each on a free
 * loopback port with its configuration and storage in a temporary folder,
 * stopped and removed at the end. A peer that is not installed is reported
 * as missing (its rows are skipped with a note). The third, `relay`, is no
 * broker a user would pick but the floor under Presence's own design: a bare
 * relay on Node and the benchmark's PostgreSQL (clients/relayFloor.ts),
 * measured in the latency phase only.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { WorkerProcess } from '../clients/ipc.ts';

export const PEERS = ['mosquitto', 'nats', 'relay'] as const;
export type PeerName = (typeof PEERS)[number];
type BrokerName = Exclude<PeerName, 'relay'>;

export const PEER_LABELS: Record<PeerName, string> = { mosquitto: 'Mosquitto', nats: 'NATS JetStream', relay: 'relay floor (Node + PostgreSQL)' };

/** The phases each peer is measured in: the relay floor answers the question of the latency phase (CPU per delivered message). */
export const PEER_PHASES: Record<PeerName, readonly ('ingest' | 'latency' | 'memory' | 'storm')[]> = {
  mosquitto: ['ingest', 'latency', 'memory', 'storm'],
  nats: ['ingest', 'latency', 'memory', 'storm'],
  relay: ['latency'],
};

const PROGRAMS: Record<BrokerName, { binary: string; debianPackage: string }> = {
  mosquitto: { binary: 'mosquitto', debianPackage: 'mosquitto' },
  nats: { binary: 'nats-server', debianPackage: 'nats-server' },
};

/** Per-device queue cap, the same as Presence's (100 items per queue). */
export const QUEUE_CAP = 100;

export interface Broker {
  name: PeerName;
  version: string;
  pid: number;
  /** mqtt://127.0.0.1:port, nats://127.0.0.1:port or (the relay) http://127.0.0.1:port */
  url: string;
  /** Whether it stores in the benchmark's PostgreSQL, whose CPU then counts as the broker's too (the relay). */
  usesPostgres: boolean;
  stop(): Promise<void>;
}

/** The program's path, searching PATH and the sbin folders Debian installs brokers into. */
export function findProgram(name: BrokerName): string | null {
  const binary = PROGRAMS[name].binary;
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = path.join(dir, binary);
    if (spawnSync('test', ['-x', candidate]).status === 0) return candidate;
  }
  return null;
}

/** Why a peer cannot run here, or null when it can. */
export function missingNote(name: PeerName): string | null {
  if (name === 'relay') return null;
  return findProgram(name)
    ? null
    : `${PEER_LABELS[name]} skipped: \`${PROGRAMS[name].binary}\` is not installed (apt-get install ${PROGRAMS[name].debianPackage})`;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

function versionOf(program: string, name: BrokerName): string {
  const out = spawnSync(program, name === 'nats' ? ['--version'] : ['-h'], { encoding: 'utf8' });
  const text = `${out.stdout}${out.stderr}`;
  return /(\d+\.\d+\.\d+)/.exec(text)?.[1] ?? '?';
}

async function waitForPort(port: number, child: ChildProcess, output: () => string): Promise<void> {
  for (const deadline = Date.now() + 15_000; Date.now() < deadline;) {
    if (child.exitCode !== null) throw new Error(`exited with code ${child.exitCode}: ${output()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`did not listen within 15 s: ${output()}`);
}

/** Configuration of each peer as issue 15 describes the comparison (capped per-device queues, acks, persistence). */
function config(name: BrokerName, port: number, dir: string): string {
  if (name === 'mosquitto') {
    return [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      // Persistent sessions with QoS 1; durability is the periodic snapshot (default every 30 min and at exit).
      'persistence true',
      `persistence_location ${dir}/`,
      `max_queued_messages ${QUEUE_CAP}`,
      'max_connections -1',
      `user ${os.userInfo().username}`,
      'log_dest stderr',
      'log_type error',
      '',
    ].join('\n');
  }
  // JetStream with file storage; its default flush to disk is a background fsync every 2 minutes.
  return [`host: 127.0.0.1`, `port: ${port}`, `jetstream {`, `  store_dir: "${dir}"`, `}`, ''].join('\n');
}

/**
 * Starts one peer on a free port with its storage in a fresh temporary
 * folder; the relay floor as a forked process storing in `databaseUrl`.
 */
export async function startBroker(name: PeerName, relay: { databaseUrl: string; log(line: string): void }): Promise<Broker> {
  if (name === 'relay') {
    const worker = new WorkerProcess('relayFloor.ts', 'relay floor', relay.log);
    const { url, pid } = await worker.request<{ url: string; pid: number }>('listen', { databaseUrl: relay.databaseUrl }, 30_000);
    return { name, version: `Node.js ${process.version}`, pid, url, usesPostgres: true, stop: () => worker.stop() };
  }
  const program = findProgram(name);
  if (!program) throw new Error(missingNote(name) ?? name);
  const dir = await mkdtemp(path.join(os.tmpdir(), `presence-bench-${name}-`));
  await chmod(dir, 0o777);
  const port = await freePort();
  const file = path.join(dir, name === 'nats' ? 'nats.conf' : 'mosquitto.conf');
  await writeFile(file, config(name, port, dir));
  const child = spawn(program, ['-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const keep = (chunk: Buffer) => (tail = `${tail}${chunk.toString('utf8')}`.slice(-2000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, child, () => tail);
  } catch (error) {
    await stop();
    throw new Error(`${PEER_LABELS[name]}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  return {
    name,
    version: versionOf(program, name),
    pid: child.pid as number,
    url: `${name === 'nats' ? 'nats' : 'mqtt'}://127.0.0.1:${port}`,
    usesPostgres: false,
    stop,
  };
}
