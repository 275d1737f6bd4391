/**
 * The daemon's native notifications through a real notification server: dunst
 * on an X display (Xvfb) in its own D-Bus session (tests/support/desktop.ts),
 * with the real daemon process. What dunst showed is read back with
 * `dunstctl history`; clicks and dismissals are made with `dunstctl`.
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/server/domain/apps.ts';
import { createDevice } from '../../src/server/domain/devices.ts';
import { grantUid } from '../../src/server/domain/uids.ts';
import type { Database } from '../../src/server/platform/db/client.ts';
import type { PresenceNode } from '../../src/server/server.ts';
import { SHOWN_ONE_BY_ONE } from '../../src/daemon/notifier.ts';
import { startDaemonProcess, type DaemonProcess } from '../support/daemonProcess.ts';
import { missingDesktopPrograms, startDesktop, type Desktop } from '../support/desktop.ts';
import { makeDaemonUser, queueSize, uniqueAppid } from '../support/factories.ts';
import { postNotifications, useTestNode } from '../support/node.ts';

// A real notification server is part of what these tests prove: without one they fail and say what to install (.ci/run does).
const missing = missingDesktopPrograms();
beforeAll(() => {
  if (missing.length > 0) throw new Error(`${missing.join(', ')} not installed: apt-get install xvfb dbus-x11 dunst`);
});

let node: PresenceNode;
let db: Database;
useTestNode((started) => ({ node, db } = started));

function markupEscaped(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** The daemon's own child processes, by parent pid; without esbuild, which the development launcher (tsx) runs to load TypeScript. */
function childrenOf(pid: number): string[] {
  try {
    const lines = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(pid)], { encoding: 'utf8' })
      .trim()
      .split('\n');
    return lines.filter((line) => line && !line.endsWith(' esbuild'));
  } catch {
    return []; // ps exits 1 when it lists nothing
  }
}

const running: DaemonProcess[] = [];

/** Starts a daemon in `desktop`'s session and waits until it is connected to a notification server. */
async function startDaemon(token: string, desktop: Desktop, env: Record<string, string> = {}): Promise<DaemonProcess> {
  const daemon = startDaemonProcess(['--server', node.url], { PRESENCE_DEVICE_TOKEN: token, ...desktop.env, ...env });
  running.push(daemon);
  await expect.poll(() => daemon.stderr).toContain('connected to');
  expect(daemon.stderr).not.toContain('printing notifications instead');
  return daemon;
}

async function stopDaemons(): Promise<void> {
  for (const daemon of running.splice(0)) {
    daemon.child.kill('SIGTERM');
    await daemon.exited;
  }
}

describe('native notifications (dunst)', () => {
  let desktop: Desktop;
  beforeAll(async () => {
    desktop = await startDesktop();
  });
  afterEach(async () => {
    await stopDaemons();
    await desktop.shown(); // an empty screen for the next test
  });
  afterAll(async () => {
    await desktop?.stop();
  });

  it('show the app’s name and the message escaped as body markup, expire with the item’s TTL, and leave no process behind', async () => {
    const user = await makeDaemonUser(db);
    const message = '<b>bold</b> & <a href="https://evil.example/">click</a> 1 < 2 > 0 C:\\new\\temp \\033[31m';
    const daemon = await startDaemon(user.token, desktop);
    await postNotifications(node.url, user.appid, user.key, { UID: user.uid, message, action: 'https://e.com/', ttl: 600 });
    await expect.poll(() => queueSize(db, user.uid)).toBe(0);
    await expect.poll(() => desktop.openCount()).toBe(1);
    // One bus connection: no helper process per notification.
    expect(childrenOf(daemon.child.pid as number)).toEqual([]);
    const shown = (await desktop.shown()).filter((entry) => entry.appname === user.appid);
    expect(shown).toHaveLength(1);
    // The spec's body markup: the text exactly, with &, < and > as entities (backslashes untouched).
    expect(shown[0]?.body).toBe(markupEscaped(message));
    expect(shown[0]?.message).not.toContain('<b>bold');
    expect(shown[0]?.message).not.toContain('<a href');
    expect(shown[0]?.summary).toBe(user.appid);
    // expire_timeout from the TTL (dunst keeps microseconds): under 600 s, where the server's default here is never.
    expect(shown[0]?.timeout).toBeGreaterThan(590_000_000);
    expect(shown[0]?.timeout).toBeLessThanOrEqual(600_000_000);
    daemon.child.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
  });

  it('a click runs the action opener with the item’s action', async () => {
    const user = await makeDaemonUser(db);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'presence-opener-'));
    try {
      // A fake xdg-open first on PATH records what a click opens.
      const opened = path.join(dir, 'opened');
      await writeFile(path.join(dir, 'xdg-open'), `#!/bin/sh\nprintf '%s\\n' "$1" >> '${opened}'\n`);
      await chmod(path.join(dir, 'xdg-open'), 0o755);
      await startDaemon(user.token, desktop, { PATH: `${dir}:${process.env.PATH ?? ''}` });
      await postNotifications(node.url, user.appid, user.key, { UID: user.uid, message: 'click me', action: 'https://example.com/clicked' });
      await expect.poll(() => desktop.openCount()).toBe(1);
      // dunstctl's action: the default action of the notification on top.
      await desktop.dunstctl(['action', '0']);
      await expect.poll(() => readFile(opened, 'utf8').catch(() => '')).toBe('https://example.com/clicked\n');
      await expect.poll(() => desktop.openCount()).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('two items with one tag show one notification whose text is the newer, and a retraction of the tag closes it', async () => {
    const user = await makeDaemonUser(db);
    const daemon = await startDaemon(user.token, desktop);
    const before = (await desktop.shown()).length;
    const send = (message: string) =>
      postNotifications(node.url, user.appid, user.key, { UID: user.uid, message, action: 'https://e.com/', ttl: 3600, tag: 'unread:general' });
    expect((await send('3 new messages')).status).toBe(200);
    await expect.poll(() => desktop.openCount()).toBe(1);
    expect((await send('5 new messages')).status).toBe(200);
    await expect.poll(() => daemon.stdout).toContain(`[${user.appid}] 5 new messages  → https://e.com/  (replaces unread:general)`);
    // Printed means handed to the notifier; the replacement keeps one on screen.
    expect(await desktop.openCount()).toBe(1);

    const retracted = await fetch(`${node.url}/${user.appid}/retract`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${user.key}` },
      body: JSON.stringify([{ UID: user.uid, tag: 'unread:general' }]),
    });
    expect(retracted.status).toBe(200);
    await expect.poll(() => daemon.stdout).toContain(`[${user.appid}] retracted unread:general`);
    // Closed by the daemon (dunst has no timeout here and the TTL is an hour), and it was one notification showing the newer text.
    await expect.poll(() => desktop.openCount()).toBe(0);
    const shown = (await desktop.shown()).slice(before);
    expect(shown.map((entry) => entry.body)).toEqual(['5 new messages']);
  });

  it('a backlog of 30 from two apps raises the newest 3 and one summary per app for the rest, oldest first, and prints all 30', async () => {
    const user = await makeDaemonUser(db);
    const chat = await createApp(db, { appid: uniqueAppid('chat'), schemes: [] });
    const { uid: chatUid } = await grantUid(db, { appid: chat.appid, userId: user.userId });
    const batch = (uid: string, from: number, count: number) =>
      Array.from({ length: count }, (_, i) => ({ UID: uid, message: `item ${from + i}`, action: 'https://e.com/' }));
    expect((await postNotifications(node.url, user.appid, user.key, batch(user.uid, 1, 20))).status).toBe(200);
    expect((await postNotifications(node.url, chat.appid, chat.key, batch(chatUid, 21, 10))).status).toBe(200);
    const before = (await desktop.shown()).length;

    const daemon = await startDaemon(user.token, desktop);
    await expect.poll(() => queueSize(db, chatUid)).toBe(0);
    await expect.poll(() => daemon.stdout.split('\n').filter(Boolean).length).toBe(30);
    await expect.poll(() => desktop.openCount()).toBe(SHOWN_ONE_BY_ONE + 2);
    const shown = (await desktop.shown()).slice(before);
    expect(shown.map((entry) => [entry.appname, entry.body])).toEqual([
      [user.appid, `and 20 more from ${user.appid}`],
      [chat.appid, `and 7 more from ${chat.appid}`],
      [chat.appid, 'item 28'],
      [chat.appid, 'item 29'],
      [chat.appid, 'item 30'],
    ]);
  });
});

describe('dismissed everywhere (two desktops, dunst in each)', () => {
  let laptop: Desktop;
  let workstation: Desktop;
  beforeAll(async () => {
    [laptop, workstation] = await Promise.all([startDesktop(), startDesktop()]);
  });
  afterAll(async () => {
    await stopDaemons();
    await Promise.all([laptop?.stop(), workstation?.stop()]);
  });

  it('dismissing or clicking a notification on one device closes it on the user’s other device', async () => {
    const user = await makeDaemonUser(db);
    const second = await createDevice(db, { userId: user.userId, name: 'workstation' });
    // The click below opens nothing real: a fake xdg-open first on PATH.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'presence-opener-'));
    await writeFile(path.join(dir, 'xdg-open'), '#!/bin/sh\nexit 0\n');
    await chmod(path.join(dir, 'xdg-open'), 0o755);
    await Promise.all([startDaemon(user.token, laptop, { PATH: `${dir}:${process.env.PATH ?? ''}` }), startDaemon(second.token, workstation)]);
    // dunst here has no default timeout and the TTL is long: only the dismissal can close it.
    await postNotifications(node.url, user.appid, user.key, { UID: user.uid, message: 'seen on both', action: 'https://e.com/', ttl: 3600 });
    await expect.poll(() => laptop.openCount()).toBe(1);
    await expect.poll(() => workstation.openCount()).toBe(1);

    await laptop.dunstctl(['close']); // the user closes it on the laptop
    await expect.poll(() => workstation.openCount()).toBe(0);
    expect((await workstation.shown()).map((entry) => entry.body)).toEqual(['seen on both']);

    await postNotifications(node.url, user.appid, user.key, { UID: user.uid, message: 'clicked on the workstation', action: 'https://e.com/', ttl: 3600 });
    await expect.poll(() => laptop.openCount()).toBe(1);
    await expect.poll(() => workstation.openCount()).toBe(1);
    await workstation.dunstctl(['action', '0']); // the user clicks it on the workstation
    await expect.poll(() => laptop.openCount()).toBe(0);
    expect((await laptop.shown()).map((entry) => entry.body)).toEqual(['seen on both', 'clicked on the workstation']);
    await rm(dir, { recursive: true, force: true });
  });
});
