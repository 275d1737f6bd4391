/** Retry delays with jitter, so that clients cut off together do not come back together. */

/**
 * The delay before retry number `attempt` (0 first): `baseMs` doubling up to
 * `maxMs`, each delay between half and all of it. The defaults are the
 * channel's reconnect backoff: 0.5 s doubling to 30 s.
 */
export function backoffDelay(attempt: number, baseMs = 500, maxMs = 30_000): number {
  return Math.min(maxMs, baseMs * 2 ** attempt) * (0.5 + Math.random() / 2);
}
