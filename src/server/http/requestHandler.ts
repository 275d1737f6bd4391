/**
 * The HTTP front door of a node: the REST route, health and metrics, the
 * operator's sign-in and page guard, then Next.js for everything else.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Database } from '../db/client.ts';
import { checkHealth } from '../health.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { digestSecret, secretMatches } from '../secrets.ts';
import { handleNotificationRequest, matchNotificationRoute, type NotificationRouteDeps } from './notificationRoute.ts';
import { handleOperatorRequest, type OperatorRouteDeps } from './operatorRoutes.ts';

export interface RequestHandlerDeps {
  db: Database;
  notifications: NotificationRouteDeps;
  operators: OperatorRouteDeps;
  metrics: Metrics;
  /** When set, `/metrics` answers only this bearer token. */
  metricsToken?: string | null;
  logger: Logger;
  /** Next.js, or null for an API-only node. */
  web: ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | null;
}

function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers }).end(text);
}

/** No token configured: open; otherwise `Bearer <token>`, compared in constant time. */
function metricsReaderAllowed(token: string | null, authorization: string | undefined): boolean {
  if (token === null) return true;
  const presented = /^Bearer (\S+)$/.exec(authorization ?? '')?.[1];
  return presented !== undefined && secretMatches(presented, digestSecret(token));
}

async function route(deps: RequestHandlerDeps, req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
  if (pathname === '/healthz') {
    const health = await checkHealth(deps.db);
    res.writeHead(health.status === 'ok' ? 200 : 503, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(JSON.stringify(health));
    return;
  }
  if (pathname === '/metrics') {
    if (!metricsReaderAllowed(deps.metricsToken ?? null, req.headers.authorization)) {
      sendText(res, 401, 'Unauthorized: /metrics needs Authorization: Bearer <METRICS_TOKEN>\n', { 'WWW-Authenticate': 'Bearer realm="metrics"' });
      return;
    }
    const text = await deps.metrics.registry.metrics();
    sendText(res, 200, text, { 'Content-Type': deps.metrics.registry.contentType });
    return;
  }
  if (await handleOperatorRequest(deps.operators, req, res, pathname)) return;
  if (deps.web) return deps.web(req, res);
  sendText(res, 404, 'Not found\n');
}

export function createRequestHandler(deps: RequestHandlerDeps) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const pathname = (req.url ?? '/').split('?', 1)[0] as string;
    const appid = matchNotificationRoute(pathname);
    if (appid !== null) {
      void handleNotificationRequest(deps.notifications, req, res, appid);
      return;
    }
    route(deps, req, res, pathname).catch((error: Error) => {
      deps.logger.error({ path: pathname, err: { message: error.message, stack: error.stack } }, 'request failed');
      if (!res.headersSent) sendText(res, 503, 'Service unavailable, retry later\n', { 'Retry-After': '5' });
      else res.end();
    });
  };
}
