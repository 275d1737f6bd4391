/**
 * The HTTP front door of a node: the REST route, health and metrics, the
 * operator's sign-in and page guard, then Next.js for everything else.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Database } from '../platform/db/client.ts';
import { checkHealth } from '../platform/health.ts';
import type { Logger } from '../platform/log.ts';
import type { Metrics } from '../platform/metrics.ts';
import { digestSecret, secretMatches } from '../domain/secrets.ts';
import { handleDownloadRequest, type DownloadRouteDeps } from './downloadRoute.ts';
import { handleGrantRequest, matchGrantRoute } from './grantRoutes.ts';
import { handleNotificationRequest, matchNotificationRoute, type NotificationRouteDeps } from './notificationRoute.ts';
import { handleOperatorRequest, isDashboardPath, type OperatorRouteDeps } from './operatorRoutes.ts';
import { handleOpenApiRequest, OPENAPI_PATH } from './openapi.ts';
import { handlePairingRequest, PAIR_PATH } from './pairingRoute.ts';
import { handleRetractRequest, matchRetractRoute } from './retractRoute.ts';
import { SignInThrottle } from './signInThrottle.ts';
import { normaliseRequestPath } from './requestPath.ts';
import { forbidCaching, preparePageRequest, setSecurityHeaders } from './securityHeaders.ts';

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
  /** Next.js in development mode (hot reload), whose pages need a looser policy. */
  dev?: boolean;
  /** The daemon package offered for download; without it that path is left to the pages. */
  downloads?: DownloadRouteDeps;
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
  if (deps.downloads && (await handleDownloadRequest(deps.downloads, req, res, pathname))) return;
  if (await handleOperatorRequest(deps.operators, req, res, pathname)) return;
  if (deps.web) {
    preparePageRequest(req, res, deps.dev ?? false);
    if (isDashboardPath(pathname)) forbidCaching(res);
    return deps.web(req, res);
  }
  sendText(res, 404, 'Not found\n');
}

export function createRequestHandler(deps: RequestHandlerDeps) {
  const pairing = { db: deps.db, logger: deps.logger, throttle: new SignInThrottle() };
  // The grant page's sign-ins take pairing codes too, so guesses count in one throttle.
  const grants = { db: deps.db, logger: deps.logger, throttle: pairing.throttle, notifications: deps.notifications, dev: deps.dev ?? false };
  return (req: IncomingMessage, res: ServerResponse): void => {
    setSecurityHeaders(res);
    // Every decision below is taken on the normal form of the path, the one Next.js would route.
    const target = normaliseRequestPath(req.url ?? '/');
    if (target.kind === 'invalid') {
      sendText(res, 400, 'Bad request: malformed path\n');
      return;
    }
    if (target.kind === 'redirect') {
      res.writeHead(308, { Location: target.location, 'Cache-Control': 'no-store' }).end();
      return;
    }
    const { pathname } = target;
    if (pathname === PAIR_PATH) {
      void handlePairingRequest(pairing, req, res);
      return;
    }
    if (pathname === OPENAPI_PATH) return handleOpenApiRequest(req, res);
    const appid = matchNotificationRoute(pathname);
    if (appid !== null) {
      void handleNotificationRequest(deps.notifications, req, res, appid);
      return;
    }
    const retracting = matchRetractRoute(pathname);
    if (retracting !== null) {
      void handleRetractRequest(deps.notifications, req, res, retracting);
      return;
    }
    const grant = matchGrantRoute(pathname);
    if (grant !== null) {
      void handleGrantRequest(grants, req, res, grant);
      return;
    }
    route(deps, req, res, pathname).catch((error: Error) => {
      deps.logger.error({ path: pathname, err: { message: error.message, stack: error.stack } }, 'request failed');
      if (!res.headersSent) sendText(res, 503, 'Service unavailable, retry later\n', { 'Retry-After': '5' });
      else res.end();
    });
  };
}
