/** Devices: each daemon's identity, authenticated by its token. */
import { Coalescer } from '../platform/db/coalescer.ts';
import { perDatabase, type Database } from '../platform/db/client.ts';
import { AppError, Errno } from './errors.ts';
import { announceSql, DEVICE_REVOKED_SIGNAL } from '../platform/signals.ts';
import { digestSecret, digestsMatch, newSecret } from './secrets.ts';
import { prepared } from '../platform/db/prepared.ts';
import { checkIdArgument, checkName } from './operatorInput.ts';
import { isUuid, requireUser } from './users.ts';

/** Registers a device for a user and returns its token, which is shown this once. */
export async function createDevice(db: Database, input: { userId: string; name?: string }): Promise<{ deviceId: string; token: string }> {
  await requireUser(db, input.userId);
  const token = newSecret('dev');
  const device = await db.prisma.device.create({
    data: { userId: input.userId, name: checkName('device', input.name ?? 'device'), tokenDigest: digestSecret(token) },
    select: { id: true },
  });
  await db.pool.query(announceSql('devices'));
  return { deviceId: device.id, token };
}

export async function listDevices(db: Database, userId?: string) {
  // A malformed user id owns no device (and would be refused by the uuid column).
  if (userId && !isUuid(checkIdArgument('user id', userId))) return [];
  return db.prisma.device.findMany({
    where: userId ? { userId } : {},
    select: { id: true, userId: true, name: true, createdAt: true, lastSeenAt: true },
    orderBy: { createdAt: 'asc' },
  });
}

/** Deletes a device: its token stops working and every node closes its sockets. */
export async function revokeDevice(db: Database, deviceId: string): Promise<void> {
  if (!isUuid(checkIdArgument('device id', deviceId))) throw new AppError(Errno.NotFound, `no device "${deviceId}"`);
  const deleted = await db.prisma.$transaction(async (tx) => {
    const { count } = await tx.device.deleteMany({ where: { id: deviceId } });
    if (count > 0) {
      await tx.$executeRawUnsafe(`SELECT pg_notify('${DEVICE_REVOKED_SIGNAL}', $1)`, deviceId);
      await tx.$executeRawUnsafe(announceSql('devices'));
    }
    return count;
  });
  if (deleted === 0) throw new AppError(Errno.NotFound, `no device "${deviceId}"`);
}

/** A daemon's identity once its token checked out. */
export interface AuthenticatedDevice {
  deviceId: string;
  deviceName: string;
  userId: string;
}

/** Token checks in one query: at most this many (a reconnect storm presents thousands at once). */
const TOKENS_PER_QUERY = 1_000;

/** $1 token digests (hex): the devices they open. */
const DEVICES_BY_DIGEST = prepared(
  'devices-by-digest',
  `
  SELECT id::text, name, user_id::text, token_digest FROM devices
   WHERE token_digest IN (SELECT decode(d, 'hex') FROM unnest($1::text[]) AS d)`,
);

const tokenCheckerOf = perDatabase(
  (db) =>
    new Coalescer<Uint8Array, AuthenticatedDevice | null>(
      async (digests) => {
        const hex = digests.map((d) => Buffer.from(d).toString('hex'));
        const { rows } = await db.pool.query<{ id: string; name: string; user_id: string; token_digest: Buffer }>({ ...DEVICES_BY_DIGEST, values: [hex] });
        const byDigest = new Map(rows.map((r) => [r.token_digest.toString('hex'), r]));
        return digests.map((digest, i) => {
          const device = byDigest.get(hex[i] as string);
          const opens = device !== undefined && digestsMatch(digest, device.token_digest);
          return { ok: true, value: opens ? { deviceId: device.id, deviceName: device.name, userId: device.user_id } : null };
        });
      },
      { maxWeight: TOKENS_PER_QUERY },
    ),
);

/** The device this token opens, or null. Checks arriving together share one query. */
export async function authenticateDevice(db: Database, token: string): Promise<AuthenticatedDevice | null> {
  return tokenCheckerOf(db).submit(digestSecret(token));
}
