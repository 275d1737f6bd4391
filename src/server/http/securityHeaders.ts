/**
 * The security headers of every answer. Pages get a Content Security Policy
 * with a fresh nonce per request, which Next.js puts on its own scripts when
 * it finds the policy among the request headers (the pages render per
 * request, see src/app/layout.tsx); every other answer gets a policy that
 * allows nothing. Nothing may be framed, and nothing of the dashboard cached.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Headers that do not depend on the request. */
const FIXED_HEADERS: Record<string, string> = {
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  // Not no-referrer: under it Chromium sends `Origin: null` with same-origin form POSTs, which sign-in refuses.
  'Referrer-Policy': 'same-origin',
};

/** For answers that are not pages (JSON, text, metrics): nothing to load, nothing to frame. */
const NON_PAGE_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * The policy of a page: its own origin only, scripts by nonce. Development (hot reload) needs eval and inline styles.
 * `formActions` are other origins a form may post to or be redirected to (browsers check redirects after a form post too).
 */
export function pagePolicy(nonce: string, dev: boolean, formActions: readonly string[] = []): string {
  return [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'${dev ? " 'unsafe-eval'" : ''}`,
    dev ? "style-src 'self' 'unsafe-inline'" : `style-src 'self' 'nonce-${nonce}'`,
    // React writes a few computed widths and colours as style attributes; attributes cannot run code.
    "style-src-attr 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    // The device page and the dashboard open their WebSocket to /presence on this origin.
    "connect-src 'self'",
    "worker-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    ["form-action 'self'", ...formActions].join(' '),
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Sets the headers every answer carries, before any route writes its own. */
export function setSecurityHeaders(res: ServerResponse): void {
  for (const [name, value] of Object.entries(FIXED_HEADERS)) res.setHeader(name, value);
  res.setHeader('Content-Security-Policy', NON_PAGE_POLICY);
}

/**
 * For a request Next.js will answer: a fresh nonce, in the policy of the
 * answer and in the request's policy header, where Next.js reads it.
 */
export function preparePageRequest(req: IncomingMessage, res: ServerResponse, dev: boolean): void {
  const policy = pagePolicy(randomBytes(18).toString('base64'), dev);
  req.headers['content-security-policy'] = policy;
  delete req.headers['content-security-policy-report-only'];
  res.setHeader('Content-Security-Policy', policy);
}

/** Signed-in pages (and the sign-in page) must never come from a cache: Next.js may not loosen that. */
export function forbidCaching(res: ServerResponse): void {
  res.setHeader('Cache-Control', 'no-store');
  const setHeader = res.setHeader.bind(res);
  res.setHeader = (name, value) => (name.toLowerCase() === 'cache-control' ? res : setHeader(name, value));
}
