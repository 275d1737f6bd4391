/**
 * Pairing without an operator, through a real node: a device connected on the
 * channel issues a code (daemon.pairingCode), POST /pair exchanges it for a
 * new device of the same user, once; unknown, used and expired codes are
 * refused with their errnos; failed attempts are throttled per address; and
 * the real `presence-daemon pair` writes an owner-only config that a
 * following `presence-daemon --once` uses.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channelUrl } from '../../src/shared/channel.ts';
import { createChannelClient } from '../../src/shared/channelClient.ts';
import { createApp } from '../../src/server/domain/apps.ts';
import { authenticateDevice } from '../../src/server/domain/devices.ts';
import type { Database } from '../../src/server/platform/db/client.ts';
import type { AppRouter } from '../../src/server/trpc/routers/_app.ts';
import type { PresenceNode } from '../../src/server/server.ts';
import { runDaemonProcess } from '../support/daemonProcess.ts';
import { makeDaemonUser } from '../support/factories.ts';
import { postNotifications, startTestNode, useTestNode } from '../support/node.ts';

let node: PresenceNode;
let db: Database;
useTestNode((started) => ({ node, db } = started));

/** Issues a code the way the device page does: a device procedure on the channel, with the device's token. */
async function issueCode(serverUrl: string, token: string): Promise<{ code: string; expiresAt: string }> {
  const channel = createChannelClient<AppRouter>({ url: channelUrl(serverUrl), token, WebSocket: WebSocket as unknown as typeof globalThis.WebSocket });
  try {
    return await channel.client.daemon.pairingCode.mutate();
  } finally {
    await channel.close();
  }
}

async function pair(serverUrl: string, body: unknown) {
  const response = await fetch(`${serverUrl}/pair`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
}

describe('pairing codes', () => {
  it('a code issued on the channel pairs one new device of the same user, typed in any case, and is stored only as a digest', async () => {
    const user = await makeDaemonUser(db);
    const { code, expiresAt } = await issueCode(node.url, user.token);
    expect(code).toMatch(/^[ACDEFGHJKMNPQRTVWXYZ234679]{4}-[ACDEFGHJKMNPQRTVWXYZ234679]{4}$/);
    const lifetime = Date.parse(expiresAt) - Date.now();
    expect(lifetime).toBeGreaterThan(5 * 60_000);
    expect(lifetime).toBeLessThanOrEqual(10 * 60_000);

    const { rows } = await db.pool.query<{ code_digest: Buffer; used_at: Date | null }>('SELECT code_digest, used_at FROM pairing_codes WHERE user_id = $1', [
      user.userId,
    ]);
    const plain = code.replace('-', '');
    expect(rows).toEqual([{ code_digest: createHash('sha256').update(plain).digest(), used_at: null }]);
    expect(JSON.stringify(rows)).not.toContain(plain);

    const typed = ` ${plain.slice(0, 4).toLowerCase()} ${plain.slice(4)} `;
    const answer = await pair(node.url, { code: typed, name: 'new laptop' });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ token: expect.stringMatching(/^prs_dev_/), deviceId: expect.any(String), deviceName: 'new laptop' });
    expect(await authenticateDevice(db, answer.body.token as string)).toEqual({
      deviceId: answer.body.deviceId,
      deviceName: 'new laptop',
      userId: user.userId,
    });

    const again = await pair(node.url, { code, name: 'second try' });
    expect(again.status).toBe(410);
    expect(again.body).toMatchObject({ result: 'KO', errno: 141, error: expect.stringContaining('used already') });
  });

  it('an expired code and an unknown code are refused with their errnos', async () => {
    const user = await makeDaemonUser(db);
    const { code } = await issueCode(node.url, user.token);
    await db.pool.query(`UPDATE pairing_codes SET expires_at = now() - interval '1 second' WHERE user_id = $1`, [user.userId]);
    const expired = await pair(node.url, { code });
    expect(expired.status).toBe(410);
    expect(expired.body).toMatchObject({ result: 'KO', errno: 142, error: expect.stringContaining('expired') });

    const unknown = await pair(node.url, { code: 'AAAA-AAAA' });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ result: 'KO', errno: 140 });
    const devices = await db.pool.query('SELECT 1 FROM devices WHERE user_id = $1', [user.userId]);
    expect(devices.rowCount).toBe(1);
  });

  it("each user's code pairs a device of that user only: another user's device never gets it", async () => {
    const ada = await makeDaemonUser(db);
    const bob = await makeDaemonUser(db);
    const adaCode = await issueCode(node.url, ada.token);
    const bobCode = await issueCode(node.url, bob.token);
    const adaPaired = await pair(node.url, { code: adaCode.code, name: 'ada phone' });
    const bobPaired = await pair(node.url, { code: bobCode.code, name: 'bob phone' });
    expect((await authenticateDevice(db, adaPaired.body.token as string))?.userId).toBe(ada.userId);
    expect((await authenticateDevice(db, bobPaired.body.token as string))?.userId).toBe(bob.userId);
  });

  it('concurrent exchanges of one code give exactly one token', async () => {
    const user = await makeDaemonUser(db);
    const { code } = await issueCode(node.url, user.token);
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => pair(node.url, { code, name: `racer ${i}` })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 410, 410, 410, 410, 410, 410, 410]);
    const devices = await db.pool.query('SELECT 1 FROM devices WHERE user_id = $1', [user.userId]);
    expect(devices.rowCount).toBe(2);
  });

  it('a user holds at most three live codes: a fourth retires the oldest', async () => {
    const user = await makeDaemonUser(db);
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push((await issueCode(node.url, user.token)).code);
    const live = await db.pool.query('SELECT 1 FROM pairing_codes WHERE user_id = $1 AND used_at IS NULL AND expires_at > now()', [user.userId]);
    expect(live.rowCount).toBe(3);
    expect((await pair(node.url, { code: codes[0] })).body).toMatchObject({ errno: 142 });
    expect((await pair(node.url, { code: codes[3] })).status).toBe(200);
  });

  it('only POST with a JSON code is taken, and "pair" cannot be an appid', async () => {
    const get = await fetch(`${node.url}/pair`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect((await pair(node.url, { name: 'no code' })).body).toMatchObject({ errno: 102 });
    await expect(createApp(db, { appid: 'pair' })).rejects.toMatchObject({ errno: 300 });
  });
});

describe('pairing attempts', () => {
  let throttled: PresenceNode;
  beforeAll(async () => {
    // A node of its own: the throttle is per node, and this test spends this address's allowance.
    throttled = await startTestNode();
  });
  afterAll(async () => {
    await throttled.close();
  });

  it('failed attempts from one address are throttled: 429 with Retry-After, then even a right code waits', async () => {
    const user = await makeDaemonUser(db);
    const { code } = await issueCode(throttled.url, user.token);
    for (let i = 0; i < 10; i++) expect((await pair(throttled.url, { code: 'WRNG-CODE' })).status).toBe(404);
    const refused = await pair(throttled.url, { code });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ result: 'KO', errno: 143 });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const unused = await db.pool.query('SELECT 1 FROM pairing_codes WHERE user_id = $1 AND used_at IS NULL', [user.userId]);
    expect(unused.rowCount).toBe(1);
  });
});

describe('presence-daemon pair', () => {
  it('writes the token to an owner-only config, keeping its other settings, and --once then receives with it', async () => {
    const user = await makeDaemonUser(db);
    const home = await mkdtemp(path.join(os.tmpdir(), 'presence-pair-'));
    const configFile = path.join(home, 'presence', 'daemon.json');
    const env = { XDG_CONFIG_HOME: home };

    const first = await issueCode(node.url, user.token);
    const paired = await runDaemonProcess(['pair', first.code.toLowerCase(), '--server', node.url, '--name', 'desk'], env);
    expect(paired.stderr).toBe('');
    expect(paired.code).toBe(0);
    expect(paired.stdout).toContain('Paired: this device is "desk"');
    expect(paired.stdout).toContain(configFile);
    expect((await stat(configFile)).mode & 0o777).toBe(0o600);
    const written = JSON.parse(await readFile(configFile, 'utf8')) as { server: string; token: string };
    expect(written.server).toBe(node.url);
    expect((await authenticateDevice(db, written.token))?.userId).toBe(user.userId);

    const sent = await postNotifications(node.url, user.appid, user.key, [{ UID: user.uid, message: 'hello paired desk', action: 'https://chat.example/' }]);
    expect(sent.status).toBe(200);
    const once = await runDaemonProcess(['--once', '--json'], env);
    expect(once.code, once.stderr).toBe(0);
    expect(once.stdout).toContain('hello paired desk');

    // A token already there is kept unless --force; the refused run does not spend the code.
    await writeFile(configFile, JSON.stringify({ ...written, schemes: { chat: ['chat-app', '{action}'] } }), { mode: 0o644 });
    const second = await issueCode(node.url, user.token);
    const kept = await runDaemonProcess(['pair', second.code, '--server', node.url], env);
    expect(kept.code).toBe(1);
    expect(kept.stderr).toContain('already holds a device token: pass --force');
    expect(JSON.parse(await readFile(configFile, 'utf8'))).toMatchObject({ token: written.token });
    const forced = await runDaemonProcess(['pair', second.code, '--server', node.url, '--force'], env);
    expect(forced.code).toBe(0);
    const replaced = JSON.parse(await readFile(configFile, 'utf8')) as { token: string; schemes: unknown };
    expect(replaced.token).not.toBe(written.token);
    expect(replaced.schemes).toEqual({ chat: ['chat-app', '{action}'] });
    expect((await stat(configFile)).mode & 0o777).toBe(0o600);

    // A used code: a clear error, and the config stays as it was.
    const reused = await runDaemonProcess(['pair', second.code, '--server', node.url, '--force'], env);
    expect(reused.code).toBe(1);
    expect(reused.stderr).toMatch(/this pairing code was used already.*\(errno 141\)/);
    expect(JSON.parse(await readFile(configFile, 'utf8'))).toMatchObject({ token: replaced.token });
  });
});
