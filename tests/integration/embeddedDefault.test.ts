/**
 * The embedded default end to end, through real server processes (what
 * `npm start` runs) without DATABASE_URL: the first start seeds the demo data
 * and writes its credentials; the data survives a clean stop and a `kill -9`
 * (whose orphaned PostgreSQL the next start stops).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DemoCredentials } from '../../src/server/demo.ts';
import { postNotifications } from '../support/node.ts';
import {
  isProcessRunning, killServerProcesses, postmasterPid, startServerProcess, stopClusterPostgres, type ServerProcess,
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
  it('seeds the demo, keeps its data across a clean stop and a kill -9', async () => {
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
    expect(curlLine).toContain(`Authorization: Bearer ${demo.key}`);
    expect(curlLine).toContain(demo.uid);

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
  }, 5 * START_TIMEOUT);
});
