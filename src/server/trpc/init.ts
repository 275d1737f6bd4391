/**
 * The one tRPC instance: its context and the base procedures routers may
 * use. Domain errors (AppError) keep their errno in `error.data.errno`.
 */
import { initTRPC, TRPCError } from '@trpc/server';
import { ZodError } from 'zod';
import { isStorageUnavailable, type Database } from '../platform/db/client.ts';
import type { Doorbells } from '../channel/doorbell.ts';
import type { AuthenticatedDevice } from '../domain/devices.ts';
import type { Metrics } from '../platform/metrics.ts';
import { AppError, trpcCode } from '../domain/errors.ts';
import { operatorSessionValid } from '../domain/operators.ts';

/** Per-connection context. Built from plain inputs, so tests call procedures without a socket (tests/integration/procedures.test.ts). */
export interface Context {
  db: Database;
  doorbells: Doorbells;
  metrics: Metrics;
  /** The daemon's device, when the connection came with a valid device token. */
  device: AuthenticatedDevice | null;
  /** What the daemon procedures keep for this socket; set with `device`. */
  daemonSocket: DaemonSocketState | null;
  /** The operator session secret from the cookie of the upgrade request (checked on each call). */
  operatorSession: string | undefined;
}

/** Per daemon socket: its one `daemon.notifications` subscription, while it runs, and the dismissals it has yet to send. */
export interface DaemonSocketState {
  notifications: AbortSignal | null;
  /** Ids the user dismissed on another device, for the subscription's next `dismissed` event (the channel adds them and rings). */
  dismissed: string[];
  /** Tags an app took back, for the subscription's next `retracted` event (the channel adds them and rings). */
  retracted: { appid: string; tag: string }[];
  /** When this socket's current second of signalling calls began, and how many it made (see `withinSignallingRate`). */
  signallingSecond: number;
  signallingCalls: number;
}

const t = initTRPC.context<Context>().create({
  // tRPC would otherwise decide from NODE_ENV, which nothing sets for `npm start`;
  // the channel adds stacks in development (see trpcSocket.ts).
  isDev: false,
  errorFormatter({ shape, error }) {
    const errno = error.cause instanceof AppError ? error.cause.errno : undefined;
    // Input that fails its schema: one readable sentence instead of zod's JSON.
    const message = error.cause instanceof ZodError ? error.cause.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ') : shape.message;
    return { ...shape, message, data: { ...shape.data, ...(errno === undefined ? {} : { errno }) } };
  },
});

export const router = t.router;

/** A call's result, unless it failed with a domain refusal (thrown as a tRPC error with the matching code) or database trouble (SERVICE_UNAVAILABLE). */
function withDomainErrors<R extends { ok: true } | { ok: false; error: TRPCError }>(result: R): R {
  if (result.ok) return result;
  const cause = result.error.cause;
  if (cause instanceof AppError) throw new TRPCError({ code: trpcCode(cause.errno), message: cause.message, cause });
  if (isStorageUnavailable(cause)) throw new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: 'storage unavailable, retry later', cause });
  return result;
}

export const baseProcedure = t.procedure.use(async ({ next }) => withDomainErrors(await next()));

/**
 * For daemons: a connection without a device (the dashboard's) is refused
 * with UNAUTHORIZED. (A connection without valid credentials at all never
 * gets this far: the channel refuses and closes it.) One middleware, not a
 * second on top of baseProcedure's: every level of tRPC's chain copies the
 * call's options, and daemons make most of the calls (an ack per delivery).
 */
export const deviceProcedure = t.procedure.use(async ({ ctx, next }) => {
  if (!ctx.device || !ctx.daemonSocket) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'this connection has no device token' });
  // Merged into the context by tRPC: only what changes (its type) is passed.
  return withDomainErrors(await next({ ctx: { device: ctx.device, daemonSocket: ctx.daemonSocket } }));
});

/** For the dashboard: refuses a connection without a live operator session. */
export const operatorProcedure = baseProcedure.use(async ({ ctx, next }) => {
  if (!(await operatorSessionValid(ctx.db, ctx.operatorSession))) {
    throw new TRPCError({ code: 'UNAUTHORIZED', message: 'sign in at /admin/login' });
  }
  return next();
});
