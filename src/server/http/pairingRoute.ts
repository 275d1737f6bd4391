/**
 * `POST /pair`: a new device exchanges a pairing code, issued on a signed-in
 * device page, for a device token of the same user (README.md, "Pairing a
 * device"). Attempts with unknown codes are throttled per client address,
 * because codes are short enough to type and so to guess.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isStorageUnavailable, type Database } from '../platform/db/client.ts';
import { AppError, Errno } from '../domain/errors.ts';
import { exchangePairingCode } from '../domain/pairing.ts';
import type { Logger } from '../platform/log.ts';
import { readBody } from './body.ts';
import type { SignInThrottle } from './signInThrottle.ts';

export const PAIR_PATH = '/pair';

/** A code and a device name fit in far less. */
const MAX_BODY_BYTES = 4 * 1024;

const jsonType = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

export interface PairingRouteDeps {
  db: Database;
  logger: Logger;
  /** Counts attempts with unknown codes per client address (the sign-in throttle's rule: 10, then one every 6 s). */
  throttle: SignInThrottle;
}

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

function refuse(res: ServerResponse, error: AppError, headers: Record<string, string> = {}): void {
  send(res, error.status, error.toBody(), headers);
}

/** The code and name of a pairing request, or an AppError saying what is wrong. */
function parseRequest(req: IncomingMessage, body: Buffer): { code: string; name?: string } {
  if (!jsonType.test(req.headers['content-type'] ?? '')) throw new AppError(Errno.NotJson, 'send Content-Type: application/json');
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new AppError(Errno.InvalidJson, 'body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new AppError(Errno.InvalidField, 'body must be {"code": "…", "name": "…"}');
  const { code, name } = value as Record<string, unknown>;
  if (typeof code !== 'string') throw new AppError(Errno.InvalidField, '"code" is required: the pairing code shown on the device page');
  if (name !== undefined && typeof name !== 'string') throw new AppError(Errno.InvalidField, '"name" must be a string');
  return name === undefined ? { code } : { code, name };
}

/** Handles one request to {@link PAIR_PATH}. Never throws; every outcome is an answer. */
export async function handlePairingRequest(deps: PairingRouteDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'POST') {
    req.resume();
    refuse(res, new AppError(Errno.MethodNotAllowed, 'use POST'), { Allow: 'POST' });
    return;
  }
  // A throttled address is refused before its code is looked at, so waiting is the only way on.
  const address = req.socket.remoteAddress ?? '';
  const retryAfter = deps.throttle.retryAfterSeconds(address);
  if (retryAfter > 0) {
    req.resume();
    refuse(res, new AppError(Errno.PairingThrottled, `too many failed pairing attempts from this address: try again in ${retryAfter} s`), {
      'Retry-After': String(retryAfter),
    });
    return;
  }
  try {
    const body = await readBody(req, MAX_BODY_BYTES).catch(() => {
      throw new AppError(Errno.TooLarge, `body larger than ${MAX_BODY_BYTES} bytes`);
    });
    const paired = await exchangePairingCode(deps.db, parseRequest(req, body));
    send(res, 200, paired);
  } catch (error) {
    if (error instanceof AppError) {
      // Guessing shows as unknown codes; a used or expired code was issued, so it is no guess.
      if (error.errno === Errno.PairingCodeUnknown) deps.throttle.recordFailure(address);
      refuse(res, error);
    } else if (isStorageUnavailable(error)) {
      refuse(res, new AppError(Errno.StorageUnavailable, 'storage unavailable, retry later'), { 'Retry-After': '5' });
    } else {
      deps.logger.error({ path: PAIR_PATH, err: { message: (error as Error).message } }, 'pairing failed');
      refuse(res, new AppError(Errno.Internal, 'internal error'));
    }
  }
}
