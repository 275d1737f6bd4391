/**
 * The embedded default's demo data: an app, a user with a device, and a UID,
 * created once; their secrets are kept in an owner-only file in the data
 * folder, the only place a plaintext key or token is ever written.
 */
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createApp, rotateAppKey } from './domain/apps.ts';
import type { Database } from './platform/db/client.ts';
import { createDevice } from './domain/devices.ts';
import { grantUid } from './domain/uids.ts';
import { createUser } from './domain/users.ts';

const DEMO_APPID = 'demo';

export interface DemoCredentials {
  appid: string;
  key: string;
  userId: string;
  deviceId: string;
  deviceToken: string;
  uid: string;
}

export function demoCredentialsPath(dataDir: string): string {
  return path.join(dataDir, 'demo-credentials.json');
}

async function readCredentials(file: string): Promise<DemoCredentials | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as DemoCredentials;
  } catch {
    return null;
  }
}

async function writeCredentials(file: string, credentials: DemoCredentials): Promise<void> {
  await writeFile(file, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  await chmod(file, 0o600); // writeFile's mode applies only to a new file
}

/**
 * Seeds the demo data on first start and returns its credentials. If the
 * credentials file was lost, issues the demo app a new key and the demo user a
 * new device, since the old secrets cannot be recovered from their digests.
 */
export async function ensureDemoData(db: Database, dataDir: string): Promise<DemoCredentials> {
  const file = demoCredentialsPath(dataDir);
  const existingApp = await db.prisma.app.findUnique({ where: { id: DEMO_APPID }, select: { id: true } });
  const saved = await readCredentials(file);
  if (existingApp && saved) return saved;

  let credentials: DemoCredentials;
  if (!existingApp) {
    const { key } = await createApp(db, { appid: DEMO_APPID, name: 'Demo app', schemes: ['demo'] });
    const { userId } = await createUser(db, { name: 'Demo user' });
    const { deviceId, token } = await createDevice(db, { userId, name: 'Demo device' });
    const { uid } = await grantUid(db, { appid: DEMO_APPID, userId });
    credentials = { appid: DEMO_APPID, key, userId, deviceId, deviceToken: token, uid };
  } else {
    const { key } = await rotateAppKey(db, DEMO_APPID);
    const grant = await db.prisma.uid.findFirstOrThrow({ where: { appId: DEMO_APPID }, select: { userId: true } });
    const { deviceId, token } = await createDevice(db, { userId: grant.userId, name: 'Demo device' });
    const { uid } = await grantUid(db, { appid: DEMO_APPID, userId: grant.userId });
    credentials = { appid: DEMO_APPID, key, userId: grant.userId, deviceId, deviceToken: token, uid };
  }
  await writeCredentials(file, credentials);
  return credentials;
}
