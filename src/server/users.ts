/** Users: the people whose devices run the daemon. */
import type { Database } from './db/client.ts';
import { AppError, Errno } from './errors.ts';

export function checkName(kind: string, name: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0 || trimmed.length > 100) throw new AppError(Errno.InvalidArgument, `${kind} name must be 1 to 100 characters`);
  return trimmed;
}

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

/** Throws 304 unless `userId` names a user (a malformed id names none). */
export async function requireUser(db: Database, userId: string): Promise<void> {
  const user = uuidSyntax.test(userId) ? await db.prisma.user.findUnique({ where: { id: userId }, select: { id: true } }) : null;
  if (!user) throw new AppError(Errno.NotFound, `no user "${userId}"`);
}
