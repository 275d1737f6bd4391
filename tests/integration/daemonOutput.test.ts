/**
 * What the daemon prints comes from apps and operators: escape sequences,
 * newlines and bidirectional overrides in it must reach the terminal as
 * visible text, never as instructions to the terminal (the real daemon
 * process against a real server).
 */
import { describe, expect, it } from 'vitest';
import type { Database } from '../../src/server/platform/db/client.ts';
import type { DeliveredItem } from '../../src/shared/delivery.ts';
import type { PresenceNode } from '../../src/server/server.ts';
import { runDaemonProcess } from '../support/daemonProcess.ts';
import { makeDaemonUser, queueSize } from '../support/factories.ts';
import { postNotifications, useTestNode } from '../support/node.ts';

let node: PresenceNode;
let db: Database;
useTestNode((started) => ({ node, db } = started));

/** C0 controls (newline and tab too), DEL, C1 controls, bidi embeddings, overrides and isolates, line and paragraph separators. */
const TERMINAL_CONTROLS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

const hostile = [
  'title\u001b]0;pwned\u0007', // OSC 0: sets the window title
  'clip\u001b]52;c;cm0gLXJmIH4K\u001b\\', // OSC 52: writes the clipboard
  'hidden\u001b[8mgone\u001b[0m', // SGR 8: hides the text that follows
  'forged\nchat [other-app] you won  → https://evil.example/', // a second, forged line
  'c1 \u009b31m csi', // an 8-bit CSI
  'bidi \u202egnp.exe', // right-to-left override
  'cr\rover', // carriage return overwrites the line
].join(' | ');

async function userWithHostileApp() {
  const user = await makeDaemonUser(db);
  // Operators name apps; the name is printed too.
  await db.pool.query('UPDATE apps SET name = $1 WHERE id = $2', [`Chat\u001b[2J\u202e`, user.appid]);
  await postNotifications(node.url, user.appid, user.key, { UID: user.uid, message: hostile, action: 'https://e.com/' });
  return user;
}

describe('the daemon on a terminal', () => {
  it('prints control characters, escape sequences and bidi overrides of a message and an app name as visible escapes, one line per item', async () => {
    const user = await userWithHostileApp();
    const result = await runDaemonProcess(['--server', node.url, '--once'], { PRESENCE_DEVICE_TOKEN: user.token });
    expect(result.code).toBe(0);
    // The only newline is the one that ends the item's line.
    const lines = result.stdout.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toMatch(TERMINAL_CONTROLS);
    expect(lines[0]).toContain('title\\u001b]0;pwned\\u0007');
    expect(lines[0]).toContain('forged\\nchat [other-app]');
    expect(lines[0]).toContain('c1 \\u009b31m');
    expect(lines[0]).toContain('bidi \\u202egnp.exe');
    expect(lines[0]).toContain('cr\\rover');
    expect(lines[0]?.startsWith('[Chat\\u001b[2J\\u202e] ')).toBe(true);
    for (const line of result.stderr.split('\n')) expect(line).not.toMatch(TERMINAL_CONTROLS);
    expect(await queueSize(db, user.uid)).toBe(0);
  });

  it('--json stays valid JSON that gives back the exact text, with no raw C1 or bidi control characters', async () => {
    const user = await userWithHostileApp();
    const result = await runDaemonProcess(['--server', node.url, '--once', '--json'], { PRESENCE_DEVICE_TOKEN: user.token });
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toMatch(TERMINAL_CONTROLS);
    const item = JSON.parse(lines[0] as string) as DeliveredItem;
    expect(item.message).toBe(hostile);
    expect(item.appName).toBe('Chat\u001b[2J\u202e');
  });
});
