/**
 * WebSocket upgrades the node does not serve, against the real server
 * process (Next.js in production mode): each gets an HTTP answer and its
 * socket is let go, so such clients cannot pile up open file descriptors.
 */
import { readdirSync } from 'node:fs';
import { afterAll, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { killServerProcesses, startServerProcess } from '../support/serverProcess.ts';

afterAll(async () => {
  await killServerProcesses();
});

const openDescriptors = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

/** The status the server answered an upgrade to `path` with, or the error that came instead. */
function upgradeAnswer(url: string, path: string): Promise<number | string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}${path}`, { handshakeTimeout: 5_000 });
    ws.on('unexpected-response', (req, res) => {
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    ws.on('open', () => {
      resolve(101);
      ws.terminate();
    });
    ws.on('error', (error) => resolve(error.message));
  });
}

it('answers upgrades to any other path than /presence with 404 and frees their sockets', async () => {
  const server = await startServerProcess({ DATABASE_URL: inject('databaseUrl'), PORT: '0', HOST: '127.0.0.1' });
  try {
    // Warm up (Next's lazy modules open files on first use), then take the baseline.
    expect(await upgradeAnswer(server.url, '/nope')).toBe(404);
    const baseline = openDescriptors(server.pid);
    const paths = ['/nope', '/presence/', '/PRESENCE', '/_next/webpack-hmr', '/_next/hmr', '/presence/x?connectionParams=1'];
    const answers = await Promise.all(Array.from({ length: 120 }, (_, n) => upgradeAnswer(server.url, paths[n % paths.length] as string)));
    expect(new Set(answers)).toEqual(new Set([404]));
    // A little slack: the node's database pool may open a connection meanwhile (each upgrade held one before).
    await expect.poll(() => openDescriptors(server.pid)).toBeLessThanOrEqual(baseline + 10);
  } finally {
    server.kill('SIGKILL');
    await server.exited;
  }
}, 60_000);
