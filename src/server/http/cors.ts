/**
 * CORS for the REST route: off unless CORS_ORIGINS lists origins (or "*").
 * App keys belong on servers, so browsers are let in only on purpose.
 */
import type { IncomingMessage } from 'node:http';

/** The Access-Control headers for this request's Origin, or none. */
export function corsHeaders(allowed: readonly string[], req: IncomingMessage): Record<string, string> {
  const origin = req.headers.origin;
  if (!origin || allowed.length === 0 || !(allowed.includes('*') || allowed.includes(origin))) return {};
  return { 'Access-Control-Allow-Origin': origin, Vary: 'Origin', 'Access-Control-Expose-Headers': 'Retry-After, X-Request-Id' };
}

/** The answer to a preflight from an allowed origin, or null (then OPTIONS is refused like any other method). */
export function preflightHeaders(allowed: readonly string[], req: IncomingMessage): Record<string, string> | null {
  const headers = corsHeaders(allowed, req);
  if (req.method !== 'OPTIONS' || !headers['Access-Control-Allow-Origin']) return null;
  return {
    ...headers,
    'Access-Control-Allow-Methods': 'POST',
    'Access-Control-Allow-Headers': 'Authorization, Content-Type, Idempotency-Key, X-Request-Id',
    'Access-Control-Max-Age': '600',
  };
}
