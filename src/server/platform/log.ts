/**
 * Structured logs (JSON lines, pino). What goes in: ids, appids, errnos,
 * counts, durations. What never does: keys, tokens, cookies, message bodies.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'presence' },
    // A second line of defence: these never reach a log line even if passed by mistake.
    redact: { paths: ['key', 'token', 'password', '*.authorization', '*.cookie', 'headers.authorization', 'headers.cookie'], censor: '[redacted]' },
  });
}
