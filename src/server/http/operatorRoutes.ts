/**
 * The operator session over HTTP: sign-in and sign-out (form POSTs), and the
 * guard in front of every dashboard page. Served by the custom server, which
 * owns the database; the pages themselves are Next.js.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Database } from '../db/client.ts';
import {
  closeOperatorSession,
  openOperatorSession,
  operatorSessionValid,
  operatorTokenMatches,
  readCookie,
  SESSION_COOKIE,
  SESSION_LIFETIME_MS,
} from '../operators.ts';
import { readBody } from './body.ts';
import { isSameOrigin, ownOrigin } from './origin.ts';

export const LOGIN_PATH = '/admin/login';
const LOGOUT_PATH = '/admin/logout';

export interface OperatorRouteDeps {
  db: Database;
  /** The operator token, or null when none is configured (sign-in then always fails). */
  operatorToken: string | null;
}

function redirect(res: ServerResponse, location: string, cookie?: string): void {
  res.writeHead(303, { Location: location, 'Cache-Control': 'no-store', ...(cookie ? { 'Set-Cookie': cookie } : {}) });
  res.end();
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
  if (pathname !== '/admin' && !pathname.startsWith('/admin/')) return false;

  if (req.method === 'POST' && (pathname === LOGIN_PATH || pathname === LOGOUT_PATH)) {
    if (!isSameOrigin(req)) {
      res.writeHead(403, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Cross-site request refused\n');
      return true;
    }
    if (pathname === LOGOUT_PATH) {
      await closeOperatorSession(deps.db, readCookie(req.headers.cookie, SESSION_COOKIE));
      redirect(res, LOGIN_PATH, sessionCookie(req, '', 0));
      return true;
    }
    const form = new URLSearchParams((await readBody(req, 8 * 1024).catch(() => Buffer.alloc(0))).toString('utf8'));
    if (!operatorTokenMatches(deps.operatorToken, form.get('token')?.trim() ?? '')) {
      redirect(res, `${LOGIN_PATH}?error=${deps.operatorToken === null ? 'unconfigured' : 'invalid'}`);
      return true;
    }
    const secret = await openOperatorSession(deps.db);
    redirect(res, '/admin', sessionCookie(req, secret, SESSION_LIFETIME_MS / 1000));
    return true;
  }

  if (pathname === LOGIN_PATH) return false;
  if (await operatorSessionValid(deps.db, readCookie(req.headers.cookie, SESSION_COOKIE))) return false;
  redirect(res, LOGIN_PATH);
  return true;
}
