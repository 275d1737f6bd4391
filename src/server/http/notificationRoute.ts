/**
 * `POST /<appid>/notification`, served by the custom server itself (not a
 * Next route handler) so that it shares this process's pool and answers
 * without Next's per-request work. Checks run in README.md's order: method,
 * credentials (and the app's rate limit), content type, size (bytes, then
 * the JSON's nesting and number of values, before parsing), JSON, shape,
 * each item, UIDs.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { logRefusal } from '../domain/ackLog.ts';
import { authenticateApp, type AuthenticatedApp } from '../domain/apps.ts';
import { isStorageUnavailable, type Database } from '../platform/db/client.ts';
import { AppError, Errno } from '../domain/errors.ts';
import type { Logger } from '../platform/log.ts';
import type { Metrics } from '../platform/metrics.ts';
import { idempotentRequest, priorAck } from '../domain/notifications/idempotency.ts';
import type { PushOptions } from '../domain/notifications/push.ts';
import { batchSize, sendNotifications } from '../domain/notifications/send.ts';
import { BodyTooLarge, jsonStructureRefusal, readBody } from './body.ts';
import { corsHeaders, preflightHeaders } from './cors.ts';

/** 2 MiB. */
const MAX_BODY_BYTES = 2 * 1024 * 1024;

const routePattern = /^\/([^/]+)\/notification$/;

/** The appid if `pathname` is a notification route, else null. */
export function matchNotificationRoute(pathname: string): string | null {
  const match = routePattern.exec(pathname);
  // Not URL-decoded: an appid is a plain slug, so an encoded one names no app.
  return match ? (match[1] as string) : null;
}

export interface NotificationRouteDeps {
  db: Database;
  transactionTimeoutMs: number;
  /** Requests per second per app; 0 = no limit. */
  rateLimitPerSecond: number;
  corsOrigins: readonly string[];
  metrics: Metrics;
  logger: Logger;
}

const bearer = /^Bearer +([\x21-\x7e]+) *$/;
const jsonType = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;
const requestIdSyntax = /^[\w.-]{1,100}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string>): void {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(json),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(json);
}

function refusalHeaders(error: AppError): Record<string, string> {
  switch (error.errno) {
    case Errno.MethodNotAllowed:
      return { Allow: 'POST' };
    case Errno.MissingCredentials:
      return { 'WWW-Authenticate': 'Bearer realm="presence"' };
    case Errno.InvalidKey:
      return { 'WWW-Authenticate': 'Bearer realm="presence", error="invalid_token"' };
    case Errno.SlowDown:
      return { 'Retry-After': '1' };
    case Errno.StorageUnavailable:
      return { 'Retry-After': '5' };
    default:
      return {};
  }
}

/** What a route of an app does with the parsed body once the checks they share have passed. */
export interface AppRouteOperation {
  /** The route's last path segment, also its kind in the ack log. */
  kind: 'notification' | 'retract';
  /** How many entries the body holds, for the ack log (0 when it is not a list or an object). */
  count(parsed: unknown): number;
  /** Validates and stores; throws the refusal. */
  run(deps: NotificationRouteDeps, app: AuthenticatedApp, parsed: unknown, options: PushOptions): Promise<{ body: unknown; stored: number }>;
}

const notification: AppRouteOperation = {
  kind: 'notification',
  count: batchSize,
  async run(deps, app, parsed, options) {
    const pushed = await sendNotifications(deps.db, app, parsed, options);
    deps.metrics.stored.inc({ app: app.id }, pushed.stored);
    if (pushed.droppedByCap > 0) deps.metrics.droppedByCap.inc({ app: app.id }, pushed.droppedByCap);
    return { body: pushed.ack, stored: pushed.stored };
  },
};

/** Handles one request to `/<appid>/notification`. Never throws; every outcome is an answer. */
export function handleNotificationRequest(deps: NotificationRouteDeps, req: IncomingMessage, res: ServerResponse, appid: string): Promise<void> {
  return handleAppRequest(deps, req, res, appid, notification);
}

/**
 * Handles one request to a route of an app: the credentials, checks and
 * their order, idempotency, the answer, the ack log of refusals, the
 * metrics and the log line are the same for each `operation`. Never throws.
 */
export async function handleAppRequest(
  deps: NotificationRouteDeps,
  req: IncomingMessage,
  res: ServerResponse,
  appid: string,
  operation: AppRouteOperation,
): Promise<void> {
  const started = process.hrtime.bigint();
  const incomingId = req.headers['x-request-id'];
  const requestId = typeof incomingId === 'string' && requestIdSyntax.test(incomingId) ? incomingId : randomUUID();
  const headers = { 'X-Request-Id': requestId, ...corsHeaders(deps.corsOrigins, req) };
  let app = null as AuthenticatedApp | null;
  let itemCount = 0;
  let outcome: { status: number; errno?: Errno; stored?: number };
  try {
    const preflight = preflightHeaders(deps.corsOrigins, req);
    if (preflight) {
      res.writeHead(204, { ...preflight, 'X-Request-Id': requestId }).end();
      return;
    }
    const ack = await accept();
    send(res, 200, ack.body, headers);
    outcome = { status: 200, stored: ack.stored };
  } catch (caught) {
    const refusal = toRefusal(caught, deps, requestId, operation.kind);
    // An unread large body is not worth draining: close after answering.
    // A small one is drained so the connection can be kept alive.
    if (refusal.errno === Errno.TooLarge) res.setHeader('Connection', 'close');
    else req.resume();
    send(res, refusal.status, refusal.toBody(), { ...headers, ...refusalHeaders(refusal), ...refusal.headers });
    if (app && refusal.errno !== Errno.StorageUnavailable) void logRefusal(deps.db, app.id, refusal, itemCount, operation.kind);
    outcome = { status: refusal.status, errno: refusal.errno };
  }
  const appLabel = app?.id ?? '-';
  deps.metrics.requests.inc({ app: appLabel, result: outcome.status === 200 ? 'OK' : 'KO', errno: String(outcome.errno ?? '') });
  deps.logger.info(
    { requestId, appid: appLabel, status: outcome.status, errno: outcome.errno, items: itemCount, ms: Number(process.hrtime.bigint() - started) / 1e6 },
    `POST ${operation.kind}`,
  );

  async function accept(): Promise<{ body: unknown; stored: number }> {
    if (req.method !== 'POST') throw new AppError(Errno.MethodNotAllowed, `method ${req.method} not allowed; use POST`);
    const key = bearer.exec(req.headers.authorization ?? '')?.[1];
    if (!key) throw new AppError(Errno.MissingCredentials, 'missing or malformed credentials: send "Authorization: Bearer <app key>"');
    app = await authenticateApp(deps.db, appid, key, { countRequest: deps.rateLimitPerSecond > 0 });
    if (deps.rateLimitPerSecond > 0 && app.requestsThisSecond > deps.rateLimitPerSecond) {
      throw new AppError(Errno.SlowDown, `slow down: at most ${deps.rateLimitPerSecond} requests per second for this app`);
    }

    if (!jsonType.test(req.headers['content-type'] ?? '')) throw new AppError(Errno.NotJson, 'content type must be application/json');
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_BODY_BYTES) throw new AppError(Errno.TooLarge, 'body is larger than 2 MiB');
    const body = await readBody(req, MAX_BODY_BYTES).catch((error: unknown) => {
      throw error instanceof BodyTooLarge ? new AppError(Errno.TooLarge, 'body is larger than 2 MiB') : error;
    });
    const tooComplex = jsonStructureRefusal(body);
    if (tooComplex) throw new AppError(Errno.TooLarge, tooComplex);

    const idempotency = idempotentRequest(req.headers['idempotency-key'], body);
    const replay = idempotency ? await priorAck(deps.db, app.id, idempotency) : null;
    if (replay) return { body: replay, stored: 0 };

    let parsed: unknown;
    try {
      parsed = JSON.parse(utf8.decode(body));
    } catch {
      throw new AppError(Errno.InvalidJson, 'body is not valid JSON (UTF-8)');
    }
    itemCount = operation.count(parsed);
    return operation.run(deps, app, parsed, { timeoutMs: deps.transactionTimeoutMs, idempotency });
  }
}

function toRefusal(caught: unknown, deps: NotificationRouteDeps, requestId: string, kind: AppRouteOperation['kind']): AppError {
  if (caught instanceof AppError) return caught;
  if (isStorageUnavailable(caught)) {
    deps.logger.warn({ requestId, err: describe(caught) }, 'storage unavailable');
    return new AppError(Errno.StorageUnavailable, 'storage unavailable, retry later', { cause: caught });
  }
  deps.logger.error({ requestId, err: describe(caught) }, `internal error in POST /<appid>/${kind}`);
  return new AppError(Errno.Internal, 'internal error', { cause: caught });
}

/** An error for a log line: its name, message and stack, never the request. */
function describe(error: unknown): { message: string; stack?: string } {
  return error instanceof Error ? { message: error.message, ...(error.stack ? { stack: error.stack } : {}) } : { message: String(error) };
}
