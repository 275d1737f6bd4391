/**
 * The dashboard's API. Every procedure needs an operator session; each calls
 * the same domain functions as the CLI. The `watch` subscriptions send their
 * data at once and again whenever it changes, on whichever node.
 */
import { TRPCError } from '@trpc/server';
import { z, ZodError } from 'zod';
import { MAX_NAME_CODE_POINTS, MAX_REDIRECT_URI_LENGTH, MAX_REDIRECT_URIS_PER_APP, MAX_SCHEME_LENGTH } from '../../../shared/limits.ts';
import { acksPerMinute, logRefusal, recentAcks } from '../../domain/ackLog.ts';
import { createApp, getApp, listApps, rotateAppKey, setAppRedirectUris } from '../../domain/apps.ts';
import { HEARTBEAT_INTERVAL_MS, onlineDevices } from '../../domain/delivery/onlineRows.ts';
import { topicKey } from '../../channel/doorbell.ts';
import type { ActivityTopic } from '../../platform/signals.ts';
import { createDevice, listDevices, revokeDevice } from '../../domain/devices.ts';
import { AppError, Errno, type KoBody } from '../../domain/errors.ts';
import type { Ack } from '../../domain/notifications/push.ts';
import { sendNotifications } from '../../domain/notifications/send.ts';
import { listQueueItems, listQueues, purgeQueue } from '../../domain/queues.ts';
import { isOperatorText } from '../../domain/operatorInput.ts';
import { operatorSessionValid } from '../../domain/operators.ts';
import { operatorProcedure as signedInProcedure, router } from '../init.ts';
import type { Context } from '../init.ts';
import { grantUid, listUids, revokeUid } from '../../domain/uids.ts';
import { createUser, listUsers } from '../../domain/users.ts';

/** Redirect URIs as sent: bounded in size here, judged by the domain (errno 300 saying which and why). */
const redirectUrisInput = z
  .array(z.string().max(MAX_REDIRECT_URI_LENGTH * 4))
  .max(MAX_REDIRECT_URIS_PER_APP * 4)
  .default([]);

/** Changes that come in a burst are sent once per this interval at most. */
const COALESCE_MS = 200;

/** A watch looks again at least this often, if only to see that its session still holds. */
const SESSION_RECHECK_MS = 30_000;

/**
 * Yields `load()` now and after every change announced on `topic`, and at
 * least every `refreshMs` (for state that goes stale by itself, and to notice
 * an expired session). Ends with UNAUTHORIZED once the session is gone.
 */
async function* watch<T>(
  ctx: Context,
  topic: ActivityTopic,
  load: () => Promise<T>,
  signal: AbortSignal | undefined,
  refreshMs = SESSION_RECHECK_MS,
): AsyncGenerator<T> {
  const doorbell = ctx.doorbells.add(topicKey(topic));
  const stop = signal ?? new AbortController().signal;
  const refresh = setInterval(() => doorbell.ring(), Math.min(refreshMs, SESSION_RECHECK_MS));
  try {
    yield await load();
    while (!stop.aborted) {
      await doorbell.wait(stop);
      if (stop.aborted) break;
      await new Promise((resolve) => setTimeout(resolve, COALESCE_MS));
      if (!(await operatorSessionValid(ctx.db, ctx.operatorSession))) {
        throw new TRPCError({ code: 'UNAUTHORIZED', message: 'the operator session ended; sign in again' });
      }
      yield await load();
    }
  } finally {
    clearInterval(refresh);
    ctx.doorbells.remove(doorbell);
  }
}

/**
 * The admin API's base: input that fails its schema is an invalid argument
 * (errno 300), like the same input refused by the domain functions.
 */
const operatorProcedure = signedInProcedure.use(async ({ next }) => {
  const result = await next();
  if (result.ok || !(result.error.cause instanceof ZodError)) return result;
  const message = result.error.cause.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ');
  throw new TRPCError({ code: 'BAD_REQUEST', message, cause: new AppError(Errno.InvalidArgument, message) });
});

const text = z.string().refine(isOperatorText, 'must be printable text');
const appid = text.min(1).max(40);
const uid = text.min(1).max(64);
// A user or device id; one of the wrong form names nothing (304), as in the CLI.
const uuid = text.min(1).max(100);

export const adminRouter = router({
  queues: router({
    watch: operatorProcedure.subscription(({ ctx, signal }) => watch(ctx, 'queues', () => listQueues(ctx.db), signal)),
    items: operatorProcedure.input(z.object({ uid })).query(({ ctx, input }) => listQueueItems(ctx.db, input.uid)),
    purge: operatorProcedure.input(z.object({ uid })).mutation(async ({ ctx, input }) => ({ removed: await purgeQueue(ctx.db, input.uid) })),
  }),

  acks: router({
    watch: operatorProcedure.subscription(({ ctx, signal }) =>
      watch(ctx, 'acks', async () => ({ entries: await recentAcks(ctx.db, 100), perMinute: await acksPerMinute(ctx.db, 30) }), signal),
    ),
  }),

  /** Sends like the REST route does (same validation, transaction and ack log), without the app key. */
  testSend: operatorProcedure
    .input(z.object({ appid, uid: z.string().max(64), message: z.string().max(10_000), action: z.string().max(10_000), tag: z.string().max(100).optional() }))
    .mutation(async ({ ctx, input }): Promise<Ack | KoBody> => {
      const app = await getApp(ctx.db, input.appid);
      const { uid: UID, message, action, tag } = input;
      try {
        // The tag is checked where the REST route checks it (validate.ts), so a bad one is refused next to its field.
        return (await sendNotifications(ctx.db, app, [{ UID, message, action, ...(tag === undefined ? {} : { tag }) }])).ack;
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        await logRefusal(ctx.db, app.id, error, 1);
        return error.toBody();
      }
    }),

  apps: router({
    list: operatorProcedure.query(async ({ ctx }) =>
      (await listApps(ctx.db)).map((a) => ({
        appid: a.id,
        name: a.name,
        schemes: a.schemes,
        redirectUris: a.redirectUris,
        createdAt: a.createdAt.toISOString(),
        uids: a._count.uids,
      })),
    ),
    create: operatorProcedure
      .input(
        z.object({
          appid,
          name: z.string().max(MAX_NAME_CODE_POINTS).optional(),
          schemes: z.array(z.string().max(MAX_SCHEME_LENGTH)).max(20).default([]),
          redirectUris: redirectUrisInput,
        }),
      )
      .mutation(({ ctx, input }) => createApp(ctx.db, input)),
    /** Replaces the app's redirect URIs (the rule is the CLI's: src/shared/redirectUri.ts). */
    setRedirectUris: operatorProcedure
      .input(z.object({ appid, redirectUris: redirectUrisInput }))
      .mutation(({ ctx, input }) => setAppRedirectUris(ctx.db, input.appid, input.redirectUris)),
    rotateKey: operatorProcedure.input(z.object({ appid })).mutation(({ ctx, input }) => rotateAppKey(ctx.db, input.appid)),
  }),

  users: router({
    list: operatorProcedure.query(async ({ ctx }) =>
      (await listUsers(ctx.db)).map((u) => ({
        userId: u.id,
        name: u.name,
        createdAt: u.createdAt.toISOString(),
        devices: u._count.devices,
        uids: u._count.uids,
      })),
    ),
    create: operatorProcedure.input(z.object({ name: z.string().max(MAX_NAME_CODE_POINTS) })).mutation(({ ctx, input }) => createUser(ctx.db, input)),
  }),

  devices: router({
    /** Devices with their online state, which also changes when a heartbeat goes stale. */
    watch: operatorProcedure.subscription(({ ctx, signal }) =>
      watch(
        ctx,
        'devices',
        async () => {
          const [devices, online] = await Promise.all([listDevices(ctx.db), onlineDevices(ctx.db)]);
          return devices.map((d) => {
            // An online device was last seen at its node's latest heartbeat (its row is written only on open and close).
            const beat = online.get(d.id);
            const lastSeen = beat && (!d.lastSeenAt || beat > d.lastSeenAt) ? beat : d.lastSeenAt;
            return {
              deviceId: d.id,
              userId: d.userId,
              name: d.name,
              createdAt: d.createdAt.toISOString(),
              lastSeenAt: lastSeen?.toISOString() ?? null,
              online: beat !== undefined,
            };
          });
        },
        signal,
        HEARTBEAT_INTERVAL_MS,
      ),
    ),
    create: operatorProcedure
      .input(z.object({ userId: uuid, name: z.string().max(MAX_NAME_CODE_POINTS).optional() }))
      .mutation(({ ctx, input }) => createDevice(ctx.db, input)),
    revoke: operatorProcedure.input(z.object({ deviceId: uuid })).mutation(async ({ ctx, input }) => {
      await revokeDevice(ctx.db, input.deviceId);
      return { revoked: input.deviceId };
    }),
  }),

  uids: router({
    list: operatorProcedure.input(z.object({ appid: appid.optional(), userId: uuid.optional() }).default({})).query(async ({ ctx, input }) =>
      (await listUids(ctx.db, input)).map((u) => ({
        uid: u.uid,
        appid: u.appId,
        userId: u.userId,
        grantedAt: u.grantedAt.toISOString(),
        queueSize: u.queue?.size ?? 0,
      })),
    ),
    grant: operatorProcedure.input(z.object({ appid, userId: uuid })).mutation(({ ctx, input }) => grantUid(ctx.db, input)),
    revoke: operatorProcedure.input(z.object({ uid })).mutation(async ({ ctx, input }) => {
      await revokeUid(ctx.db, input.uid);
      return { revoked: input.uid };
    }),
  }),
});
