/**
 * `POST /<appid>/notification`, served by the custom server itself (not a
 * Next route handler) so that it shares this process's pool and answers
 * without Next's per-request work. Checks run in DESIGN.md's order: method,
 * credentials, content type, size, JSON, shape, each item, UIDs.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { logRefusal } from '../ackLog.ts';
import { authenticateApp, type AppIdentity } from '../apps.ts';
import { isStorageUnavailable, type Database } from '../db/client.ts';
import { AppError, Errno } from '../errors.ts';
import { batchSize, sendNotifications } from '../notifications/send.ts';
import { BodyTooLarge, readBody } from './body.ts';

/** 2 MiB. */
export const MAX_BODY_BYTES = 2 * 1024 * 1024;

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
  connectTimeoutMs: number;
  /** Called with errors that are bugs (the 199 answers). */
  onInternalError: (error: unknown) => void;
}

const bearer = /^Bearer +([\x21-\x7e]+) *$/;
const jsonType = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
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
    case Errno.StorageUnavailable:
      return { 'Retry-After': '5' };
    default:
      return {};
  }
}

/** Handles one request to `/<appid>/notification`. Never throws; every outcome is an answer. */
export async function handleNotificationRequest(deps: NotificationRouteDeps, req: IncomingMessage, res: ServerResponse, appid: string): Promise<void> {
  let app: AppIdentity | null = null;
  let itemCount = 0;
  try {
    if (req.method !== 'POST') throw new AppError(Errno.MethodNotAllowed, `method ${req.method} not allowed; use POST`);
    const key = bearer.exec(req.headers.authorization ?? '')?.[1];
    if (!key) throw new AppError(Errno.MissingCredentials, 'missing or malformed credentials: send "Authorization: Bearer <app key>"');
    app = await authenticateApp(deps.db, appid, key);

    if (!jsonType.test(req.headers['content-type'] ?? '')) {
      throw new AppError(Errno.NotJson, 'content type must be application/json');
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_BODY_BYTES) throw new AppError(Errno.TooLarge, 'body is larger than 2 MiB');
    const body = await readBody(req, MAX_BODY_BYTES).catch((error: unknown) => {
      throw error instanceof BodyTooLarge ? new AppError(Errno.TooLarge, 'body is larger than 2 MiB') : error;
    });

    let parsed: unknown;
    try {
      parsed = JSON.parse(utf8.decode(body));
    } catch {
      throw new AppError(Errno.InvalidJson, 'body is not valid JSON (UTF-8)');
    }
    itemCount = batchSize(parsed);
    const ack = await sendNotifications(deps.db, app, parsed, {
      maxWaitMs: deps.connectTimeoutMs,
      timeoutMs: deps.transactionTimeoutMs,
    });
    send(res, 200, ack);
  } catch (caught) {
    const refusal = toRefusal(caught, deps);
    // An unread large body is not worth draining: close after answering.
    // A small one is drained so the connection can be kept alive.
    if (refusal.errno === Errno.TooLarge) res.setHeader('Connection', 'close');
    else req.resume();
    send(res, refusal.status, refusal.toBody(), { ...refusalHeaders(refusal), ...refusal.headers });
    if (app && refusal.errno !== Errno.StorageUnavailable) void logRefusal(deps.db, app.id, refusal, itemCount);
  }
}

function toRefusal(caught: unknown, deps: NotificationRouteDeps): AppError {
  if (caught instanceof AppError) return caught;
  if (isStorageUnavailable(caught)) {
    return new AppError(Errno.StorageUnavailable, 'storage unavailable, retry later', { cause: caught });
  }
  deps.onInternalError(caught);
  return new AppError(Errno.Internal, 'internal error', { cause: caught });
}
