/**
 * UIDs: the id one app knows one user by, and the queue that goes with it.
 */
import type { Database } from '../platform/db/client.ts';
import { AppError, Errno } from './errors.ts';
import { announceSql } from '../platform/signals.ts';
import { checkIdArgument } from './operatorInput.ts';
import { lockQueues } from './queues.ts';
import { newUid, uidPattern } from './secrets.ts';
import { isUuid, requireUser } from './users.ts';

/**
 * Gives `appid` a UID for `userId` and creates its queue; granting again
 * while the UID is active returns the same UID.
 */
export async function grantUid(db: Database, input: { appid: string; userId: string }): Promise<{ uid: string }> {
  checkIdArgument('appid', input.appid);
  await requireUser(db, input.userId);
  const app = await db.prisma.app.findUnique({ where: { id: input.appid }, select: { id: true } });
  if (!app) throw new AppError(Errno.NotFound, `no app "${input.appid}"`);
  return db.prisma.$transaction(async (tx) => {
    const uid = newUid();
    // ON CONFLICT keeps two concurrent grants from issuing two UIDs.
    await tx.$executeRawUnsafe(
      `INSERT INTO uids (uid, app_id, user_id) VALUES ($1, $2, $3::uuid) ON CONFLICT (app_id, user_id) DO NOTHING`,
      uid,
      input.appid,
      input.userId,
    );
    const granted = await tx.uid.findUniqueOrThrow({ where: { appId_userId: { appId: input.appid, userId: input.userId } }, select: { uid: true } });
    if (granted.uid === uid) {
      await tx.queue.create({ data: { uid, appId: input.appid } });
      await tx.$executeRawUnsafe(announceSql('queues'));
    }
    return { uid: granted.uid };
  });
}

/**
 * Revokes a UID and deletes its queue; a later grant issues a new UID. With
 * `owner.userId` (a user revoking on their device page) only a UID of that
 * user is revoked: another user's is "no UID", as an unknown one is.
 */
export async function revokeUid(db: Database, uid: string, owner: { userId?: string } = {}): Promise<void> {
  if (!uidPattern.test(checkIdArgument('UID', uid))) throw new AppError(Errno.NotFound, `no UID "${uid}"`);
  await db.prisma.$transaction(async (tx) => {
    // Through the queue lock, so a push in flight finishes (or waits) first.
    await lockQueues(tx, [uid]);
    const deleted = await tx.uid.deleteMany({ where: { uid, ...(owner.userId === undefined ? {} : { userId: owner.userId }) } });
    if (deleted.count === 0) throw new AppError(Errno.NotFound, `no UID "${uid}"`);
    await tx.$executeRawUnsafe(announceSql('queues'));
  });
}

export async function listUids(db: Database, filter: { appid?: string; userId?: string } = {}) {
  if (filter.appid) checkIdArgument('appid', filter.appid);
  // A malformed user id holds no UID (and would be refused by the uuid column).
  if (filter.userId && !isUuid(checkIdArgument('user id', filter.userId))) return [];
  return db.prisma.uid.findMany({
    where: { ...(filter.appid ? { appId: filter.appid } : {}), ...(filter.userId ? { userId: filter.userId } : {}) },
    select: { uid: true, appId: true, userId: true, grantedAt: true, queue: { select: { size: true } } },
    orderBy: { grantedAt: 'asc' },
  });
}

/** What a user sees of one of their grants: the app (its id and display name) and since when it may notify them. */
export interface UserGrant {
  uid: string;
  appid: string;
  appName: string;
  grantedAt: string;
}

/** The apps that can notify `userId` (their active UIDs), oldest grant first. */
export async function listUserGrants(db: Database, userId: string): Promise<UserGrant[]> {
  const grants = await db.prisma.uid.findMany({
    where: { userId },
    select: { uid: true, appId: true, grantedAt: true, app: { select: { name: true } } },
    orderBy: [{ grantedAt: 'asc' }, { appId: 'asc' }],
  });
  return grants.map((grant) => ({ uid: grant.uid, appid: grant.appId, appName: grant.app.name, grantedAt: grant.grantedAt.toISOString() }));
}
