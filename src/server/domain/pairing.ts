/**
 * Pairing without an operator: a signed-in device issues a one-time code, and
 * a new device exchanges it for a device token of the same user. Codes are
 * short enough to type, so they live minutes, are used once, and are stored
 * only as SHA-256 digests like every other secret.
 */
import { randomInt, randomUUID } from 'node:crypto';
import type { Database } from '../platform/db/client.ts';
import { announceSql } from '../platform/signals.ts';
import { AppError, Errno } from './errors.ts';
import { checkName } from './operatorInput.ts';
import { digestSecret, newSecret } from './secrets.ts';

/** No look-alikes: no 0/O, 1/I/L, U/V, 8/B, 5/S. */
export const PAIRING_ALPHABET = 'ACDEFGHJKMNPQRTVWXYZ234679';
/** Characters in a code (shown as XXXX-XXXX): 26^8, about 2 * 10^11 codes. */
const CODE_LENGTH = 8;
/** How long a code can be exchanged. */
export const PAIRING_CODE_LIFETIME_MS = 10 * 60_000;
/** Unused, unexpired codes a user may hold; issuing one more retires the oldest. */
export const LIVE_CODES_PER_USER = 3;
/** Used and expired codes are kept this long (so a late attempt hears "used" or "expired"), then deleted. */
const KEEP_SPENT_CODES_MS = 24 * 60 * 60_000;

/** The name a paired device gets when none is given. */
const DEFAULT_DEVICE_NAME = 'paired device';

/** A code in its stored form: capitals, without the dashes and spaces people type. */
export function normalisePairingCode(code: string): string {
  return code.replace(/[\s-]+/g, '').toUpperCase();
}

/** A code as shown: XXXX-XXXX. */
function formatCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

function newCode(): string {
  let code = '';
  for (let i = 0; i < CODE_LENGTH; i++) code += PAIRING_ALPHABET[randomInt(PAIRING_ALPHABET.length)];
  return code;
}

export interface IssuedPairingCode {
  /** XXXX-XXXX; shown this once. */
  code: string;
  expiresAt: Date;
}

/** Issues a one-time code for this user, retiring the oldest live ones past {@link LIVE_CODES_PER_USER}. */
export async function issuePairingCode(db: Database, userId: string): Promise<IssuedPairingCode> {
  for (;;) {
    const code = newCode();
    const { rows } = await db.pool.query<{ expires_at: Date }>(
      `WITH spent AS (
         DELETE FROM pairing_codes WHERE user_id = $1 AND coalesce(used_at, expires_at) < now() - $4 * interval '1 millisecond'
       ), retired AS (
         UPDATE pairing_codes SET expires_at = now()
          WHERE id IN (SELECT id FROM pairing_codes WHERE user_id = $1 AND used_at IS NULL AND expires_at > now()
                        ORDER BY created_at DESC OFFSET $5)
       )
       INSERT INTO pairing_codes (id, user_id, code_digest, expires_at)
       VALUES ($2, $1, $3, now() + $6 * interval '1 millisecond')
       ON CONFLICT (code_digest) DO NOTHING
       RETURNING expires_at`,
      [userId, randomUUID(), digestSecret(code), KEEP_SPENT_CODES_MS, LIVE_CODES_PER_USER - 1, PAIRING_CODE_LIFETIME_MS],
    );
    // A digest already stored (a code drawn twice within a day): draw again.
    if (rows[0]) return { code: formatCode(code), expiresAt: rows[0].expires_at };
  }
}

export interface PairedDevice {
  token: string;
  deviceId: string;
  deviceName: string;
}

/**
 * Exchanges a code for a new device of the code's user. One statement marks
 * the code used and creates the device, so concurrent attempts with one code
 * get one token: the second waits for the first's row lock and then no longer
 * finds the code unused.
 */
export async function exchangePairingCode(db: Database, input: { code: string; name?: string | undefined }): Promise<PairedDevice> {
  const deviceName = checkName('device', input.name ?? DEFAULT_DEVICE_NAME);
  const code = normalisePairingCode(input.code);
  const digest = digestSecret(code);
  if (code.length !== CODE_LENGTH || [...code].some((c) => !PAIRING_ALPHABET.includes(c))) {
    throw new AppError(Errno.PairingCodeUnknown, `no such pairing code: a code is ${CODE_LENGTH} letters and digits, like ABCD-EFGH`);
  }
  const token = newSecret('dev');
  const deviceId = randomUUID();
  const { rowCount } = await db.pool.query(
    `WITH claimed AS (
       UPDATE pairing_codes SET used_at = now() WHERE code_digest = $1 AND used_at IS NULL AND expires_at > now() RETURNING user_id
     )
     INSERT INTO devices (id, user_id, name, token_digest) SELECT $2, user_id, $3, $4 FROM claimed`,
    [digest, deviceId, deviceName, digestSecret(token)],
  );
  if (rowCount === 1) {
    await db.pool.query(announceSql('devices'));
    return { token, deviceId, deviceName };
  }
  const { rows } = await db.pool.query<{ used: boolean }>('SELECT used_at IS NOT NULL AS used FROM pairing_codes WHERE code_digest = $1', [digest]);
  if (!rows[0]) throw new AppError(Errno.PairingCodeUnknown, 'no such pairing code: check it, or get a new one on the device page');
  if (rows[0].used) throw new AppError(Errno.PairingCodeUsed, 'this pairing code was used already: get a new one on the device page');
  throw new AppError(Errno.PairingCodeExpired, 'this pairing code has expired: get a new one on the device page');
}
