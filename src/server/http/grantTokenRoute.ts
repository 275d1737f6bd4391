/**
 * `POST /<appid>/grant/token`: an app exchanges the one-time code the grant
 * page sent to its redirect URI for the user's UID (README.md, "Consent").
 * The credentials, their rate limit and the refusals of the body are those
 * of the notification route; a code that does not work is errno 160.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { authenticateApp } from '../domain/apps.ts';
import { exchangeGrantCode } from '../domain/consent.ts';
import { AppError, Errno } from '../domain/errors.ts';
import { isStorageUnavailable } from '../platform/db/client.ts';
import { BodyTooLarge, readBody } from './body.ts';
import type { NotificationRouteDeps } from './notificationRoute.ts';

/** A code and nothing else fits in far less. */
const MAX_BODY_BYTES = 4 * 1024;

/** The body: the code from the redirect's `code` parameter. */
export const grantTokenRequestSchema = z.strictObject({
  code: z.string().min(1).max(100).meta({ description: 'the `code` parameter the grant page appended to your redirect URI; works once, for 60 seconds' }),
});

/** The answer: the UID this app knows the user by. */
export const grantTokenAnswerSchema = z.strictObject({
  uid: z.string().meta({ description: 'the UID to send this user notifications with: the same one while the user’s grant to this app is active' }),
});

const bearer = /^Bearer +([\x21-\x7e]+) *$/;
const jsonType = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;
const requestIdSyntax = /^[\w.-]{1,100}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

function refusalHeaders(errno: Errno): Record<string, string> {
  if (errno === Errno.MethodNotAllowed) return { Allow: 'POST' };
  if (errno === Errno.MissingCredentials) return { 'WWW-Authenticate': 'Bearer realm="presence"' };
  if (errno === Errno.InvalidKey) return { 'WWW-Authenticate': 'Bearer realm="presence", error="invalid_token"' };
  if (errno === Errno.SlowDown) return { 'Retry-After': '1' };
  if (errno === Errno.StorageUnavailable) return { 'Retry-After': '5' };
  return {};
}

/** The code of a request body, or the refusal of the notification route's errnos. */
function parseBody(body: Buffer): string {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(body));
  } catch {
    throw new AppError(Errno.InvalidJson, 'body is not valid JSON (UTF-8)');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new AppError(Errno.InvalidField, 'body must be {"code": "…"}');
  const unknown = Object.keys(value).find((field) => field !== 'code');
  if (unknown !== undefined) throw new AppError(Errno.UnknownField, `unknown field ${JSON.stringify(unknown.slice(0, 64))}: the body is {"code": "…"}`);
  const parsed = grantTokenRequestSchema.safeParse(value);
  if (!parsed.success) throw new AppError(Errno.InvalidField, '"code" must be the code from the redirect (a string of 1 to 100 characters)');
  return parsed.data.code;
}

/** Handles one request to `/<appid>/grant/token`. Never throws; every outcome is an answer. */
export async function handleGrantTokenRequest(deps: NotificationRouteDeps, req: IncomingMessage, res: ServerResponse, appid: string): Promise<void> {
  const started = process.hrtime.bigint();
  const incomingId = req.headers['x-request-id'];
  const requestId = typeof incomingId === 'string' && requestIdSyntax.test(incomingId) ? incomingId : randomUUID();
  let status = 200;
  let errno: Errno | undefined;
  let body: unknown;
  let headers: Record<string, string> = {};
  try {
    if (req.method !== 'POST') throw new AppError(Errno.MethodNotAllowed, `method ${req.method} not allowed; use POST`);
    const key = bearer.exec(req.headers.authorization ?? '')?.[1];
    if (!key) throw new AppError(Errno.MissingCredentials, 'missing or malformed credentials: send "Authorization: Bearer <app key>"');
    const app = await authenticateApp(deps.db, appid, key, { countRequest: deps.rateLimitPerSecond > 0 });
    if (deps.rateLimitPerSecond > 0 && app.requestsThisSecond > deps.rateLimitPerSecond) {
      throw new AppError(Errno.SlowDown, `slow down: at most ${deps.rateLimitPerSecond} requests per second for this app`);
    }
    if (!jsonType.test(req.headers['content-type'] ?? '')) throw new AppError(Errno.NotJson, 'content type must be application/json');
    const raw = await readBody(req, MAX_BODY_BYTES).catch((error: unknown) => {
      throw error instanceof BodyTooLarge ? new AppError(Errno.TooLarge, `body is larger than ${MAX_BODY_BYTES} bytes`) : error;
    });
    body = await exchangeGrantCode(deps.db, { appid: app.id, code: parseBody(raw) });
  } catch (caught) {
    const refusal =
      caught instanceof AppError
        ? caught
        : isStorageUnavailable(caught)
          ? new AppError(Errno.StorageUnavailable, 'storage unavailable, retry later')
          : new AppError(Errno.Internal, 'internal error');
    if (refusal.errno === Errno.Internal)
      deps.logger.error({ requestId, err: { message: (caught as Error).message } }, 'internal error in POST /<appid>/grant/token');
    if (refusal.errno === Errno.TooLarge) res.setHeader('Connection', 'close');
    else req.resume();
    status = refusal.status;
    errno = refusal.errno;
    body = refusal.toBody();
    headers = refusalHeaders(refusal.errno);
  }
  const json = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(json),
    'Cache-Control': 'no-store',
    'X-Request-Id': requestId,
    ...headers,
  });
  res.end(json);
  deps.logger.info({ requestId, appid, status, errno, ms: Number(process.hrtime.bigint() - started) / 1e6 }, 'POST grant/token');
}
