/** Same-origin checks for what a browser sends with the operator cookie. */
import type { IncomingMessage } from 'node:http';

/** The origin this request was addressed to, as a browser on it would write it. */
export function ownOrigin(req: IncomingMessage): string {
  const forwarded = req.headers['x-forwarded-proto'];
  const proto = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim() ?? ('encrypted' in req.socket ? 'https' : 'http');
  return `${proto}://${req.headers.host ?? ''}`;
}

/**
 * False when the request says it comes from another origin. A request without
 * an Origin header did not come from a page a browser runs (browsers send it
 * with every POST and WebSocket), so no other site can have forged it.
 */
export function isSameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  return origin === undefined || origin === ownOrigin(req);
}
