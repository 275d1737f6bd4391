/**
 * The daemon channel's transport: tRPC over WebSocket at `/presence`, on the
 * HTTP server's port. Each node listens for wake-ups from every node through
 * PostgreSQL, keeps its connections' online rows fresh, and closes the
 * sockets of revoked devices.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Database } from './db/client.ts';
import { clearNodeConnections, closeConnection, heartbeat, HEARTBEAT_INTERVAL_MS, openConnection } from './delivery/connections.ts';
import { Doorbells } from './delivery/doorbell.ts';
import { SignalListener } from './delivery/signals.ts';
import { authenticateDevice, type AuthenticatedDevice } from './devices.ts';
import { isSameOrigin } from './http/origin.ts';
import { readCookie, SESSION_COOKIE } from './operators.ts';
import type { Metrics } from './metrics.ts';
import { appRouter } from './routers/_app.ts';
import type { Context } from './trpc.ts';
import { serveTrpcSockets } from './trpcSocket.ts';

export const CHANNEL_PATH = '/presence';

export interface ChannelOptions {
  db: Database;
  databaseUrl: string;
  /** This node's id in the connections table. */
  nodeId: string;
  metrics: Metrics;
  log: (line: string) => void;
}

export interface Channel {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Tells every daemon to reconnect (to another node), then closes. */
  close(): Promise<void>;
}

/** WebSocket close code sent to a revoked device. */
const REVOKED = 4403;

export async function openChannel(options: ChannelOptions): Promise<Channel> {
  const { db, nodeId, metrics, log } = options;
  const doorbells = new Doorbells();
  // The daemons' sockets on this node, with their online rows: one entry per
  // socket, which also serves the heartbeat and revocations.
  const daemons = new Map<WebSocket, { connectionId: string; deviceId: string }>();

  await clearNodeConnections(db, nodeId);
  const signals = new SignalListener(options.databaseUrl, `presence-listener ${nodeId}`);
  signals.on('wakeup', (userIds) => {
    doorbells.ring(userIds);
    // A push changed queue sizes and the ack log too.
    doorbells.ringTopic('queues');
    doorbells.ringTopic('acks');
  });
  signals.on('activity', (topic) => {
    if (topic !== 'sessions') return doorbells.ringTopic(topic);
    // Every dashboard subscription looks again, and finds whether its session ended.
    for (const watched of ['queues', 'acks', 'devices']) doorbells.ringTopic(watched);
  });
  signals.on('resumed', () => {
    log('listening again for wake-ups; every connection re-checks its queues');
    doorbells.ringAll();
  });
  signals.on('lost', (error) => log(`wake-up listener lost its connection: ${error.message}`));
  signals.on('deviceRevoked', (deviceId) => {
    // Rare enough to look through every socket rather than keep an index by device.
    for (const [ws, daemon] of daemons) if (daemon.deviceId === deviceId) ws.close(REVOKED, 'device revoked');
  });
  await signals.start();

  // The online rows of this node's live sockets: the heartbeat refreshes
  // exactly these and deletes any other row of this node (one whose close
  // could not be written, say while the database was busy).
  const liveConnectionIds = () => Array.from(daemons.values(), (daemon) => daemon.connectionId);
  const beat = setInterval(() => void heartbeat(db, nodeId, liveConnectionIds()).catch(() => undefined), HEARTBEAT_INTERVAL_MS);
  beat.unref();

  const forget = (connectionId: string) => void closeConnection(db, connectionId).catch(() => undefined);
  // One listener for every daemon socket (`this` is the socket), not a closure each.
  function onDaemonClose(this: WebSocket): void {
    const daemon = daemons.get(this);
    if (!daemon) return;
    daemons.delete(this);
    metrics.connectedDaemons.dec();
    forget(daemon.connectionId);
  }

  /** Writes the online row of a daemon's socket and forgets it when the socket closes; false if the device is gone. */
  async function track(ws: WebSocket, device: AuthenticatedDevice): Promise<boolean> {
    const connectionId = await openConnection(db, device.deviceId, nodeId);
    if (connectionId === null) return false;
    if (ws.readyState !== ws.OPEN) {
      forget(connectionId); // closed while the row was being written
      return true;
    }
    daemons.set(ws, { connectionId, deviceId: device.deviceId });
    metrics.connectedDaemons.inc();
    ws.on('close', onDaemonClose);
    return true;
  }

  // Compression stays off: it would cost every socket its own zlib state.
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024, perMessageDeflate: false });
  const handler = serveTrpcSockets<Context>(wss, {
    router: appRouter,
    keepAlive: { pingMs: 30_000, pongWaitMs: 10_000, sweepMs: 1_000 },
    createContext: async (req, ws, connectionParams): Promise<Context> => {
      const base = {
        db,
        doorbells,
        metrics,
        closeConnection: () => ws.close(4401, 'unauthorized'),
        operatorSession: readCookie(req.headers.cookie, SESSION_COOKIE),
      };
      const token = connectionParams?.token;
      if (typeof token !== 'string' || token === '') return { ...base, device: null, deviceRefusal: 'missing device token' };
      // A database failure here is thrown, not refused: the daemon retries
      // (a refusal would make it give up for good).
      const device = await authenticateDevice(db, token);
      if (!device) return { ...base, device: null, deviceRefusal: 'invalid device token' };
      // Revoked in the meantime: it has no online row, and no channel.
      if (!(await track(ws, device))) return { ...base, device: null, deviceRefusal: 'invalid device token' };
      return { ...base, device, deviceRefusal: null };
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
      if (readCookie(req.headers.cookie, SESSION_COOKIE) !== undefined && !isSameOrigin(req)) {
        socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    },
    async close() {
      handler.broadcastReconnectNotification();
      clearInterval(beat);
      handler.stop();
      await signals.stop();
      // Give the reconnect notice a moment to leave before the sockets go.
      await new Promise((resolve) => setTimeout(resolve, 100));
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await clearNodeConnections(db, nodeId).catch(() => undefined);
    },
  };
}
