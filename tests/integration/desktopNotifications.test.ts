/**
 * The daemon's native notifications through a real notification server: an
 * X display (Xvfb), a D-Bus session bus and dunst in it, with the real daemon
 * process using notify-send. What dunst received is read back with
 * `dunstctl history`.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/server/platform/db/client.ts';
import type { PresenceNode } from '../../src/server/server.ts';
import { startDaemonProcess } from '../support/daemonProcess.ts';
import { makeDaemonUser, queueSize } from '../support/factories.ts';
import { postNotifications, useTestNode } from '../support/node.ts';

const REQUIRED = ['Xvfb', 'dbus-daemon', 'dunst', 'dunstctl', 'notify-send'];
const missing = REQUIRED.filter((bin) => spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0);
if (missing.length > 0) {
  console.warn(`desktop notification tests skipped: ${missing.join(', ')} not installed (apt-get install xvfb dbus-x11 dunst libnotify-bin)`);
}

let node: PresenceNode;
let db: Database;
useTestNode((started) => ({ node, db } = started));

/** Reads the first line a child writes on the given stream. */
async function firstLine(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  stream.setEncoding('utf8');
  for await (const chunk of stream) {
    text += chunk as string;
    if (text.includes('\n')) return text.slice(0, text.indexOf('\n')).trim();
  }
  throw new Error(`stream ended before a line: ${JSON.stringify(text)}`);
}

interface Desktop {
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** A display, a session bus and dunst, each a child of this process, stopped together. */
async function startDesktop(): Promise<Desktop> {
  const children: ChildProcess[] = [];
  const stop = async () => {
    for (const child of children.reverse()) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
    }
  };
  try {
    // -displayfd: Xvfb picks a free display and writes its number on fd 3.
    const xvfb = spawn('Xvfb', ['-displayfd', '3', '-nolisten', 'tcp', '-screen', '0', '640x480x24'], { stdio: ['ignore', 'ignore', 'ignore', 'pipe'] });
    children.push(xvfb);
    const display = await firstLine(xvfb.stdio[3] as NodeJS.ReadableStream);
    const bus = spawn('dbus-daemon', ['--session', '--nofork', '--print-address=1'], { stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(bus);
    const address = await firstLine(bus.stdout as NodeJS.ReadableStream);
    const env = { DISPLAY: `:${display}`, DBUS_SESSION_BUS_ADDRESS: address };
    const dunst = spawn('dunst', [], { env: { ...process.env, ...env }, stdio: 'ignore' });
    children.push(dunst);
    // dunst is ready once it answers on the bus.
    for (
      let attempt = 0;
      !(await dunstctl(env, ['is-paused']).then(
        () => true,
        () => false,
      ));
      attempt++
    ) {
      if (attempt === 100) throw new Error('dunst did not come up on the session bus');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return { env, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

const run = promisify(execFile);

function dunstctl(env: Record<string, string>, args: string[]): Promise<string> {
  return run('dunstctl', args, { env: { ...process.env, ...env } }).then((result) => result.stdout);
}

interface HistoryEntry {
  appname: string;
  summary: string;
  body: string;
  /** What dunst renders: its format with the summary escaped and the body as markup. */
  message: string;
}

/** Closes what is on screen (closed notifications go to the history) and reads the history. */
async function shownNotifications(env: Record<string, string>): Promise<HistoryEntry[]> {
  await dunstctl(env, ['close-all']);
  const history = JSON.parse(await dunstctl(env, ['history'])) as { data: Record<string, { data: unknown }>[][] };
  return (history.data[0] ?? []).map((entry) => ({
    appname: entry.appname?.data as string,
    summary: entry.summary?.data as string,
    body: entry.body?.data as string,
    message: entry.message?.data as string,
  }));
}

function markupEscaped(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

describe.skipIf(missing.length > 0)('native notifications (dunst)', () => {
  let desktop: Desktop;
  beforeAll(async () => {
    desktop = await startDesktop();
  });
  afterAll(async () => {
    await desktop?.stop();
  });

  it('reach the notification server with the body escaped as markup, so <b>, <a href> and < show as written', async () => {
    const user = await makeDaemonUser(db);
    const message = '<b>bold</b> & <a href="https://evil.example/">click</a> 1 < 2 > 0 C:\\new\\temp \\033[31m';
    const daemon = startDaemonProcess(['--server', node.url], { PRESENCE_DEVICE_TOKEN: user.token, ...desktop.env });
    try {
      await expect.poll(() => daemon.stderr).toContain('connected to');
      expect(daemon.stderr).not.toContain('printing notifications instead');
      await postNotifications(node.url, user.appid, user.key, { UID: user.uid, message, action: 'https://e.com/' });
      await expect.poll(() => queueSize(db, user.uid)).toBe(0);
      let shown: HistoryEntry[] = [];
      await expect
        .poll(async () => {
          shown = (await shownNotifications(desktop.env)).filter((entry) => entry.appname === 'Presence');
          return shown.length;
        })
        .toBe(1);
      // The spec's body markup: the text exactly, with &, < and > as entities (backslashes untouched).
      expect(shown[0]?.body).toBe(markupEscaped(message));
      expect(shown[0]?.message).not.toContain('<b>bold');
      expect(shown[0]?.message).not.toContain('<a href');
      // The summary is plain text to the server (dunst escapes it itself): the app's name as it is.
      expect(shown[0]?.summary).toBe(user.appid);
    } finally {
      daemon.child.kill('SIGTERM');
      await daemon.exited;
    }
  });
});
