/**
 * Starts one Presence node: the database (embedded or external), the
 * migrations, the demo data on the embedded default, and one HTTP server that
 * serves the REST route itself and hands every other request to Next.js.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import type { Duplex } from 'node:stream';
import next from 'next';
import { trimAckLog } from './ackLog.ts';
import { CHANNEL_PATH, openChannel } from './channel.ts';
import { projectRoot, type Config } from './config.ts';
import type { Database } from './db/client.ts';
import type { EmbeddedPostgres } from './db/embeddedPostgres.ts';
import { openDatabase } from './db/open.ts';
import { ensureDemoData, type DemoCredentials } from './demo.ts';
import { handleNotificationRequest, matchNotificationRoute } from './http/notificationRoute.ts';
import { handleOperatorRequest } from './http/operatorRoutes.ts';
import { ensureOperatorToken } from './operators.ts';

export interface StartOptions {
  /** Serve the web app through Next.js (default true); off for an API-only node. */
  web?: boolean;
  /** Next.js development mode (hot reload). */
  dev?: boolean;
  /** Operator-facing progress lines. */
  log?: (line: string) => void;
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
  close(): Promise<void>;
}

const ACK_LOG_TRIM_INTERVAL_MS = 60_000;

export async function startPresence(config: Config, options: StartOptions = {}): Promise<PresenceNode> {
  const log = options.log ?? (() => {});
  const { db, url: databaseUrl, embedded, close: closeDatabase } = await openDatabase(config, { log });
  try {
    const demo = embedded ? await ensureDemoData(db, config.PRESENCE_DATA_DIR) : null;
    const operatorToken = config.ADMIN_TOKEN ?? (embedded ? await ensureOperatorToken(config.PRESENCE_DATA_DIR) : null);
    if (operatorToken === null) log('ADMIN_TOKEN is not set: nobody can sign in to the dashboard');

    const web = options.web === false ? null : next({ dev: options.dev ?? false, dir: projectRoot, hostname: config.HOST, port: config.PORT });
    const handleWeb = web?.getRequestHandler();
    await web?.prepare();

    const routeDeps = {
      db,
      transactionTimeoutMs: config.DATABASE_TRANSACTION_TIMEOUT_MS,
      connectTimeoutMs: config.DATABASE_CONNECT_TIMEOUT_MS,
      onInternalError: (error: unknown) => console.error('internal error in POST /<appid>/notification', error),
    };
    const operatorDeps = { db, operatorToken };
    const serveWeb = async (req: IncomingMessage, res: ServerResponse, pathname: string) => {
      if (await handleOperatorRequest(operatorDeps, req, res, pathname)) return;
      if (handleWeb) return handleWeb(req, res);
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('Not found\n');
    };
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const pathname = (req.url ?? '/').split('?', 1)[0] as string;
      const appid = matchNotificationRoute(pathname);
      if (appid !== null) void handleNotificationRequest(routeDeps, req, res, appid);
      else {
        serveWeb(req, res, pathname).catch((error: unknown) => {
          console.error(`error serving ${pathname}`, error);
          if (!res.headersSent) res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '5' });
          res.end('Service unavailable, retry later\n');
        });
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.PORT, config.HOST, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const nodeId = config.NODE_ID ?? `${os.hostname()}:${port}`;
    const channel = await openChannel({ db, databaseUrl, nodeId, log });
    const handleWebUpgrade = web?.getUpgradeHandler();
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if ((req.url ?? '').split('?', 1)[0] === CHANNEL_PATH) channel.handleUpgrade(req, socket, head);
      else if (handleWebUpgrade) void handleWebUpgrade(req, socket, head);
      else socket.destroy();
    });
    const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? 'localhost' : config.HOST;

    const trimmer = setInterval(() => void trimAckLog(db, config.ACK_LOG_SIZE).catch(() => undefined), ACK_LOG_TRIM_INTERVAL_MS);
    trimmer.unref();

    return {
      url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
      db,
      embedded,
      nodeId,
      demo,
      operatorToken,
      async close() {
        clearInterval(trimmer);
        await channel.close();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await closed;
        await web?.close();
        await closeDatabase();
      },
    };
  } catch (error) {
    await closeDatabase();
    throw error;
  }
}
