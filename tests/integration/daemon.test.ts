/**
 * The desktop daemon end to end against a real server: what it shows, what a
 * click opens, what it acknowledges, and how it exits. The native notifier
 * and the opener are replaced by doubles that record what they were asked
 * (desktopNotifications.test.ts uses a real notification server).
 */
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { commandFor, type Opener } from '../../src/daemon/actions.ts';
import { EXIT_OK, EXIT_REFUSED, runDaemon } from '../../src/daemon/daemon.ts';
import type { Notifier, NotifierEvents } from '../../src/daemon/notifier.ts';
import type { Database } from '../../src/server/platform/db/client.ts';
import type { DeliveredItem } from '../../src/shared/delivery.ts';
import type { PresenceNode } from '../../src/server/server.ts';
import { runDaemonProcess as runBin } from '../support/daemonProcess.ts';
import { makeDaemonUser, queueSize } from '../support/factories.ts';
import { postNotifications, useTestNode } from '../support/node.ts';
import { freePort } from '../support/faultTools.ts';
import { killServerProcesses, startServerProcess } from '../support/serverProcess.ts';

let node: PresenceNode;
let db: Database;
useTestNode((started) => ({ node, db } = started));

/** Records each notification and lets the test click it. */
class RecordingNotifier extends EventEmitter<NotifierEvents> implements Notifier {
  shown: DeliveredItem[] = [];
  closed: string[] = [];
  show(items: readonly DeliveredItem[]): void {
    this.shown.push(...items);
  }
  close(ids: readonly string[]): void {
    this.closed.push(...ids);
  }
  retracted: { appid: string; tag: string }[] = [];
  retract(tags: readonly { appid: string; tag: string }[]): void {
    this.retracted.push(...tags);
  }
  end(): void {}
  click(id: string): void {
    const item = this.shown.find((shown) => shown.id === id);
    if (item) this.emit('open', item);
  }
}

class RecordingOpener implements Opener {
  opened: string[] = [];
  async open(action: string): Promise<void> {
    this.opened.push(action);
  }
}

describe('presence-daemon', () => {
  it('shows each notification once, opens its action only on a click, and acks after dispatch', async () => {
    const user = await makeDaemonUser(db, { schemes: ['chat'] });
    await postNotifications(node.url, user.appid, user.key, { UID: user.uid, message: 'queued before', action: 'https://example.com/a' });
    const notifier = new RecordingNotifier();
    const opener = new RecordingOpener();
    const printed: string[] = [];
    const stop = new AbortController();
    const running = runDaemon({
      server: node.url,
      token: user.token,
      notifier,
      opener,
      print: (line) => printed.push(line),
      report: () => undefined,
      signal: stop.signal,
    });
    await expect.poll(() => notifier.shown.length).toBe(1);
    await postNotifications(node.url, user.appid, user.key, { UID: user.uid, message: 'live', action: 'chat://room/42' });
    await expect.poll(() => notifier.shown.map((i) => i.message)).toEqual(['queued before', 'live']);
    expect(notifier.shown[0]).toMatchObject({ appName: user.appid, message: 'queued before' });
    expect(opener.opened).toEqual([]); // nothing runs without a click
    notifier.click(notifier.shown[1]?.id as string);
    expect(opener.opened).toEqual(['chat://room/42']);
    expect(printed).toEqual([`[${user.appid}] queued before  → https://example.com/a`, `[${user.appid}] live  → chat://room/42`]);
    await expect.poll(() => queueSize(db, user.uid)).toBe(0);
    stop.abort();
    expect(await running).toBe(EXIT_OK);
  });

  it('says a tagged item replaces the one printed before it, passes retractions to the notifier and prints them, as text and as JSON', async () => {
    for (const json of [false, true]) {
      const user = await makeDaemonUser(db);
      const notifier = new RecordingNotifier();
      const printed: string[] = [];
      const stop = new AbortController();
      const running = runDaemon({
        server: node.url,
        token: user.token,
        notifier,
        opener: new RecordingOpener(),
        print: (line) => printed.push(line),
        report: () => undefined,
        json,
        signal: stop.signal,
      });
      const send = (message: string) => postNotifications(node.url, user.appid, user.key, { UID: user.uid, message, action: 'https://e.com/', tag: 'call:42' });
      await send('Anna is calling');
      await expect.poll(() => notifier.shown.length).toBe(1);
      await send('Anna is still calling');
      await expect.poll(() => notifier.shown.length).toBe(2);
      const retracted = await fetch(`${node.url}/${user.appid}/retract`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${user.key}` },
        body: JSON.stringify({ UID: user.uid, tag: 'call:42' }),
      });
      expect(retracted.status).toBe(200);
      await expect.poll(() => notifier.retracted).toEqual([{ appid: user.appid, tag: 'call:42' }]);
      if (json) {
        expect(printed.map((line) => JSON.parse(line) as object)).toEqual([
          expect.objectContaining({ message: 'Anna is calling', tag: 'call:42' }),
          expect.objectContaining({ message: 'Anna is still calling', tag: 'call:42' }),
          { kind: 'retracted', appid: user.appid, tag: 'call:42' },
        ]);
      } else {
        expect(printed).toEqual([
          `[${user.appid}] Anna is calling  → https://e.com/`,
          `[${user.appid}] Anna is still calling  → https://e.com/  (replaces call:42)`,
          `[${user.appid}] retracted call:42`,
        ]);
      }
      stop.abort();
      expect(await running).toBe(EXIT_OK);
    }
  });

  it('after a reconnect, drops a redelivered item by id but acknowledges it again', async () => {
    const env = { DATABASE_URL: inject('databaseUrl'), PORT: String(await freePort()), HOST: '127.0.0.1' };
    const server = await startServerProcess(env);
    const user = await makeDaemonUser(db);
    await postNotifications(node.url, user.appid, user.key, { UID: user.uid, message: 'once', action: 'https://e.com/' });
    const notifier = new RecordingNotifier();
    const stop = new AbortController();
    const running = runDaemon({
      server: server.url,
      token: user.token,
      notifier,
      opener: new RecordingOpener(),
      print: () => undefined,
      report: () => undefined,
      signal: stop.signal,
    });
    try {
      await expect.poll(() => queueSize(db, user.uid)).toBe(0);
      server.kill('SIGTERM');
      await server.exited;
      // Put the same item back, as if its ack had been lost, and queue a new one.
      const id = notifier.shown[0]?.id as string;
      await db.pool.query(`INSERT INTO queue_items (id, uid, app_id, message, action) VALUES ($1, $2, $3, 'once', 'https://e.com/')`, [
        id,
        user.uid,
        user.appid,
      ]);
      await db.pool.query(`UPDATE queues SET size = 1 WHERE uid = $1`, [user.uid]);
      await postNotifications(node.url, user.appid, user.key, { UID: user.uid, message: 'next', action: 'https://e.com/' });
      const restarted = await startServerProcess(env);
      // The daemon's backoff has grown while the server was away (up to 16 s before the restart's next try on a loaded machine).
      await expect.poll(() => queueSize(db, user.uid), { timeout: 40_000 }).toBe(0);
      expect(notifier.shown.map((i) => i.message)).toEqual(['once', 'next']);
      restarted.kill('SIGTERM');
      await restarted.exited;
    } finally {
      stop.abort();
      await running;
      await killServerProcesses();
    }
  }, 90_000);

  it('--once --json prints what is pending as JSON lines, acks it and exits 0', async () => {
    const user = await makeDaemonUser(db);
    await postNotifications(
      node.url,
      user.appid,
      user.key,
      [1, 2].map((n) => ({ UID: user.uid, message: `m${n}`, action: 'https://e.com/' })),
    );
    const result = await runBin(['--server', node.url, '--once', '--json'], { PRESENCE_DEVICE_TOKEN: user.token });
    expect(result.code).toBe(0);
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as DeliveredItem);
    expect(lines.map((i) => i.message)).toEqual(['m1', 'm2']);
    expect(await queueSize(db, user.uid)).toBe(0);
  });

  it('reports a refused token and exits non-zero instead of retrying', async () => {
    const result = await runBin(['--server', node.url], { PRESENCE_DEVICE_TOKEN: 'prs_dev_not-a-real-token' });
    expect(result.code).toBe(EXIT_REFUSED);
    expect(result.stderr).toContain('refused this device');
  });

  it('explains a missing token and an unreadable config file', async () => {
    const empty = await mkdtemp(path.join(os.tmpdir(), 'presence-daemon-config-'));
    try {
      const missing = await runBin(['--server', node.url], { XDG_CONFIG_HOME: empty });
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('no device token');
      const unreadable = await runBin(['--server', node.url, '--config', path.join(empty, 'none.json')]);
      expect(unreadable.code).toBe(1);
      expect(unreadable.stderr).toContain('cannot read');
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe('what a click runs', () => {
  it('opens web links with the OS handler and deep links with the configured command, never a forbidden scheme', () => {
    const schemes = { chat: ['chat-app', '--open', '{action}'] };
    expect(commandFor('https://example.com/x', schemes)?.at(-1)).toBe('https://example.com/x');
    expect(commandFor('chat://room/42', schemes)).toEqual(['chat-app', '--open', 'chat://room/42']);
    expect(commandFor('game://lobby', schemes)?.at(-1)).toBe('game://lobby');
    for (const action of ['javascript:alert(1)', 'file:///etc/passwd', 'data:text/html,x', 'http:foo', 'no scheme']) {
      expect(commandFor(action, schemes)).toBeNull();
    }
  });
});
