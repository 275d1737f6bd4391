/**
 * The channel: tRPC over WebSocket at `/presence`, for daemons and the dashboard, on the
 * HTTP server's port. Each node listens for wake-ups through PostgreSQL (or,
 * with the bus, for those of the users it holds), keeps its heartbeat and its
 * connections' online rows, and closes the sockets of revoked devices. A socket is served only with valid
 * credentials: a device token, or the dashboard's operator session.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { TRPCError } from '@trpc/server';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Database } from '../platform/db/client.ts';
import { clearNodeOnlineRows, closeOnlineRow, endNodeOnlineRows, heartbeat, HEARTBEAT_INTERVAL_MS, openOnlineRow } from '../domain/delivery/onlineRows.ts';
import type { WakeupBus } from '../platform/bus.ts';
import { attachLocalDelivery, detachLocalDelivery, type LocalDelivery } from '../domain/delivery/handoff.ts';
import { Doorbells } from './doorbell.ts';
import { SignalListener } from '../platform/signals.ts';
import { authenticateDevice, type AuthenticatedDevice } from '../domain/devices.ts';
import { unwatchAppKeys, watchAppKeys } from '../domain/apps.ts';
import { isSameOrigin } from '../http/origin.ts';
import { operatorSessionValid, readCookie, SESSION_COOKIE } from '../domain/operators.ts';
import type { Metrics } from '../platform/metrics.ts';
import { appRouter } from '../trpc/routers/_app.ts';
import type { Context, DaemonSocketState } from '../trpc/init.ts';
import { serveTrpcSockets, SOCKET_LIMITS } from './trpcSocket.ts';

export interface ChannelOptions {
  db: Database;
  databaseUrl: string;
  /** This node's id in the connections table. */
  nodeId: string;
  metrics: Metrics;
  log: (line: string) => void;
  /** Development mode (`npm run dev`): error frames carry stacks. */
  dev?: boolean;
  /** For tests: how long a socket may take to present credentials (default {@link AUTHENTICATE_WITHIN_MS}). */
  authenticateMs?: number;
  /** For tests: how often the node beats and checks its online rows (default HEARTBEAT_INTERVAL_MS). */
  heartbeatMs?: number;
  /** The wake-up bus (PRESENCE_BUS): this node hears the wake-ups of the users it holds there. */
  bus?: WakeupBus;
}

export interface Channel {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Tells every daemon to reconnect (to another node), then closes. */
  close(): Promise<void>;
}

/** A socket without valid credentials by then is closed (4401). */
const AUTHENTICATE_WITHIN_MS = 10_000;
/** Live sockets of one device on one node; a newer one closes the oldest (4409). */
const SOCKETS_PER_DEVICE = 10;

/** WebSocket close code sent to a revoked device. */
const REVOKED = 4403;
/** WebSocket close code of a device's oldest socket, past SOCKETS_PER_DEVICE. */
const REPLACED = 4409;

/** A daemon socket on this node: its online row, and what the daemon procedures keep for it. */
interface DaemonSocket extends DaemonSocketState {
  connectionId: string;
  deviceId: string;
  userId: string;
}

/** Dismissed ids a socket keeps for its subscription; past this the oldest are dropped (closing a notification is a courtesy). */
const MAX_WAITING_DISMISSALS = 1_000;
/** Retracted tags a socket keeps for its subscription, likewise. */
const MAX_WAITING_RETRACTIONS = 1_000;

/**
 * Answers an upgrade that is not served with an HTTP status, and lets the
 * socket go once that is written (Node's HTTP server keeps half-open sockets).
 */
export function refuseUpgrade(socket: Duplex, status: 403 | 404 | 503): void {
  socket.on('error', () => socket.destroy());
  const retry = status === 503 ? 'Retry-After: 1\r\n' : '';
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${retry}Connection: close\r\nContent-Length: 0\r\n\r\n`, () => socket.destroy());
}

export async function openChannel(options: ChannelOptions): Promise<Channel> {
  const { db, nodeId, metrics, log, bus } = options;
  const doorbells = new Doorbells();
  // The daemons' sockets on this node, with their online rows: one entry per
  // socket, which also serves the heartbeat and revocations.
  const daemons = new Map<WebSocket, DaemonSocket>();
  // The live sockets of each device on this node, oldest first (for the cap and revocations).
  const socketsByDevice = new Map<string, WebSocket[]>();
  const closeDeviceSockets = (deviceId: string) => {
    for (const ws of socketsByDevice.get(deviceId) ?? []) ws.close(REVOKED, 'device revoked');
  };

  await clearNodeOnlineRows(db, nodeId);
  // What this node stores for its own daemons is handed to them after the
  // commit: the wake-ups it sends carry this origin, and it reads for others' only.
  const local: LocalDelivery = {
    origin: randomUUID(),
    holds: (userId) => doorbells.has(userId),
    hand: (stored) => doorbells.hand(stored),
    ring: (userIds) => doorbells.ring(userIds),
    ringAll: () => doorbells.ringAll(),
  };
  const wakeUsers = (userIds: string[], origin: string | null) => {
    if (origin !== local.origin) doorbells.ring(userIds);
  };
  const signals = new SignalListener(options.databaseUrl, `presence-listener ${nodeId}`);
  signals.on('wakeup', (userIds, origin) => {
    wakeUsers(userIds, origin);
    // A push changed queue sizes and the ack log too.
    doorbells.ringTopic('queues');
    doorbells.ringTopic('acks');
  });
  signals.on('activity', (topic) => {
    if (topic !== 'sessions') return doorbells.ringTopic(topic);
    // Every dashboard subscription looks again, and finds whether its session ended.
    for (const watched of ['queues', 'acks', 'devices']) doorbells.ringTopic(watched);
  });
  // The key checks of this process use the app keys they read while this listener hears every rotation.
  const knownApps = watchAppKeys(db);
  signals.on('appKeyRotated', (appid) => knownApps.forget(appid));
  signals.on('resumed', () => {
    knownApps.trust(true);
    log('listening again for wake-ups; every connection re-checks its queues and its device');
    doorbells.ringAll();
    // A revocation signalled while nobody listened was missed: the rows tell.
    void beat().catch(() => undefined);
  });
  signals.on('lost', (error) => {
    knownApps.trust(false);
    log(`wake-up listener lost its connection: ${error.message}`);
  });
  if (bus) {
    bus.on('wakeup', wakeUsers);
    bus.on('pushed', () => {
      doorbells.ringTopic('queues');
      doorbells.ringTopic('acks');
    });
    bus.on('resumed', () => {
      log('the wake-up bus is back; every connection re-checks its queues');
      doorbells.ringAll();
    });
    bus.on('lost', (error) => log(`wake-up bus: ${error.message}`));
  }
  // Dashboards open on this node: while there is one, the bus brings every committed push (for their queue and ack views).
  let dashboards = 0;
  function onDashboardClose(): void {
    if (--dashboards === 0) void bus?.watchPushes(false);
  }
  signals.on('deviceRevoked', closeDeviceSockets);
  // The user's other devices on this node close these items' notifications; the sender's own sockets are not told.
  signals.on('dismissed', ({ userId, fromDeviceId, ids }) => {
    let told = false;
    for (const daemon of daemons.values()) {
      if (daemon.userId !== userId || daemon.deviceId === fromDeviceId) continue;
      daemon.dismissed.push(...ids);
      if (daemon.dismissed.length > MAX_WAITING_DISMISSALS) daemon.dismissed.splice(0, daemon.dismissed.length - MAX_WAITING_DISMISSALS);
      told = true;
    }
    if (told) doorbells.ring([userId]);
  });
  // Every device of the user on this node closes what it shows for these tags; the retraction changed queues and the ack log.
  signals.on('retracted', ({ userId, tags }) => {
    let told = false;
    for (const daemon of daemons.values()) {
      if (daemon.userId !== userId) continue;
      daemon.retracted.push(...tags);
      if (daemon.retracted.length > MAX_WAITING_RETRACTIONS) daemon.retracted.splice(0, daemon.retracted.length - MAX_WAITING_RETRACTIONS);
      told = true;
    }
    if (told) doorbells.ring([userId]);
    doorbells.ringTopic('queues');
    doorbells.ringTopic('acks');
  });

  // The online rows of this node's live sockets: the heartbeat refreshes
  // exactly these and deletes any other row of this node (one whose close
  // could not be written, say while the database was busy). A socket whose
  // row is gone belongs to a revoked device: it closes, also when the
  // revocation's signal never reached this node.
  async function beat(): Promise<void> {
    const gone = await heartbeat(
      db,
      nodeId,
      Array.from(daemons.values(), (daemon) => daemon.connectionId),
    );
    if (gone.length === 0) return;
    const goneIds = new Set(gone);
    for (const [ws, daemon] of daemons) if (goneIds.has(daemon.connectionId)) ws.close(REVOKED, 'device revoked');
  }
  await signals.start();
  knownApps.trust(true);
  attachLocalDelivery(db, local);
  const beatTimer = setInterval(() => void beat().catch(() => undefined), options.heartbeatMs ?? HEARTBEAT_INTERVAL_MS);
  beatTimer.unref();

  const forget = (connectionId: string) => void closeOnlineRow(db, connectionId).catch(() => undefined);
  // One listener for every daemon socket (`this` is the socket), not a closure each.
  function onDaemonClose(this: WebSocket): void {
    const daemon = daemons.get(this);
    if (!daemon) return;
    daemons.delete(this);
    const siblings = socketsByDevice.get(daemon.deviceId);
    const index = siblings?.indexOf(this) ?? -1;
    if (siblings && index >= 0) siblings.splice(index, 1);
    if (siblings?.length === 0) socketsByDevice.delete(daemon.deviceId);
    metrics.connectedDaemons.dec();
    bus?.release(daemon.userId);
    forget(daemon.connectionId);
  }

  /**
   * Writes the online row of a daemon's socket and forgets it when the socket
   * closes; closes the device's oldest socket past the cap. Null if the
   * device is gone.
   */
  async function track(ws: WebSocket, device: AuthenticatedDevice): Promise<DaemonSocket | null> {
    const connectionId = await openOnlineRow(db, device.deviceId, nodeId);
    if (connectionId === null) return null;
    const daemon: DaemonSocket = {
      connectionId,
      deviceId: device.deviceId,
      userId: device.userId,
      notifications: null,
      dismissed: [],
      retracted: [],
      signallingSecond: 0,
      signallingCalls: 0,
    };
    if (ws.readyState !== ws.OPEN) {
      forget(connectionId); // closed while the row was being written
      return daemon;
    }
    daemons.set(ws, daemon);
    const siblings = socketsByDevice.get(device.deviceId);
    if (!siblings) socketsByDevice.set(device.deviceId, [ws]);
    else if (siblings.push(ws) > SOCKETS_PER_DEVICE) siblings.shift()?.close(REPLACED, 'replaced by a newer connection of this device');
    metrics.connectedDaemons.inc();
    ws.on('close', onDaemonClose);
    // Subscribed before the daemon's first look at its queue, so no wake-up after that look is missed.
    await bus?.hold(device.userId);
    return daemon;
  }

  // Compression stays off: it would cost every socket its own zlib state.
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024, perMessageDeflate: false });
  const handler = serveTrpcSockets<Context>(wss, {
    router: appRouter,
    keepAlive: { pingMs: 30_000, pongWaitMs: 10_000, sweepMs: 1_000 },
    limits: { ...SOCKET_LIMITS, authenticateMs: options.authenticateMs ?? AUTHENTICATE_WITHIN_MS },
    dev: options.dev ?? false,
    // A refusal (UNAUTHORIZED) closes the socket with 4401, after answering
    // the calls made; a database failure is thrown as it is, so the daemon
    // retries instead of giving up for good.
    createContext: async (req, ws, connectionParams): Promise<Context> => {
      const operatorSession = readCookie(req.headers.cookie, SESSION_COOKIE);
      const token = connectionParams?.token;
      if (typeof token === 'string' && token !== '') {
        const device = await authenticateDevice(db, token);
        // Revoked in the meantime: it has no online row, and no channel.
        const daemonSocket = device && (await track(ws, device));
        if (!device || !daemonSocket) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'invalid device token' });
        // Written out, not spread: a spread here gave each connection's context a hidden class of its own.
        return { db, doorbells, metrics, operatorSession, device, daemonSocket };
      }
      if (await operatorSessionValid(db, operatorSession)) {
        if (bus && ws.readyState === ws.OPEN) {
          ws.once('close', onDashboardClose);
          if (dashboards++ === 0) await bus.watchPushes(true);
        }
        return { db, doorbells, metrics, operatorSession, device: null, daemonSocket: null };
      }
      throw new TRPCError({ code: 'UNAUTHORIZED', message: operatorSession === undefined ? 'missing device token' : 'sign in at /admin/login' });
    },
    onError: (error, path) => {
      if (error.code === 'INTERNAL_SERVER_ERROR') log(`channel error in ${path ?? '(connection)'}: ${error.message}`);
    },
  });

  return {
    handleUpgrade(req, socket, head) {
      // A browser sends cookies with a WebSocket from any page, and SameSite
      // does not tell other ports of the same host apart: a connection that
      // carries the operator cookie must come from this origin.
      if (readCookie(req.headers.cookie, SESSION_COOKIE) !== undefined && !isSameOrigin(req)) return refuseUpgrade(socket, 403);
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    },
    async close() {
      detachLocalDelivery(db, local);
      unwatchAppKeys(db, knownApps);
      handler.broadcastReconnectNotification();
      clearInterval(beatTimer);
      handler.stop();
      await signals.stop();
      // Give the reconnect notice a moment to leave before the sockets go.
      await new Promise((resolve) => setTimeout(resolve, 100));
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await endNodeOnlineRows(db, nodeId).catch(() => undefined);
    },
  };
}
