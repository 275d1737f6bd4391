/**
 * The grant page, `/<appid>/grant` (README.md, "Consent"): served by the
 * custom server itself, as plain HTML with no script but a nonce'd one, under
 * the pages' security headers. GET shows the consent (or a sign-in, or an
 * error that redirects nowhere); a POST of the consent form answers with a
 * 303 to the app's registered redirect URI. `/<appid>/grant/signin` and
 * `/<appid>/grant/signout` open and end the page's own session;
 * `/<appid>/grant/token` is the app's exchange (grantTokenRoute.ts).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  checkGrantRequest,
  closeUserSession,
  consentFormToken,
  consentFormTokenMatches,
  GrantRequestRefused,
  issueGrantCode,
  redirectWith,
  signInWithDeviceToken,
  signInWithPairingCode,
  USER_SESSION_COOKIE,
  USER_SESSION_LIFETIME_MS,
  userSession,
  type GrantRequest,
  type UserSession,
} from '../domain/consent.ts';
import { readCookie } from '../domain/operators.ts';
import { isStorageUnavailable, type Database } from '../platform/db/client.ts';
import type { Logger } from '../platform/log.ts';
import { BodyTooLarge, readBody } from './body.ts';
import { handleGrantTokenRequest } from './grantTokenRoute.ts';
import type { NotificationRouteDeps } from './notificationRoute.ts';
import { isSameOrigin, ownOrigin } from './origin.ts';
import { pagePolicy } from './securityHeaders.ts';
import type { SignInThrottle } from './signInThrottle.ts';

const routePattern = /^\/([^/]+)\/grant(?:\/(signin|signout|token))?$/;

/** The routes under `/<appid>/grant`. */
export type GrantRoute = { appid: string; kind: 'page' | 'signin' | 'signout' | 'token' };

/** The grant route `pathname` names, or null. */
export function matchGrantRoute(pathname: string): GrantRoute | null {
  const match = routePattern.exec(pathname);
  if (!match) return null;
  return { appid: match[1] as string, kind: (match[2] as GrantRoute['kind'] | undefined) ?? 'page' };
}

export interface GrantRouteDeps {
  db: Database;
  logger: Logger;
  /** Counts failed sign-ins (device tokens, pairing codes) per client address; shared with `POST /pair`. */
  throttle: SignInThrottle;
  /** The exchange shares the notification route's key check and rate limit. */
  notifications: NotificationRouteDeps;
  dev: boolean;
}

/** A form of the page holds two short fields and a state of at most 512 characters. */
const MAX_FORM_BYTES = 16 * 1024;

/** The device page's key for its token in the browser's storage (src/app/device/deviceToken.ts). */
const DEVICE_TOKEN_STORAGE_KEY = 'presence.deviceToken';

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1b1f24}
main{max-width:28rem;margin:3rem auto;padding:1.5rem;background:#fff;border-radius:12px;box-shadow:0 1px 4px rgba(0,0,0,.12)}
h1{font-size:1.35rem;margin:0 0 1rem}
p{margin:.5rem 0}
.muted{color:#57606a;font-size:.9rem}
.error{color:#a40e26}
form{margin:1rem 0 0}
label{display:block;font-weight:600;margin:.75rem 0 .25rem}
input[type=password],input[type=text]{width:100%;box-sizing:border-box;padding:.5rem;font:inherit;border:1px solid #8c959f;border-radius:6px}
.buttons{display:flex;gap:.75rem;margin-top:1.25rem}
button{font:inherit;padding:.55rem 1.2rem;border-radius:6px;border:1px solid #8c959f;background:#fff;cursor:pointer}
button.primary{background:#0b5cd5;border-color:#0b5cd5;color:#fff}
.link{border:0;background:none;padding:0;color:#0b5cd5;text-decoration:underline;font-size:.9rem}
`;

interface PageOptions {
  status: number;
  title: string;
  body: string;
  /** Origins the page's forms may be redirected to. */
  formActions?: readonly string[];
  script?: string;
}

function sendPage(deps: GrantRouteDeps, res: ServerResponse, page: PageOptions, headers: Record<string, string> = {}): void {
  const nonce = randomBytes(18).toString('base64');
  const html =
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<meta name="referrer" content="same-origin"><title>${escapeHtml(page.title)} · Presence</title><style nonce="${nonce}">${STYLE}</style></head>` +
    `<body><main>${page.body}</main>${page.script ? `<script nonce="${nonce}">${page.script}</script>` : ''}</body></html>\n`;
  res.writeHead(page.status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(html),
    'Cache-Control': 'no-store',
    'Content-Security-Policy': pagePolicy(nonce, deps.dev, page.formActions ?? []),
    ...headers,
  });
  res.end(html);
}

function sendErrorPage(deps: GrantRouteDeps, res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  sendPage(
    deps,
    res,
    { status, title: 'This link does not work', body: `<h1>This link does not work</h1><p class="error" role="alert">${escapeHtml(message)}</p>` },
    headers,
  );
}

/** The hidden fields that carry the app's request through a form. */
function requestFields(request: GrantRequest): string {
  const state = request.state === null ? '' : `<input type="hidden" name="state" value="${escapeHtml(request.state)}">`;
  return `<input type="hidden" name="redirect_uri" value="${escapeHtml(request.redirectUri)}">${state}`;
}

/** The page's own address for this request. */
function pagePath(request: GrantRequest): string {
  const query = new URLSearchParams({ redirect_uri: request.redirectUri });
  if (request.state !== null) query.set('state', request.state);
  return `/${request.app.id}/grant?${query.toString()}`;
}

function sendConsentPage(deps: GrantRouteDeps, res: ServerResponse, request: GrantRequest, session: UserSession, secret: string): void {
  const app = escapeHtml(request.app.name);
  const target = new URL(request.redirectUri);
  sendPage(deps, res, {
    status: 200,
    title: `Allow ${request.app.name} to notify you?`,
    formActions: [target.origin],
    body:
      `<h1>Allow <span class="app-name">${app}</span> to send you notifications?</h1>` +
      `<p><strong>${app}</strong> asks to send notifications to your devices. It gets an ID made for it alone: it does not learn who you are, and cannot read anything else.</p>` +
      `<p class="muted">You will be sent back to ${escapeHtml(target.origin)}. You can take this back on your device page at any time.</p>` +
      `<form method="post" action="/${request.app.id}/grant">${requestFields(request)}` +
      `<input type="hidden" name="csrf" value="${escapeHtml(consentFormToken(secret))}">` +
      `<div class="buttons"><button class="primary" type="submit" name="decision" value="allow">Allow</button>` +
      `<button type="submit" name="decision" value="deny">Deny</button></div></form>` +
      `<form method="post" action="/${request.app.id}/grant/signout">${requestFields(request)}` +
      `<p class="muted">Signed in as ${escapeHtml(session.userName)}. <button class="link" type="submit">Not you? Sign out</button></p></form>`,
  });
}

function sendSignInPage(deps: GrantRouteDeps, res: ServerResponse, request: GrantRequest, error: string | null): void {
  const action = `/${request.app.id}/grant/signin`;
  sendPage(deps, res, {
    status: error ? 401 : 200,
    title: 'Sign in',
    body:
      `<h1>Sign in to answer <span class="app-name">${escapeHtml(request.app.name)}</span></h1>` +
      (error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : '') +
      `<p><strong>${escapeHtml(request.app.name)}</strong> asks to send you notifications. First say who you are, with this device's token or a pairing code from a device page where you are signed in.</p>` +
      `<form id="device-token-form" method="post" action="${action}">${requestFields(request)}` +
      `<label for="token">Device token</label><input id="token" type="password" name="token" autocomplete="off" placeholder="prs_dev_…">` +
      `<div class="buttons"><button class="primary" type="submit">Sign in</button></div></form>` +
      `<form method="post" action="${action}">${requestFields(request)}` +
      `<label for="code">Pairing code</label><input id="code" type="text" name="code" autocomplete="off" placeholder="XXXX-XXXX">` +
      `<div class="buttons"><button type="submit">Sign in with the code</button></div></form>`,
    // Signed in on the device page of this browser: use its token, once (a refused one shows the error instead).
    ...(error
      ? {}
      : {
          script: `try{var t=localStorage.getItem(${JSON.stringify(DEVICE_TOKEN_STORAGE_KEY)});if(t){var f=document.getElementById('device-token-form');f.elements.token.value=t;f.submit();}}catch(e){}`,
        }),
  });
}

function sessionCookie(req: IncomingMessage, value: string, maxAgeSeconds: number): string {
  const secure = ownOrigin(req).startsWith('https:') ? '; Secure' : '';
  // Lax, not Strict: the browser arrives here from the app's site, and the page must know the user then.
  return `${USER_SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAgeSeconds}${secure}`;
}

function redirect(res: ServerResponse, location: string, headers: Record<string, string> = {}): void {
  res.writeHead(303, { Location: location, 'Cache-Control': 'no-store', ...headers }).end();
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const body = await readBody(req, MAX_FORM_BYTES).catch((error: unknown) => {
    throw error instanceof BodyTooLarge ? new GrantRequestRefused(413, 'The form is too large.') : error;
  });
  return new URLSearchParams(body.toString('utf8'));
}

const CROSS_SITE =
  'This form was not sent from this page of Presence (another site, or a page open from before), so nothing was done. Open the app’s link again.';

async function showPage(deps: GrantRouteDeps, req: IncomingMessage, res: ServerResponse, appid: string): Promise<void> {
  const request = await checkGrantRequest(deps.db, { appid, params: new URL(req.url ?? '/', 'http://x').searchParams });
  const secret = readCookie(req.headers.cookie, USER_SESSION_COOKIE);
  const session = await userSession(deps.db, secret);
  if (session && secret) sendConsentPage(deps, res, request, session, secret);
  else sendSignInPage(deps, res, request, null);
}

async function decide(deps: GrantRouteDeps, req: IncomingMessage, res: ServerResponse, appid: string): Promise<void> {
  if (!isSameOrigin(req)) {
    req.resume();
    sendErrorPage(deps, res, 403, CROSS_SITE);
    return;
  }
  const form = await readForm(req);
  const secret = readCookie(req.headers.cookie, USER_SESSION_COOKIE);
  const session = await userSession(deps.db, secret);
  if (!session || !secret || !consentFormTokenMatches(secret, form.get('csrf') ?? '')) {
    sendErrorPage(deps, res, 403, CROSS_SITE);
    return;
  }
  const request = await checkGrantRequest(deps.db, { appid, params: form });
  const decision = form.get('decision');
  if (decision === 'allow') {
    const code = await issueGrantCode(deps.db, { appid: request.app.id, userId: session.userId });
    redirect(res, redirectWith(request.redirectUri, { code, state: request.state }));
  } else if (decision === 'deny') {
    redirect(res, redirectWith(request.redirectUri, { error: 'access_denied', state: request.state }));
  } else {
    sendErrorPage(deps, res, 400, 'Choose Allow or Deny.');
  }
}

async function signIn(deps: GrantRouteDeps, req: IncomingMessage, res: ServerResponse, appid: string): Promise<void> {
  if (!isSameOrigin(req)) {
    req.resume();
    sendErrorPage(deps, res, 403, CROSS_SITE);
    return;
  }
  // A throttled address is refused before its token or code is looked at, so waiting is the only way on.
  const address = req.socket.remoteAddress ?? '';
  const retryAfter = deps.throttle.retryAfterSeconds(address);
  if (retryAfter > 0) {
    req.resume();
    sendErrorPage(deps, res, 429, `Too many failed sign-ins from this address. Try again in ${retryAfter} seconds.`, { 'Retry-After': String(retryAfter) });
    return;
  }
  const form = await readForm(req);
  const request = await checkGrantRequest(deps.db, { appid, params: form });
  const token = form.get('token')?.trim() ?? '';
  const code = form.get('code')?.trim() ?? '';
  const secret = token !== '' ? await signInWithDeviceToken(deps.db, token) : code !== '' ? await signInWithPairingCode(deps.db, code) : null;
  if (!secret) {
    if (token !== '' || code !== '') deps.throttle.recordFailure(address);
    sendSignInPage(
      deps,
      res,
      request,
      token !== ''
        ? 'That device token is not valid.'
        : code !== ''
          ? 'That pairing code is unknown, used or expired.'
          : 'Enter a device token or a pairing code.',
    );
    return;
  }
  redirect(res, pagePath(request), { 'Set-Cookie': sessionCookie(req, secret, USER_SESSION_LIFETIME_MS / 1000) });
}

async function signOut(deps: GrantRouteDeps, req: IncomingMessage, res: ServerResponse, appid: string): Promise<void> {
  if (!isSameOrigin(req)) {
    req.resume();
    sendErrorPage(deps, res, 403, CROSS_SITE);
    return;
  }
  const form = await readForm(req);
  await closeUserSession(deps.db, readCookie(req.headers.cookie, USER_SESSION_COOKIE));
  const request = await checkGrantRequest(deps.db, { appid, params: form });
  redirect(res, pagePath(request), { 'Set-Cookie': sessionCookie(req, '', 0) });
}

/** Handles one request to a grant route. Never throws; every outcome is an answer. */
export async function handleGrantRequest(deps: GrantRouteDeps, req: IncomingMessage, res: ServerResponse, route: GrantRoute): Promise<void> {
  if (route.kind === 'token') return handleGrantTokenRequest(deps.notifications, req, res, route.appid);
  try {
    if (route.kind === 'page' && (req.method === 'GET' || req.method === 'HEAD')) await showPage(deps, req, res, route.appid);
    else if (req.method !== 'POST') {
      req.resume();
      sendErrorPage(deps, res, 405, 'Method not allowed.', { Allow: route.kind === 'page' ? 'GET, POST' : 'POST' });
    } else if (route.kind === 'page') await decide(deps, req, res, route.appid);
    else if (route.kind === 'signin') await signIn(deps, req, res, route.appid);
    else await signOut(deps, req, res, route.appid);
  } catch (error) {
    if (res.headersSent) {
      res.end();
      return;
    }
    req.resume();
    if (error instanceof GrantRequestRefused) sendErrorPage(deps, res, error.status, error.message);
    else if (isStorageUnavailable(error))
      sendErrorPage(deps, res, 503, 'Presence cannot reach its storage right now. Try again in a moment.', { 'Retry-After': '5' });
    else {
      deps.logger.error({ path: `/${route.appid}/grant`, err: { message: (error as Error).message } }, 'grant page failed');
      sendErrorPage(deps, res, 500, 'Something went wrong on our side.');
    }
  }
}
