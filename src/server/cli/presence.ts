/**
 * `presence`: the operator CLI. Each command parses its arguments, calls one
 * domain function (the same ones the dashboard uses) and prints the result,
 * as JSON with --json. The database follows the server's rule: DATABASE_URL,
 * else the embedded PostgreSQL of PRESENCE_DATA_DIR.
 */
import { parseArgs } from 'node:util';
import { createApp, listApps, rotateAppKey, setAppRedirectUris } from '../domain/apps.ts';
import { loadConfig } from '../platform/config.ts';
import { openDatabase } from '../platform/db/open.ts';
import type { Database } from '../platform/db/client.ts';
import { createDevice, listDevices, revokeDevice } from '../domain/devices.ts';
import { AppError } from '../domain/errors.ts';
import { listQueues } from '../domain/queues.ts';
import { grantUid, listUids, revokeUid } from '../domain/uids.ts';
import { createUser, listUsers } from '../domain/users.ts';

interface Command {
  usage: string;
  /** Options besides --json. */
  options?: Record<string, { type: 'string'; multiple?: boolean }>;
  positionals: number;
  run(db: Database, args: string[], options: Record<string, string | string[] | undefined>): Promise<unknown>;
}

const commands: Record<string, Command> = {
  'app create': {
    usage: 'app create <appid> [--name NAME] [--scheme SCHEME]... [--redirect-uri URL]...',
    options: { name: { type: 'string' }, scheme: { type: 'string', multiple: true }, 'redirect-uri': { type: 'string', multiple: true } },
    positionals: 1,
    run: (db, [appid], o) =>
      createApp(db, {
        appid: appid as string,
        name: o.name as string | undefined,
        schemes: (o.scheme as string[] | undefined) ?? [],
        redirectUris: (o['redirect-uri'] as string[] | undefined) ?? [],
      }),
  },
  'app redirect-uris': {
    // The list given replaces the app's; none clears it (the grant page then refuses every redirect).
    usage: 'app redirect-uris <appid> [--redirect-uri URL]...',
    options: { 'redirect-uri': { type: 'string', multiple: true } },
    positionals: 1,
    run: (db, [appid], o) => setAppRedirectUris(db, appid as string, (o['redirect-uri'] as string[] | undefined) ?? []),
  },
  'app rotate-key': { usage: 'app rotate-key <appid>', positionals: 1, run: (db, [appid]) => rotateAppKey(db, appid as string) },
  'app list': {
    usage: 'app list',
    positionals: 0,
    run: async (db) => (await listApps(db)).map((a) => ({ appid: a.id, name: a.name, schemes: a.schemes, redirectUris: a.redirectUris, uids: a._count.uids })),
  },
  'user create': { usage: 'user create <name>', positionals: 1, run: (db, [name]) => createUser(db, { name: name as string }) },
  'user list': {
    usage: 'user list',
    positionals: 0,
    run: async (db) => (await listUsers(db)).map((u) => ({ userId: u.id, name: u.name, devices: u._count.devices, uids: u._count.uids })),
  },
  'device create': {
    usage: 'device create <userId> [--name NAME]',
    options: { name: { type: 'string' } },
    positionals: 1,
    run: (db, [userId], o) => createDevice(db, { userId: userId as string, name: o.name as string | undefined }),
  },
  'device list': {
    usage: 'device list [--user USERID]',
    options: { user: { type: 'string' } },
    positionals: 0,
    run: async (db, _args, o) =>
      (await listDevices(db, o.user as string | undefined)).map((d) => ({ deviceId: d.id, userId: d.userId, name: d.name, lastSeenAt: d.lastSeenAt })),
  },
  'device revoke': {
    usage: 'device revoke <deviceId>',
    positionals: 1,
    run: async (db, [deviceId]) => {
      await revokeDevice(db, deviceId as string);
      return { revoked: deviceId };
    },
  },
  'uid grant': {
    usage: 'uid grant <appid> <userId>',
    positionals: 2,
    run: (db, [appid, userId]) => grantUid(db, { appid: appid as string, userId: userId as string }),
  },
  'uid revoke': {
    usage: 'uid revoke <uid>',
    positionals: 1,
    run: async (db, [uid]) => {
      await revokeUid(db, uid as string);
      return { revoked: uid };
    },
  },
  'uid list': {
    usage: 'uid list [--app APPID] [--user USERID]',
    options: { app: { type: 'string' }, user: { type: 'string' } },
    positionals: 0,
    run: async (db, _args, o) =>
      (await listUids(db, { appid: o.app as string | undefined, userId: o.user as string | undefined })).map((u) => ({
        uid: u.uid,
        appid: u.appId,
        userId: u.userId,
        queueSize: u.queue?.size ?? 0,
      })),
  },
  queues: { usage: 'queues', positionals: 0, run: (db) => listQueues(db) },
};

function helpText(): string {
  return ['Usage: presence <command> [--json]', '', 'Commands:', ...Object.values(commands).map((c) => `  presence ${c.usage}`)].join('\n');
}

/** Plain-text rendering: a table for lists, `key: value` lines for one result. */
function formatHuman(result: unknown): string {
  if (Array.isArray(result)) {
    if (result.length === 0) return '(none)';
    const rows = result as Record<string, unknown>[];
    const columns = Object.keys(rows[0] as object);
    const cell = (v: unknown) => (v instanceof Date ? v.toISOString() : Array.isArray(v) ? v.join(',') : v === null || v === undefined ? '-' : String(v));
    const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
    const line = (values: string[]) =>
      values
        .map((v, i) => v.padEnd(widths[i] as number))
        .join('  ')
        .trimEnd();
    return [line(columns), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join('\n');
  }
  return Object.entries(result as Record<string, unknown>)
    .map(([k, v]) => `${k}: ${String(v)}`)
    .join('\n');
}

async function main(argv: string[]): Promise<number> {
  const words = argv.filter((a) => !a.startsWith('-'));
  const name = [`${words[0]} ${words[1]}`, words[0]].find((n) => n !== undefined && n in commands);
  if (!name || argv.includes('--help') || argv.includes('-h')) {
    console.log(helpText());
    return name || argv.length === 0 || argv.includes('--help') || argv.includes('-h') ? 0 : 2;
  }
  const command = commands[name] as Command;
  const skip = name.split(' ').length;
  // A UID is base64url and may begin with "-". No command has short options, so "-x…" (two letters or more) is a
  // value, not a flag: hide it from parseArgs behind a placeholder that cannot be typed, then put it back.
  const dashed = new Map<string, string>();
  const hidden = argv.map((arg, i) => {
    if (!/^-[^-]./.test(arg)) return arg;
    dashed.set(`\0${i}`, arg);
    return `\0${i}`;
  });
  let parsed;
  try {
    parsed = parseArgs({ args: hidden, options: { json: { type: 'boolean' }, ...command.options }, allowPositionals: true, strict: true });
  } catch (error) {
    console.error(`${(error as Error).message}\nusage: presence ${command.usage}`);
    return 2;
  }
  const args = parsed.positionals.slice(skip).map((arg) => dashed.get(arg) ?? arg);
  if (args.length !== command.positionals) {
    console.error(`usage: presence ${command.usage}`);
    return 2;
  }
  const json = parsed.values.json === true;
  const opened = await openDatabase(loadConfig(), { attach: true, log: (line) => console.error(line) });
  try {
    const values = parsed.values as Record<string, string | string[] | boolean | undefined>;
    const options = Object.fromEntries(
      Object.entries(values).map(([key, value]) => [
        key,
        Array.isArray(value) ? value.map((v) => dashed.get(v) ?? v) : typeof value === 'string' ? (dashed.get(value) ?? value) : value,
      ]),
    ) as Record<string, string | string[] | undefined>;
    const result = await command.run(opened.db, args, options);
    console.log(json ? JSON.stringify(result, null, 2) : formatHuman(result));
    return 0;
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    if (json) console.log(JSON.stringify(error.toBody()));
    else console.error(`presence: ${error.message}`);
    return 1;
  } finally {
    await opened.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`presence: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
