/**
 * A database outage inside the test: a real PostgreSQL is stopped and started
 * again under a running node with a connected daemon.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { connectChannel } from '../support/daemonClient.ts';
import { makeDaemonUser, queueItems } from '../support/factories.ts';
import { postNotifications } from '../support/node.ts';
import { useNodeOnOwnPostgres } from '../support/ownPostgres.ts';
import { postmasterPid, projectRoot } from '../support/serverProcess.ts';

const own = useNodeOnOwnPostgres('presence-outage-');

describe('while PostgreSQL is down', () => {
  it('answers 503 (errno 150), recovers by itself, and loses nothing acked', async () => {
    const user = await makeDaemonUser(own.db);
    const before = await postNotifications(own.node.url, user.appid, user.key, { UID: user.uid, message: 'before', action: 'https://e.com/' });
    expect(before.status).toBe(200);
    const daemon = connectChannel(own.node.url, user.token);
    try {
      expect((await daemon.event(0)).items.map((i) => i.message)).toEqual(['before']);

      await own.postgres.stop();
      const during = await postNotifications(own.node.url, user.appid, user.key, { UID: user.uid, message: 'during', action: 'https://e.com/' });
      expect(during.status).toBe(503);
      expect(during.body).toMatchObject({ result: 'KO', errno: 150 });
      expect(during.headers.get('retry-after')).toBe('5');
      const health = await fetch(`${own.node.url}/healthz`);
      expect(health.status).toBe(503);
      expect(await health.json()).toMatchObject({ database: 'unreachable' });

      await own.start();
      // The pool reconnects by itself: the next POSTs succeed.
      await expect
        .poll(async () => (await postNotifications(own.node.url, user.appid, user.key, { UID: user.uid, message: 'after', action: 'https://e.com/' })).status, {
          timeout: 20_000,
          interval: 500,
        })
        .toBe(200);
      // The connected daemon gets what was posted after the outage (the listener came back too).
      await expect.poll(() => daemon.receivedIds().length, { timeout: 20_000 }).toBeGreaterThanOrEqual(2);
      const messages = daemon.events.flatMap((e) => e.items.map((i) => i.message));
      expect(messages[0]).toBe('before');
      expect(messages.slice(1).every((m) => m === 'after')).toBe(true);
      expect(messages).not.toContain('during');
      // Nothing acked before the outage was lost; nothing refused during it was stored.
      const stored = (await queueItems(own.db, user.uid)).map((i) => i.message);
      expect(stored[0]).toBe('before');
      expect(stored).not.toContain('during');
      expect((await fetch(`${own.node.url}/healthz`)).status).toBe(200);
    } finally {
      await daemon.close();
    }
  });
});

describe('when PostgreSQL dies under load', () => {
  it('leaves no pg error uncaught: a node without any uncaughtException handler lives on and recovers', async () => {
    const user = await makeDaemonUser(own.db);
    // Its own process, without Next.js (whose handler would swallow an uncaught error): one crashes it.
    const child = spawn(process.execPath, ['--import', 'tsx', 'tests/fixtures/apiNodeChild.ts', own.postgres.url], {
      cwd: projectRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(`${signal ?? code}`)));
    let load = true;
    try {
      await expect.poll(() => output, { timeout: 60_000 }).toMatch(/Presence is running at \S+\n/);
      const url = (output.match(/Presence is running at (\S+)\n/) as RegExpMatchArray)[1] as string;
      const daemon = connectChannel(url, user.token);
      await daemon.event(0);
      // Many requests in flight, so pooled connections are checked out (not idle) when the database dies.
      let stored = 0;
      const post = (message: string) =>
        postNotifications(url, user.appid, user.key, { UID: user.uid, message, action: 'https://e.com/' }).then(
          (r) => r.status,
          () => 0,
        );
      const posters = Array.from({ length: 30 }, async () => {
        while (load) if ((await post('load')) === 200) stored++;
      });
      await expect.poll(() => stored).toBeGreaterThan(20);
      process.kill((await postmasterPid(own.postgres.clusterDir)) as number, 'SIGKILL');
      await expect.poll(() => post('down'), { timeout: 20_000 }).not.toBe(200);

      await own.start();
      expect(output).not.toMatch(/Unhandled 'error' event|uncaught/i);
      expect(child.exitCode ?? child.signalCode).toBeNull();
      await expect.poll(() => post('after'), { timeout: 30_000, interval: 500 }).toBe(200);
      load = false;
      await Promise.all(posters);
      expect(child.exitCode ?? child.signalCode).toBeNull();
      expect(output).not.toMatch(/Unhandled 'error' event|uncaught/i);
      // The daemon, still connected, gets what is posted after the restart.
      await expect.poll(() => daemon.events.flatMap((e) => e.items.map((i) => i.message)), { timeout: 20_000 }).toContain('after');
      await daemon.close();
      child.kill('SIGTERM');
      expect(await exited).toBe('0');
    } finally {
      load = false;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 120_000);
});
