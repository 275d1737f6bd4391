/**
 * The operator CLI (`presence … --json`) as real child processes against the
 * test database (DATABASE_URL): what it creates works through the REST route,
 * and its errors have the documented errnos and exit codes.
 */
import { randomUUID } from 'node:crypto';
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest';
import type { PresenceNode } from '../../src/server/server.ts';
import { runCli, type CliResult } from '../support/cli.ts';
import { makeApp, makeUser, testDatabase, uniqueAppid } from '../support/factories.ts';
import { postNotifications, startTestNode } from '../support/node.ts';

const TIMEOUT = 120_000;

let node: PresenceNode;
const db = testDatabase();

beforeAll(async () => {
  node = await startTestNode();
});

afterAll(async () => {
  await node?.close();
  await db.close();
});

function presence(...args: string[]): Promise<CliResult> {
  return runCli(args, { DATABASE_URL: inject('databaseUrl') });
}

/** Runs a command that must succeed and parses its JSON output. */
async function presenceJson<T = Record<string, any>>(...args: string[]): Promise<T> {
  const result = await presence(...args, '--json');
  expect(result.code, `presence ${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`).toBe(0);
  return JSON.parse(result.stdout) as T;
}

/** Runs a command that must be refused and parses its `--json` refusal. */
async function presenceRefusal(...args: string[]): Promise<{ code: number | null; body: Record<string, any> }> {
  const result = await presence(...args, '--json');
  return { code: result.code, body: JSON.parse(result.stdout) as Record<string, any> };
}

describe('presence CLI', () => {
  it(
    'creates an app, a user, a device and a UID that the REST route accepts',
    async () => {
      const appid = uniqueAppid('cli');
      const app = await presenceJson('app', 'create', appid, '--name', 'CLI chat', '--scheme', 'chat');
      expect(app).toEqual({ appid, key: expect.stringMatching(/^prs_app_[A-Za-z0-9_-]{43}$/) });

      const user = await presenceJson('user', 'create', 'Ada Lovelace');
      expect(user).toEqual({ userId: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/) });

      const device = await presenceJson('device', 'create', user.userId, '--name', 'laptop');
      expect(device).toEqual({
        deviceId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        token: expect.stringMatching(/^prs_dev_[A-Za-z0-9_-]{43}$/),
      });

      const grant = await presenceJson('uid', 'grant', appid, user.userId);
      expect(grant).toEqual({ uid: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/) });
      expect(await presenceJson('uid', 'grant', appid, user.userId)).toEqual(grant);

      const queues = await presenceJson<Record<string, any>[]>('queues');
      expect(queues.filter((q) => q.uid === grant.uid)).toEqual([{ uid: grant.uid, appId: appid, userId: user.userId, userName: 'Ada Lovelace', size: 0 }]);

      // The key printed is the real one, and the scheme registered is honoured.
      const ack = await postNotifications(node.url, appid, app.key, [
        { UID: grant.uid, message: 'your nick was used', action: 'https://chat.example/#general' },
        { UID: grant.uid, message: 'join room 42', action: 'chat://room/42' },
      ]);
      expect(ack.body).toEqual({ result: 'OK', queue_size: 2, queue_sizes: { [grant.uid]: 2 } });
      const after = await presenceJson<Record<string, any>[]>('queues');
      expect(after.find((q) => q.uid === grant.uid)?.size).toBe(2);

      // Revoking deletes the UID and its queue; a new grant is a new UID with an empty queue.
      expect(await presenceJson('uid', 'revoke', grant.uid)).toEqual({ revoked: grant.uid });
      const regrant = await presenceJson('uid', 'grant', appid, user.userId);
      expect(regrant.uid).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(regrant.uid).not.toBe(grant.uid);
      const uids = await presenceJson<Record<string, any>[]>('uid', 'list', '--app', appid);
      expect(uids).toEqual([{ uid: regrant.uid, appid, userId: user.userId, queueSize: 0 }]);

      const revoked = await postNotifications(node.url, appid, app.key, { UID: grant.uid, message: 'hi', action: 'https://example.com/' });
      expect(revoked.status).toBe(404);
      expect(revoked.body).toMatchObject({ result: 'KO', errno: 105 });
      const fresh = await postNotifications(node.url, appid, app.key, { UID: regrant.uid, message: 'hi', action: 'https://example.com/' });
      expect(fresh.body).toEqual({ result: 'OK', queue_size: 1, queue_sizes: { [regrant.uid]: 1 } });
    },
    TIMEOUT,
  );

  it(
    'takes a UID that begins with a dash (one in 64 does) as the UID, not as an option',
    async () => {
      const app = await makeApp(db);
      const { userId } = await makeUser(db);
      const uid = `-${'Q'.repeat(21)}`;
      await db.prisma.uid.create({ data: { uid, appId: app.appid, userId } });
      expect(await presenceJson('uid', 'list', '--app', app.appid)).toEqual([expect.objectContaining({ uid })]);
      expect(await presenceJson('uid', 'revoke', uid)).toBeDefined();
      expect(await db.prisma.uid.count({ where: { uid } })).toBe(0);
    },
    TIMEOUT,
  );

  it(
    'refuses a reserved appid with errno 300 and exit code 1',
    async () => {
      const refused = await presenceRefusal('app', 'create', 'admin');
      expect(refused.code).toBe(1);
      expect(refused.body).toEqual({ result: 'KO', errno: 300, error: expect.stringContaining('reserved') });
    },
    TIMEOUT,
  );

  it(
    'refuses a malformed appid and a forbidden scheme with errno 300',
    async () => {
      const [malformed, scheme] = await Promise.all([
        presenceRefusal('app', 'create', 'Not_A_Slug'),
        presenceRefusal('app', 'create', uniqueAppid('cli'), '--scheme', 'javascript'),
      ]);
      expect(malformed).toEqual({ code: 1, body: { result: 'KO', errno: 300, error: expect.any(String) } });
      expect(scheme).toEqual({ code: 1, body: { result: 'KO', errno: 300, error: expect.stringContaining('javascript') } });
    },
    TIMEOUT,
  );

  it(
    'refuses an appid that is taken with errno 309, and keeps the first key',
    async () => {
      const appid = uniqueAppid('cli');
      const app = await presenceJson('app', 'create', appid);
      const again = await presenceRefusal('app', 'create', appid);
      expect(again.code).toBe(1);
      expect(again.body).toEqual({ result: 'KO', errno: 309, error: expect.stringContaining(appid) });
      // The first key still authenticates (a 105 for an unknown UID, not a 111).
      const res = await postNotifications(node.url, appid, app.key, { UID: 'A'.repeat(22), message: 'hi', action: 'https://example.com/' });
      expect(res.body).toMatchObject({ result: 'KO', errno: 105 });
    },
    TIMEOUT,
  );

  it(
    'answers 304 for an unknown user, app or UID',
    async () => {
      const appid = uniqueAppid('cli');
      await presenceJson('app', 'create', appid);
      const user = await presenceJson('user', 'create', 'Grace Hopper');
      const results = await Promise.all([
        presenceRefusal('device', 'create', randomUUID()),
        presenceRefusal('device', 'create', 'not-a-uuid'),
        presenceRefusal('uid', 'grant', appid, randomUUID()),
        presenceRefusal('uid', 'grant', uniqueAppid('missing'), user.userId),
        presenceRefusal('uid', 'revoke', 'B'.repeat(22)),
      ]);
      for (const result of results) {
        expect(result).toEqual({ code: 1, body: { result: 'KO', errno: 304, error: expect.any(String) } });
      }
    },
    TIMEOUT,
  );

  it(
    'refuses control characters in names and ids with errno 300, and lists nothing for a malformed user id instead of a database error',
    async () => {
      const appid = uniqueAppid('cli');
      const [userName, appName, revokeDevice, revokeUid, grant] = await Promise.all([
        presenceRefusal('user', 'create', 'Ada\u001b]0;owned\u0007'),
        presenceRefusal('app', 'create', appid, '--name', 'clear \u001b[2J screen'),
        presenceRefusal('device', 'revoke', 'dev\u001bice'),
        presenceRefusal('uid', 'revoke', 'uid\u0085'),
        presenceRefusal('uid', 'grant', 'app\u202e', randomUUID()),
      ]);
      for (const refused of [userName, appName, revokeDevice, revokeUid, grant]) {
        expect(refused).toEqual({ code: 1, body: { result: 'KO', errno: 300, error: expect.stringContaining('control characters') } });
      }
      const [devices, uids] = await Promise.all([presenceJson('device', 'list', '--user', 'not-a-uuid'), presenceJson('uid', 'list', '--user', 'not-a-uuid')]);
      expect(devices).toEqual([]);
      expect(uids).toEqual([]);
    },
    TIMEOUT,
  );

  it(
    'refuses to register schemes whose handlers run local code (ms-msdt, search-ms, intent, …) with errno 300, naming each',
    async () => {
      const refused = await presenceRefusal(
        'app',
        'create',
        uniqueAppid('cli'),
        '--scheme',
        'chat',
        '--scheme',
        'ms-msdt',
        '--scheme',
        'search-ms:',
        '--scheme',
        'intent',
        '--scheme',
        'view-source',
      );
      expect(refused).toEqual({
        code: 1,
        body: { result: 'KO', errno: 300, error: expect.stringContaining('scheme not allowed: ms-msdt, search-ms, intent, view-source') },
      });
    },
    TIMEOUT,
  );

  it(
    'exits 2 on bad usage, before touching the database',
    async () => {
      // No database at all: usage errors must not need one.
      const noDatabase = { DATABASE_URL: 'postgresql://nobody:wrong@127.0.0.1:1/none' };
      const results = await Promise.all([
        runCli(['app', 'create', '--json'], noDatabase), // missing <appid>
        runCli(['uid', 'grant', 'only-one-argument'], noDatabase),
        runCli(['app', 'create', 'x', 'extra'], noDatabase),
        runCli(['user', 'list', '--bogus'], noDatabase),
        runCli(['frobnicate'], noDatabase),
      ]);
      for (const result of results) {
        expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(2);
      }
      expect(results[0]?.stderr).toContain('usage: presence app create <appid>');
      expect(results[3]?.stderr).toContain('usage: presence user list');
      expect(results[4]?.stdout).toContain('Usage: presence <command>');
    },
    TIMEOUT,
  );

  it(
    'prints readable output without --json',
    async () => {
      const appid = uniqueAppid('cli');
      const created = await presence('app', 'create', appid, '--scheme', 'chat');
      expect(created.code).toBe(0);
      expect(created.stdout).toMatch(new RegExp(`^appid: ${appid}\\nkey: prs_app_[A-Za-z0-9_-]{43}\\n$`));
      const list = await presence('app', 'list');
      expect(list.code).toBe(0);
      expect(list.stdout.split('\n')[0]).toMatch(/^appid +name +schemes +redirectUris +uids$/);
      expect(list.stdout).toMatch(new RegExp(`^${appid} +${appid} +chat +0$`, 'm'));
      const refused = await presence('app', 'create', 'admin');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('presence: appid "admin" is reserved');
    },
    TIMEOUT,
  );
});
