/**
 * The operator session over HTTP: sign-in and sign-out (form POSTs), and the
 * guard in front of every dashboard page. Served by the custom server, which
 * owns the database; the pages themselves are Next.js.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Database } from '../platform/db/client.ts';
import {
  closeAllOperatorSessions,
  closeOperatorSession,
  openOperatorSession,
  operatorSessionValid,
  operatorTokenMatches,
  readCookie,
  SESSION_COOKIE,
  SESSION_LIFETIME_MS,
} from '../domain/operators.ts';
import { readBody } from './body.ts';
import { isSameOrigin, ownOrigin } from './origin.ts';
import type { SignInThrottle } from './signInThrottle.ts';

export const LOGIN_PATH = '/admin/login';
const LOGOUT_PATH = '/admin/logout';
/** Ends every operator session, on every node. */
const LOGOUT_EVERYWHERE_PATH = '/admin/logout-everywhere';
const FORM_PATHS: ReadonlySet<string> = new Set([LOGIN_PATH, LOGOUT_PATH, LOGOUT_EVERYWHERE_PATH]);

export interface OperatorRouteDeps {
  db: Database;
  /** The operator token, or null when none is configured (sign-in then always fails). */
  operatorToken: string | null;
  /** Counts failed sign-ins per client address. */
  signInThrottle: SignInThrottle;
}

/** True for the dashboard's pages (and its sign-in page): a normal-form path under /admin. */
export function isDashboardPath(pathname: string): boolean {
  return pathname === '/admin' || pathname.startsWith('/admin/');
}

function redirect(res: ServerResponse, location: string, cookie?: string): void {
  res.writeHead(303, { Location: location, 'Cache-Control': 'no-store', ...(cookie ? { 'Set-Cookie': cookie } : {}) });
  res.end();
}

function tooManyAttempts(res: ServerResponse, retryAfterSeconds: number): void {
  res.writeHead(429, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', 'Retry-After': String(retryAfterSeconds) });
  res.end(
    `<!doctype html><meta charset="utf-8"><title>Too many sign-in attempts</title>` +
      `<p>Too many failed sign-ins from this address. Try again in ${retryAfterSeconds} seconds.</p><p><a href="${LOGIN_PATH}">Back to sign-in</a></p>\n`,
  );
}

function sessionCookie(req: IncomingMessage, value: string, maxAgeSeconds: number): string {
  const secure = ownOrigin(req).startsWith('https:') ? '; Secure' : '';
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure}`;
}

/**
 * Handles the request if it is the operator's business: returns true when it
 * answered, false to let the web app serve it.
 */
export async function handleOperatorRequest(deps: OperatorRouteDeps, req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> {
  if (!isDashboardPath(pathname)) return false;

  if (req.method === 'POST' && FORM_PATHS.has(pathname)) {
    if (!isSameOrigin(req)) {
      res.writeHead(403, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Cross-site request refused\n');
      return true;
    }
    if (pathname === LOGOUT_PATH) {
      await closeOperatorSession(deps.db, readCookie(req.headers.cookie, SESSION_COOKIE));
      redirect(res, LOGIN_PATH, sessionCookie(req, '', 0));
      return true;
    }
    if (pathname === LOGOUT_EVERYWHERE_PATH) {
      // Only a signed-in operator may end everyone's sessions.
      if (await operatorSessionValid(deps.db, readCookie(req.headers.cookie, SESSION_COOKIE))) await closeAllOperatorSessions(deps.db);
      redirect(res, LOGIN_PATH, sessionCookie(req, '', 0));
      return true;
    }
    // A throttled address is refused before its token is looked at, so waiting is the only way on.
    const address = req.socket.remoteAddress ?? '';
    const retryAfter = deps.signInThrottle.retryAfterSeconds(address);
    if (retryAfter > 0) {
      req.resume();
      tooManyAttempts(res, retryAfter);
      return true;
    }
    const form = new URLSearchParams((await readBody(req, 8 * 1024).catch(() => Buffer.alloc(0))).toString('utf8'));
    if (deps.operatorToken === null || !operatorTokenMatches(deps.operatorToken, form.get('token')?.trim() ?? '')) {
      if (deps.operatorToken !== null) deps.signInThrottle.recordFailure(address);
      redirect(res, `${LOGIN_PATH}?error=${deps.operatorToken === null ? 'unconfigured' : 'invalid'}`);
      return true;
    }
    const secret = await openOperatorSession(deps.db, deps.operatorToken);
    redirect(res, '/admin', sessionCookie(req, secret, SESSION_LIFETIME_MS / 1000));
    return true;
  }

  if (pathname === LOGIN_PATH) return false;
  if (await operatorSessionValid(deps.db, readCookie(req.headers.cookie, SESSION_COOKIE))) return false;
  redirect(res, LOGIN_PATH);
  return true;
}
