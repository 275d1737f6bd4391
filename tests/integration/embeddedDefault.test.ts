/**
 * The embedded default end to end, through real server processes (what
 * `npm start` runs) without DATABASE_URL: the first start seeds the demo data
 * and writes its credentials; the data survives a clean stop and a `kill -9`
 * (whose orphaned PostgreSQL the next start stops).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { DemoCredentials } from '../../src/server/demo.ts';
import { connectChannel } from '../support/daemonClient.ts';
import { postNotifications } from '../support/node.ts';
import {
  isProcessRunning,
  killServerProcesses,
  postmasterPid,
  projectRoot,
  startServerProcess,
  stopClusterPostgres,
  type ServerProcess,
} from '../support/serverProcess.ts';

const START_TIMEOUT = 120_000;

let dataDir: string;

beforeAll(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'presence-embedded-'));
  // mkdtemp makes it owner-only; as root, PostgreSQL runs as `postgres`, which must reach it.
  await fs.chmod(dataDir, 0o755);
});

afterAll(async () => {
  await killServerProcesses();
  await stopClusterPostgres(dataDir);
  await fs.rm(dataDir, { recursive: true, force: true });
}, 60_000);

function start(): Promise<ServerProcess> {
  return startServerProcess({ PORT: '0', HOST: '127.0.0.1', PRESENCE_DATA_DIR: dataDir });
}

async function readCredentials(): Promise<DemoCredentials> {
  return JSON.parse(await fs.readFile(path.join(dataDir, 'demo-credentials.json'), 'utf8')) as DemoCredentials;
}

/** SIGTERM, then the exit code. */
async function stop(server: ServerProcess): Promise<number | null> {
  server.kill('SIGTERM');
  return server.exited;
}

describe('the embedded default (no DATABASE_URL)', () => {
  it(
    'seeds the demo, keeps its data across a clean stop and a kill -9',
    async () => {
      // First start: a new cluster, the demo data and its credentials.
      const first = await start();
      expect(first.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const curlLine = (await first.waitForOutput(/^ *curl .*$/m))[0];
      expect(first.stdout()).toContain('initialising a new PostgreSQL cluster');
      expect(first.stdout()).toContain(`data in ${path.join(await fs.realpath(dataDir), 'pgdata')}`);
      const credentialsFile = path.join(dataDir, 'demo-credentials.json');
      expect(first.stdout()).toContain(credentialsFile);
      expect((await fs.stat(credentialsFile)).mode & 0o777).toBe(0o600);
      const demo = await readCredentials();
      expect(demo).toEqual({
        appid: 'demo',
        key: expect.stringMatching(/^prs_app_[A-Za-z0-9_-]{43}$/),
        userId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        deviceId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        deviceToken: expect.stringMatching(/^prs_dev_[A-Za-z0-9_-]{43}$/),
        uid: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
      });
      expect(curlLine).toContain(`curl -X POST ${first.url}/demo/notification`);
      expect(curlLine).toContain(demo.uid);
      // Standard output here is not a terminal but a log: it names the files that hold the secrets, never a secret.
      expect(curlLine).toContain(`Authorization: Bearer <key from ${credentialsFile}>`);
      const operatorToken = (await fs.readFile(path.join(dataDir, 'admin-token'), 'utf8')).trim();
      expect(first.stdout()).toContain(`operator token in ${path.join(dataDir, 'admin-token')}`);
      for (const secret of [demo.key, demo.deviceToken, operatorToken]) {
        expect(first.stdout()).not.toContain(secret);
        expect(first.stderr()).not.toContain(secret);
      }

      const one = await postNotifications(first.url, demo.appid, demo.key, { UID: demo.uid, message: 'first', action: 'https://example.com/' });
      expect(one.body).toEqual({ result: 'OK', queue_size: 1, queue_sizes: { [demo.uid]: 1 } });
      expect(one.status).toBe(200);

      expect(await stop(first)).toBe(0);

      // Second start: same cluster, same credentials, the first item still queued.
      const second = await start();
      expect(second.stdout()).not.toContain('initialising a new PostgreSQL cluster');
      expect(await readCredentials()).toEqual(demo);
      const two = await postNotifications(second.url, demo.appid, demo.key, { UID: demo.uid, message: 'second', action: 'demo://room/42' });
      expect(two.body).toEqual({ result: 'OK', queue_size: 2, queue_sizes: { [demo.uid]: 2 } });

      // kill -9: the server dies, its PostgreSQL (own process group) is orphaned and keeps running.
      const clusterDir = path.join(await fs.realpath(dataDir), 'pgdata');
      const orphan = await postmasterPid(clusterDir);
      expect(orphan).not.toBeNull();
      second.kill('SIGKILL');
      expect(await second.exited).toBeNull();
      expect(second.exitSignal()).toBe('SIGKILL');
      expect(isProcessRunning(orphan as number)).toBe(true);

      // Third start: stops the stale PostgreSQL, starts its own, the data is all there.
      const third = await start();
      expect(third.stdout()).toContain(`stopping a PostgreSQL left running by an earlier crash (pid ${orphan})`);
      expect(isProcessRunning(orphan as number)).toBe(false);
      expect(await postmasterPid(clusterDir)).not.toBe(orphan);
      expect(await readCredentials()).toEqual(demo);
      const three = await postNotifications(third.url, demo.appid, demo.key, { UID: demo.uid, message: 'third', action: 'https://example.com/3' });
      expect(three.body).toEqual({ result: 'OK', queue_size: 3, queue_sizes: { [demo.uid]: 3 } });

      const postmaster = await postmasterPid(clusterDir);
      expect(await stop(third)).toBe(0);
      // A clean stop takes its PostgreSQL down too.
      expect(postmaster === null || !isProcessRunning(postmaster)).toBe(true);
    },
    5 * START_TIMEOUT,
  );
});

/** Every live process below `pid` (children, grandchildren, …), from /proc. */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const name of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parentOf.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited meanwhile
    }
  }
  const found: number[] = [];
  for (let frontier = [pid]; frontier.length > 0;) {
    frontier = [...parentOf].filter(([, parent]) => frontier.includes(parent)).map(([child]) => child);
    found.push(...frontier);
  }
  return found.filter(isProcessRunning);
}

describe('npm start', () => {
  it(
    'stops its node and PostgreSQL within 20 s of a SIGTERM to npm, whatever sockets are open',
    async () => {
      const ownDir = await fs.mkdtemp(path.join(os.tmpdir(), 'presence-npm-start-'));
      await fs.chmod(ownDir, 0o755);
      const adminToken = 'operator-token-given-in-the-environment';
      // As serverProcess.ts does: the embedded default (no DATABASE_URL), in production mode (no NODE_ENV).
      const env: Record<string, string | undefined> = { ...process.env, PORT: '0', HOST: '127.0.0.1', PRESENCE_DATA_DIR: ownDir, ADMIN_TOKEN: adminToken };
      delete env.DATABASE_URL;
      delete env.NODE_ENV;
      const npm = spawn('npm', ['start'], {
        cwd: projectRoot,
        env: env as NodeJS.ProcessEnv,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      npm.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
      npm.stderr.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
      const npmExited = new Promise<void>((resolve) => npm.once('exit', () => resolve()));
      const sockets: net.Socket[] = [];
      const agent = new http.Agent({ keepAlive: true });
      let nodePids: number[] = [];
      let daemon: ReturnType<typeof connectChannel> | undefined;
      try {
        // (npm.exitCode: a start that fails ends the wait at once, with its output.)
        await expect
          .poll(() => (npm.exitCode === null ? out : `exited: ${out}`), { timeout: START_TIMEOUT, interval: 200 })
          .toMatch(/^(?!exited)[^]*Presence is running at \S+\n[^]*curl/);
        const url = (out.match(/Presence is running at (\S+)\n/) as RegExpMatchArray)[1] as string;
        nodePids = descendants(npm.pid as number);
        // A token from the environment is never printed (its owner knows it).
        expect(out).not.toContain(adminToken);
        const postmaster = await postmasterPid(path.join(await fs.realpath(ownDir), 'pgdata'));
        expect(postmaster).not.toBeNull();

        // A daemon on the channel, a keep-alive HTTP connection, a stray upgrade, a request never finished.
        const demo = JSON.parse(await fs.readFile(path.join(ownDir, 'demo-credentials.json'), 'utf8')) as DemoCredentials;
        daemon = connectChannel(url, demo.deviceToken, { retry: false });
        await daemon.event(0, 30_000);
        await new Promise<void>((resolve, reject) => {
          http.get(`${url}/healthz`, { agent }, (res) => res.resume().once('end', () => resolve())).once('error', reject);
        });
        const { port } = new URL(url);
        for (const request of [
          'GET /nope HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
          'GET /healthz HTTP/1.1\r\nHost: x\r\n',
        ]) {
          const socket = net.connect(Number(port), '127.0.0.1');
          socket.on('error', () => {});
          socket.write(request);
          sockets.push(socket);
        }

        npm.kill('SIGTERM');
        const alive = () => [...nodePids, postmaster as number].filter(isProcessRunning);
        await expect.poll(alive, { timeout: 20_000, interval: 200 }).toEqual([]);
        await npmExited;
        expect(out).toContain('SIGTERM: stopping');
      } finally {
        await daemon?.close().catch(() => undefined);
        agent.destroy();
        for (const socket of sockets) socket.destroy();
        for (const pid of [...nodePids, npm.pid as number].filter(isProcessRunning)) process.kill(pid, 'SIGKILL');
        await stopClusterPostgres(ownDir);
        await fs.rm(ownDir, { recursive: true, force: true });
      }
    },
    2 * START_TIMEOUT,
  );
});
