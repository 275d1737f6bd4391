/** Devices: each daemon's identity, authenticated by its token. */
import type { Database } from './db/client.ts';
import { AppError, Errno } from './errors.ts';
import { digestSecret, newSecret } from './secrets.ts';
import { checkName, requireUser } from './users.ts';

/** Registers a device for a user and returns its token, which is shown this once. */
export async function createDevice(db: Database, input: { userId: string; name?: string }): Promise<{ deviceId: string; token: string }> {
  await requireUser(db, input.userId);
  const token = newSecret('dev');
  const device = await db.prisma.device.create({
    data: { userId: input.userId, name: checkName('device', input.name ?? 'device'), tokenDigest: digestSecret(token) },
    select: { id: true },
  });
  return { deviceId: device.id, token };
}

export async function listDevices(db: Database, userId?: string) {
  return db.prisma.device.findMany({
    where: userId ? { userId } : {},
    select: { id: true, userId: true, name: true, createdAt: true, lastSeenAt: true },
    orderBy: { createdAt: 'asc' },
  });
}

/** Deletes a device: its token stops working. */
export async function revokeDevice(db: Database, deviceId: string): Promise<void> {
  const deleted = await db.prisma.device.deleteMany({ where: { id: deviceId } }).catch(() => ({ count: 0 }));
  if (deleted.count === 0) throw new AppError(Errno.NotFound, `no device "${deviceId}"`);
}
