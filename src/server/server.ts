/**
 * Starts one Presence node: the database (embedded or external), the
 * migrations, the demo data on the embedded default, and one HTTP server that
 * serves the REST route itself and hands every other request to Next.js.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import type { Duplex } from 'node:stream';
import next from 'next';
import { CHANNEL_PATH } from '../shared/channel.ts';
import { openChannel, refuseUpgrade, type Channel } from './channel/channel.ts';
import { projectRoot, type Config } from './platform/config.ts';
import type { Database } from './platform/db/client.ts';
import type { EmbeddedPostgres } from './platform/db/embeddedPostgres.ts';
import { openDatabase } from './platform/db/open.ts';
import { ensureDemoData, type DemoCredentials } from './demo.ts';
import { createRequestHandler } from './http/requestHandler.ts';
import { SignInThrottle } from './http/signInThrottle.ts';
import { createLogger, type Logger } from './platform/log.ts';
import { startMaintenance } from './platform/maintenance.ts';
import { attachBus, WakeupBus } from './platform/bus.ts';
import { wakeUsersNow } from './platform/signals.ts';
import { Metrics } from './platform/metrics.ts';
import { endSessionsOfOtherTokens, ensureOperatorToken } from './domain/operators.ts';

export interface StartOptions {
  /** Serve the web app through Next.js (default true); off for an API-only node. */
  web?: boolean;
  /** Next.js development mode (hot reload). */
  dev?: boolean;
  /** Where log lines go; by default JSON lines on stdout at LOG_LEVEL. */
  logger?: Logger;
}

export interface PresenceNode {
  /** The URL this node answers on (loopback when listening on all interfaces). */
  url: string;
  db: Database;
  /** Set on the embedded default. */
  embedded: EmbeddedPostgres | null;
  /** This node's id in the online-connections table. */
  nodeId: string;
  demo: DemoCredentials | null;
  /** The operator token, when one is configured or generated. */
  operatorToken: string | null;
  metrics: Metrics;
  close(): Promise<void>;
}

export async function startPresence(config: Config, options: StartOptions = {}): Promise<PresenceNode> {
  const logger = options.logger ?? createLogger(config.LOG_LEVEL);
  const log = (line: string) => logger.info(line);
  const { db, url: databaseUrl, embedded, close: closeDatabase } = await openDatabase(config, { log });
  const cleanups: (() => Promise<void> | void)[] = [closeDatabase];
  const closeAll = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  };
  try {
    const demo = embedded ? await ensureDemoData(db, config.PRESENCE_DATA_DIR) : null;
    const operatorToken = config.ADMIN_TOKEN ?? (embedded ? await ensureOperatorToken(config.PRESENCE_DATA_DIR) : null);
    if (operatorToken === null) logger.warn('ADMIN_TOKEN is not set: nobody can sign in to the dashboard');
    // A changed operator token ends the sessions the old one opened, on every node.
    else if ((await endSessionsOfOtherTokens(db, operatorToken)) > 0) logger.info('operator token changed: earlier dashboard sessions ended');

    const web = options.web === false ? null : next({ dev: options.dev ?? false, dir: projectRoot, hostname: config.HOST, port: config.PORT });
    await web?.prepare();
    if (web) cleanups.push(() => web.close());

    const metrics = new Metrics(db);
    const server = createServer(
      createRequestHandler({
        db,
        metrics,
        metricsToken: config.METRICS_TOKEN ?? null,
        logger,
        web: web?.getRequestHandler() ?? null,
        dev: options.dev ?? false,
        operators: { db, operatorToken, signInThrottle: new SignInThrottle() },
        downloads: { daemonPackageFile: config.DAEMON_PACKAGE_FILE, clientPackageFile: config.CLIENT_PACKAGE_FILE },
        notifications: {
          db,
          metrics,
          logger,
          transactionTimeoutMs: config.DATABASE_TRANSACTION_TIMEOUT_MS,
          rateLimitPerSecond: config.RATE_LIMIT_PER_SECOND,
          corsOrigins: config.CORS_ORIGINS,
        },
      }),
    );
    // Every upgrade gets an answer and its socket is let go, or it would hold
    // a file descriptor for good: 503 before the channel is ready (it waits
    // on the database), so the daemon retries; 404 for any other path. Only
    // in development does Next.js take its own (hot reload); in production
    // it would never answer.
    let channel: Channel | null = null;
    const handleWebUpgrade = options.dev ? web?.getUpgradeHandler() : undefined;
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const path = (req.url ?? '').split('?', 1)[0] ?? '';
      if (path === CHANNEL_PATH) {
        if (channel) channel.handleUpgrade(req, socket, head);
        else refuseUpgrade(socket, 503);
      } else if (handleWebUpgrade && path.startsWith('/_next/')) void handleWebUpgrade(req, socket, head);
      else refuseUpgrade(socket, 404);
    });
    const sockets = new Set<Duplex>();
    server.on('connection', (socket: Duplex) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // Node's default accept backlog (511) overflows when thousands of daemons reconnect at once.
      server.listen({ port: config.PORT, host: config.HOST, backlog: 4096 }, () => resolve());
    });
    cleanups.push(async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      // server.close() also waits for upgraded sockets, which are no longer the HTTP server's to close.
      for (const socket of sockets) socket.destroy();
      await closed;
    });
    const { port } = server.address() as AddressInfo;
    const nodeId = config.NODE_ID ?? `${os.hostname()}:${port}`;
    // With PRESENCE_BUS, wake-ups go over the bus to the nodes holding each user; NOTIFY stays for the rest (platform/bus.ts).
    const bus = config.PRESENCE_BUS
      ? await WakeupBus.connect({ url: config.PRESENCE_BUS, name: `presence ${nodeId}`, notifyInstead: (userIds, origin) => wakeUsersNow(db, userIds, origin) })
      : undefined;
    if (bus) {
      attachBus(db, bus);
      cleanups.push(() => bus.close());
    }
    const openedChannel = await openChannel({ db, databaseUrl, nodeId, metrics, log, dev: options.dev ?? false, ...(bus ? { bus } : {}) });
    channel = openedChannel;
    cleanups.push(() => openedChannel.close());
    const maintenance = startMaintenance(db, { ackLogSize: config.ACK_LOG_SIZE, logger });
    cleanups.push(() => maintenance.stop());

    const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? 'localhost' : config.HOST;
    return {
      url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
      db,
      embedded,
      nodeId,
      demo,
      operatorToken,
      metrics,
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
