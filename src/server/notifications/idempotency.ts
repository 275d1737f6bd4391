/**
 * Safe retries: a POST with an `Idempotency-Key` that succeeded is answered
 * again with its first ack, for 24 hours, and stores nothing new. The key is
 * claimed inside the push transaction under a unique (app, key), so it exists
 * only if the push committed, and two concurrent retries cannot both store.
 */
import { createHash } from 'node:crypto';
import type { Database } from '../db/client.ts';
import { AppError, Errno } from '../errors.ts';
import type { Transaction } from '../queues.ts';
import type { Ack } from './push.ts';

export const IDEMPOTENCY_WINDOW_HOURS = 24;

/** Printable ASCII without spaces, 1 to 255 characters (what clients put in a header). */
const keySyntax = /^[\x21-\x7e]{1,255}$/;

/** A request's key and the digest of its body. */
export interface IdempotentRequest {
  key: string;
  bodyDigest: Buffer;
}

/** Reads the header; throws 102 if it is present but unusable. */
export function idempotentRequest(header: string | string[] | undefined, body: Buffer): IdempotentRequest | null {
  if (header === undefined) return null;
  if (typeof header !== 'string' || !keySyntax.test(header)) {
    throw new AppError(Errno.InvalidField, 'Idempotency-Key must be 1 to 255 printable ASCII characters without spaces');
  }
  return { key: header, bodyDigest: createHash('sha256').update(body).digest() };
}

/** Thrown inside the transaction when another request holds the key: the caller answers as for a replay. */
export class IdempotencyKeyTaken extends Error {}

/**
 * The first ack of an earlier success with this key, or null if there was
 * none within the window; 120 if the key came with a different body.
 */
export async function priorAck(db: Database, appId: string, request: IdempotentRequest): Promise<Ack | null> {
  const { rows } = await db.pool.query<{ request_digest: Buffer; response: Ack | null }>(
    `SELECT request_digest, response FROM idempotency_keys
      WHERE app_id = $1 AND key = $2 AND created_at > now() - make_interval(hours => $3)`,
    [appId, request.key, IDEMPOTENCY_WINDOW_HOURS],
  );
  const row = rows[0];
  if (!row || row.response === null) return null;
  if (!row.request_digest.equals(request.bodyDigest)) {
    throw new AppError(Errno.IdempotencyKeyReused, 'Idempotency-Key was used with a different body');
  }
  return row.response;
}

/**
 * Claims the key at the start of the push transaction (a concurrent retry
 * waits here until the first commits or rolls back). Throws
 * IdempotencyKeyTaken if a live claim exists; an expired one is taken over.
 */
export async function claimKey(tx: Transaction, appId: string, request: IdempotentRequest): Promise<void> {
  const claimed = await tx.$executeRawUnsafe(
    `INSERT INTO idempotency_keys (app_id, key, request_digest) VALUES ($1, $2, $3)
     ON CONFLICT (app_id, key) DO UPDATE
       SET request_digest = EXCLUDED.request_digest, response = NULL, created_at = now()
       WHERE idempotency_keys.created_at <= now() - make_interval(hours => $4)`,
    appId,
    request.key,
    request.bodyDigest,
    IDEMPOTENCY_WINDOW_HOURS,
  );
  if (claimed === 0) throw new IdempotencyKeyTaken();
}

/** Stores the ack to replay, in the same transaction. */
export async function recordAck(tx: Transaction, appId: string, request: IdempotentRequest, ack: Ack): Promise<void> {
  await tx.$executeRawUnsafe(`UPDATE idempotency_keys SET response = $3::jsonb WHERE app_id = $1 AND key = $2`, appId, request.key, JSON.stringify(ack));
}

/** Forgets keys older than the window. */
export async function sweepIdempotencyKeys(db: Database): Promise<number> {
  const { rowCount } = await db.pool.query(`DELETE FROM idempotency_keys WHERE created_at <= now() - make_interval(hours => $1)`, [IDEMPOTENCY_WINDOW_HOURS]);
  return rowCount ?? 0;
}
