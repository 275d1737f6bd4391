/**
 * Safe retries: a POST with an `Idempotency-Key` that succeeded is answered
 * again with its first ack, for 24 hours, and stores nothing new. The key is
 * claimed inside the push transaction under a unique (app, key), so it exists
 * only if the push committed, and two concurrent retries cannot both store.
 */
import { createHash } from 'node:crypto';
import type { Database } from '../../platform/db/client.ts';
import { prepared } from '../../platform/db/prepared.ts';
import { AppError, Errno } from '../errors.ts';
import type { StoredAck } from './ack.ts';

/** How long a key's claim and ack are kept, in hours. */
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

/** The answer for a push whose key another request holds: the caller answers as for a replay. */
export class IdempotencyKeyTaken {}

/**
 * The first ack of an earlier success with this key, or null if there was
 * none within the window; 120 if the key came with a different body.
 */
export async function priorAck(db: Database, appId: string, request: IdempotentRequest): Promise<StoredAck | null> {
  const { rows } = await db.pool.query<{ request_digest: Buffer; response: StoredAck | null }>(
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
 * $1 apps, $2 keys, $3 body digests (hex), aligned: claims the keys at the
 * start of the push transaction, in one order (a concurrent retry waits here
 * until the first commits or rolls back), and returns those claimed. A live
 * claim is kept; an expired one is taken over (claim_idempotency_keys, of
 * prisma/migrations/20261202030000_push_group).
 */
export const CLAIM_KEYS = prepared(
  'claim-idempotency-keys',
  `SELECT app_id, key FROM claim_idempotency_keys($1::text[], $2::text[], $3::text[], ${IDEMPOTENCY_WINDOW_HOURS})`,
);

/** The apps, keys and body digests (hex) of the keyed requests among `requests`, aligned, as the claim takes them. */
export function keyColumns(requests: readonly { appId: string; idempotency?: IdempotentRequest | null }[]): [string[], string[], string[]] {
  const keyed = requests.flatMap((r) => (r.idempotency ? [{ appId: r.appId, ...r.idempotency }] : []));
  return [keyed.map((k) => k.appId), keyed.map((k) => k.key), keyed.map((k) => k.bodyDigest.toString('hex'))];
}

/** $1 JSON array of {app_id, key, response}: stores the retractions' acks to replay, in the same transaction (a push's is recorded by the statement that stores it). */
export const RECORD_ACKS = prepared(
  'record-idempotent-acks',
  `
  UPDATE idempotency_keys k
     SET response = r.response
    FROM jsonb_to_recordset($1::jsonb) AS r(app_id text, key text, response jsonb)
   WHERE k.app_id = r.app_id AND k.key = r.key`,
);

/** Forgets keys older than the window. */
export async function sweepIdempotencyKeys(db: Database): Promise<number> {
  const { rowCount } = await db.pool.query(`DELETE FROM idempotency_keys WHERE created_at <= now() - make_interval(hours => $1)`, [IDEMPOTENCY_WINDOW_HOURS]);
  return rowCount ?? 0;
}
