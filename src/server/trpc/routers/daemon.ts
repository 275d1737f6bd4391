/**
 * The daemon procedures: one subscription that sends everything pending and
 * then every new item (and what the user dismissed on their other devices),
 * the ack that purges what was received, and the dismissal of what the user
 * clicked or closed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { isStorageUnavailable } from '../../platform/db/client.ts';
import type { DeliveredItem, DeliveryEvent } from '../../../shared/delivery.ts';
import { MAX_IDS_PER_ACK, MAX_IDS_PER_DISMISS } from '../../../shared/limits.ts';
import { signalDismissal } from '../../platform/signals.ts';
import { ackItems, pendingItems } from '../../domain/delivery/items.ts';
import { issuePairingCode } from '../../domain/pairing.ts';
import { listUserGrants, revokeUid } from '../../domain/uids.ts';
import { uidPattern } from '../../domain/secrets.ts';
import { deviceProcedure, router, type Context, type DaemonSocketState } from '../init.ts';

/** Never added to: the sent ids of every connection that has sent nothing yet. */
const NOTHING_SENT = new Set<string>();

/** How soon a connection looks again after the database failed a look. */
const STORAGE_RETRY_MS = 1_000;

/** Item ids are PostgreSQL bigints: positive, at most 2^63 - 1. */
const MAX_ITEM_ID = 2n ** 63n - 1n;
const itemId = z
  .string()
  .regex(/^[1-9]\d{0,18}$/, 'an item id is a positive integer, as a string')
  .refine((id) => BigInt(id) <= MAX_ITEM_ID, 'an item id is at most 9223372036854775807');

/**
 * Calls per second one socket may make to the procedures that reach every node
 * or write for nobody's queue (`dismiss`, `pairingCode`, `grants.revoke`): a person clicks a few
 * times a second (the daemon core sends dismissals made together in one call),
 * a hostile device would make every node wake for each call.
 */
export const SIGNALLING_CALLS_PER_SECOND = 10;

/** Counts a signalling call of this socket; past the rate, TOO_MANY_REQUESTS. */
function withinSignallingRate(socket: DaemonSocketState, now = Date.now()): void {
  if (now - socket.signallingSecond >= 1_000) {
    socket.signallingSecond = now;
    socket.signallingCalls = 0;
  }
  socket.signallingCalls += 1;
  if (socket.signallingCalls > SIGNALLING_CALLS_PER_SECOND) {
    throw new TRPCError({
      code: 'TOO_MANY_REQUESTS',
      message: `at most ${SIGNALLING_CALLS_PER_SECOND} dismissals, pairing codes and revocations a second per connection`,
    });
  }
}

export const daemonRouter = router({
  /** Who this connection is: for the daemon's "connected as" line. */
  whoami: deviceProcedure.query(({ ctx }) => ctx.device),

  notifications: deviceProcedure.subscription(({ ctx, signal }) => {
    const stop = signal ?? new AbortController().signal;
    const socket = ctx.daemonSocket;
    // One per socket: each would read and send the whole backlog again. A
    // stopped one no longer counts, although its last steps may still run.
    if (socket.notifications && !socket.notifications.aborted) {
      throw new TRPCError({ code: 'CONFLICT', message: 'this connection already has a daemon.notifications subscription (one per connection)' });
    }
    socket.notifications = stop;
    // The parts it uses, not the context: an idle subscription keeps its arguments for as long as it runs.
    return deliver(ctx.db, ctx.doorbells, ctx.metrics, ctx.device.userId, socket, stop);
  }),

  /** Purge after receipt: deletes the listed items of this user's queues. Idempotent. */
  ack: deviceProcedure
    .input(z.object({ ids: z.array(itemId).min(1).max(MAX_IDS_PER_ACK) }))
    .mutation(async ({ ctx, input }) => ({ acked: await ackItems(ctx.db, ctx.device.userId, input.ids) })),

  /**
   * The user clicked or dismissed these items here: their other connected
   * devices close them. The items are usually acked (gone) by now, so no row
   * is needed: the dismissal reaches only the caller's own user's devices.
   */
  dismiss: deviceProcedure.input(z.object({ ids: z.array(itemId).min(1).max(MAX_IDS_PER_DISMISS) })).mutation(async ({ ctx, input }) => {
    withinSignallingRate(ctx.daemonSocket);
    const ids = [...new Set(input.ids)];
    await signalDismissal(ctx.db, { userId: ctx.device.userId, fromDeviceId: ctx.device.deviceId, ids });
    return { dismissed: ids.length };
  }),

  /** A one-time code that `presence-daemon pair` (POST /pair) exchanges for a new device of this user. */
  pairingCode: deviceProcedure.mutation(async ({ ctx }) => {
    withinSignallingRate(ctx.daemonSocket);
    const { code, expiresAt } = await issuePairingCode(ctx.db, ctx.device.userId);
    return { code, expiresAt: expiresAt.toISOString() };
  }),

  /** "Apps that can notify you": this user's grants, and Revoke, which works as `presence uid revoke` does. */
  grants: router({
    list: deviceProcedure.query(({ ctx }) => listUserGrants(ctx.db, ctx.device.userId)),
    /** Only a UID of this device's user: any other is NOT_FOUND (errno 304), as an unknown one is, and nothing changes. */
    revoke: deviceProcedure.input(z.object({ uid: z.string().regex(uidPattern, 'not a UID') })).mutation(async ({ ctx, input }) => {
      withinSignallingRate(ctx.daemonSocket);
      await revokeUid(ctx.db, input.uid, { userId: ctx.device.userId });
      return { revoked: input.uid };
    }),
  }),
});

/** The backlog, then every new item, until `stop` aborts. */
async function* deliver(
  db: Context['db'],
  doorbells: Context['doorbells'],
  metrics: Context['metrics'],
  userId: string,
  socket: DaemonSocketState,
  stop: AbortSignal,
): AsyncGenerator<DeliveryEvent> {
  // Listen before reading the backlog, so nothing committed in between is missed.
  const doorbell = doorbells.add(userId);
  try {
    const backlog = await pendingItems(db, userId).catch((error: unknown) => {
      // Busy or away: say so (the daemon subscribes again later), not "internal error".
      throw isStorageUnavailable(error) ? new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: 'storage unavailable, retry later', cause: error }) : error;
    });
    // Most connections are idle with nothing sent: they share the empty set until they send something.
    let sent: Set<string> = backlog.length > 0 ? new Set(backlog.map((item) => item.id)) : NOTHING_SENT;
    yield { kind: 'backlog', items: backlog };
    while (!stop.aborted) {
      const handed = await doorbell.wait(stop);
      if (stop.aborted) break;
      if (socket.dismissed.length > 0) yield { kind: 'dismissed', ids: socket.dismissed.splice(0) };
      if (socket.retracted.length > 0) yield { kind: 'retracted', tags: socket.retracted.splice(0) };
      // What this node just stored for the user comes with the wake-up; any
      // other wake-up looks for everything pending not sent yet: never "ids
      // greater than the last one", because ids of different queues commit out of order.
      let fresh: DeliveredItem[];
      try {
        fresh = handed ? unsentLive(handed, sent) : await pendingItems(db, userId, sent);
      } catch (error) {
        // The database is away: keep the daemon connected and look again soon
        // (the listener's reconnect rings every doorbell as well).
        if (!isStorageUnavailable(error)) throw error;
        await sleep(STORAGE_RETRY_MS, undefined, { signal: stop }).catch(() => undefined);
        doorbell.ring();
        continue;
      }
      if (fresh.length === 0) continue;
      const now = Date.now();
      if (sent === NOTHING_SENT) sent = new Set();
      for (const item of fresh) {
        sent.add(item.id);
        metrics.deliveryLatency.observe((now - Date.parse(item.createdAt)) / 1000);
      }
      yield { kind: 'live', items: fresh };
      if (sent.size > 1_000) sent = await stillPending(db, userId, sent);
    }
  } finally {
    doorbells.remove(doorbell);
    if (socket.notifications === stop) socket.notifications = null;
  }
}

/** The handed items not sent yet and not expired since they were stored. */
function unsentLive(handed: readonly DeliveredItem[], sent: ReadonlySet<string>): DeliveredItem[] {
  const now = Date.now();
  return handed.filter((item) => !sent.has(item.id) && (item.expiresAt === undefined || Date.parse(item.expiresAt) > now));
}

/** Forgets sent ids that are no longer pending (acked or dropped), so the set stays small. */
async function stillPending(db: Parameters<typeof pendingItems>[0], userId: string, sent: Set<string>): Promise<Set<string>> {
  const pending = await pendingItems(db, userId);
  return new Set(pending.map((item) => item.id).filter((id) => sent.has(id)));
}
