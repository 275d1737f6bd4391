/**
 * Sending, after the transport's own checks: validate a parsed body and
 * store it. The REST route and the dashboard's test send both call this.
 */
import type { AppIdentity } from '../apps.ts';
import type { Database } from '../../platform/db/client.ts';
import { pushNotifications, type PushOptions, type PushOutcome } from './push.ts';
import { validateBatch } from './validate.ts';

/** Validates `body` for `app` (shape, items, then UIDs under the lock) and stores it; throws the refusal. */
export async function sendNotifications(db: Database, app: AppIdentity, body: unknown, options: PushOptions = {}): Promise<PushOutcome> {
  const items = validateBatch(body, app.schemes);
  return pushNotifications(db, app.id, items, options);
}

/** How many items a body holds, for the ack log (0 when it is not a batch at all). */
export function batchSize(body: unknown): number {
  if (Array.isArray(body)) return body.length;
  return body !== null && typeof body === 'object' ? 1 : 0;
}
