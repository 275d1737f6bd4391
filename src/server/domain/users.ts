/** Users: the people whose devices run the daemon. */
import type { Database } from '../platform/db/client.ts';
import { AppError, Errno } from './errors.ts';
import { checkIdArgument, checkName } from './operatorInput.ts';

export async function createUser(db: Database, input: { name: string }): Promise<{ userId: string }> {
  const user = await db.prisma.user.create({ data: { name: checkName('user', input.name) }, select: { id: true } });
  return { userId: user.id };
}

export async function listUsers(db: Database) {
  return db.prisma.user.findMany({
    select: { id: true, name: true, createdAt: true, _count: { select: { devices: true, uids: true } } },
    orderBy: { createdAt: 'asc' },
  });
}

const uuidSyntax = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True if `id` has the form of a user or device id (a uuid); the database refuses any other in a uuid column. */
export function isUuid(id: string): boolean {
  return uuidSyntax.test(id);
}

/** Throws 304 unless `userId` names a user (a malformed id names none), 300 if it is not printable text. */
export async function requireUser(db: Database, userId: string): Promise<void> {
  checkIdArgument('user id', userId);
  const user = uuidSyntax.test(userId) ? await db.prisma.user.findUnique({ where: { id: userId }, select: { id: true } }) : null;
  if (!user) throw new AppError(Errno.NotFound, `no user "${userId}"`);
}
