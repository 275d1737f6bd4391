/**
 * The errnos of the REST route and the operator API, their HTTP statuses, the
 * shape of a refusal, and the meanings documented to application developers
 * (README, the home page and the dashboard show them).
 */

/** REST errnos and the operator API's own (3xx). */
export const Errno = {
  InvalidJson: 100,
  NotNotifications: 101,
  InvalidField: 102,
  UnknownField: 103,
  ActionNotAllowed: 104,
  UnknownUid: 105,
  TooLarge: 106,
  NotJson: 107,
  MethodNotAllowed: 108,
  MissingCredentials: 110,
  InvalidKey: 111,
  IdempotencyKeyReused: 120,
  SlowDown: 129,
  /** Pairing (`POST /pair`): no such code. */
  PairingCodeUnknown: 140,
  /** Pairing: the code was used already. */
  PairingCodeUsed: 141,
  /** Pairing: the code has expired. */
  PairingCodeExpired: 142,
  /** Pairing: too many failed attempts from this address. */
  PairingThrottled: 143,
  /** Consent (`POST /<appid>/grant/token`): the code is unknown, used already, expired, or another app's. */
  GrantCodeInvalid: 160,
  StorageUnavailable: 150,
  Internal: 199,
  /** Operator input that breaks a rule (appid format, scheme, name). */
  InvalidArgument: 300,
  /** The user, app, device or UID named does not exist. */
  NotFound: 304,
  /** The appid is taken. */
  Conflict: 309,
} as const;

export type Errno = (typeof Errno)[keyof typeof Errno];

const statusOf: Record<Errno, number> = {
  100: 400,
  101: 400,
  102: 400,
  103: 400,
  104: 400,
  105: 404,
  106: 413,
  107: 415,
  108: 405,
  110: 401,
  111: 401,
  120: 422,
  129: 429,
  140: 404,
  141: 410,
  142: 410,
  143: 429,
  150: 503,
  160: 400,
  199: 500,
  300: 400,
  304: 404,
  309: 409,
};

/** The HTTP status of an errno. */
export function httpStatus(errno: Errno): number {
  return statusOf[errno];
}

/** One offending field of one item of a batch. */
export interface ItemError {
  index: number;
  field: string;
  errno: Errno;
  error: string;
}

/** The refusal body of the REST API. */
export interface KoBody {
  result: 'KO';
  errno: Errno;
  error: string;
  errors?: ItemError[];
  /** How many item errors there were beyond the listed ones. */
  errors_omitted?: number;
}

const meanings: [Errno, string][] = [
  [Errno.InvalidJson, 'body is not valid JSON'],
  [Errno.NotNotifications, 'body is not a notification or a non-empty list of them'],
  [Errno.InvalidField, 'a field is missing, of the wrong type, empty, too long, or not storable text; or ttl out of range'],
  [Errno.UnknownField, 'unknown field'],
  [
    Errno.ActionNotAllowed,
    'action not allowed: not an http(s) URL with a host (and no user name) nor a deep link with a registered scheme, or a scheme that is never allowed',
  ],
  [Errno.UnknownUid, 'unknown UID (malformed, never granted, revoked, or another app’s)'],
  [Errno.TooLarge, 'more than 1,000 items or more than 2 MiB, nested deeper than 16 levels, or more than 10,000 values'],
  [Errno.NotJson, 'content type is not JSON'],
  [Errno.MethodNotAllowed, 'method not allowed (see Allow)'],
  [Errno.MissingCredentials, 'missing or malformed credentials'],
  [Errno.InvalidKey, 'key not valid for this appid'],
  [Errno.IdempotencyKeyReused, 'Idempotency-Key reused with a different body'],
  [Errno.SlowDown, 'slow down: over the app’s rate limit (see Retry-After)'],
  [Errno.PairingCodeUnknown, 'pairing: no such pairing code (mistyped?)'],
  [Errno.PairingCodeUsed, 'pairing: the pairing code was used already (each code pairs one device)'],
  [Errno.PairingCodeExpired, 'pairing: the pairing code has expired (codes last 10 minutes)'],
  [Errno.PairingThrottled, 'pairing: too many failed attempts from this address (see Retry-After)'],
  [Errno.GrantCodeInvalid, 'consent: the grant code is unknown, used already, expired (60 seconds), or was issued for another app'],
  [Errno.StorageUnavailable, 'storage unavailable, retry later (see Retry-After)'],
  [Errno.Internal, 'internal error: a bug, never the answer to anything a client sends'],
];

export const errnoTable = meanings.map(([errno, meaning]) => ({ errno, status: httpStatus(errno), meaning }));
