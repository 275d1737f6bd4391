/** The REST refusals as documented to application developers (README and the home page). */
import { Errno, httpStatus } from './errors.ts';

const meanings: [Errno, string][] = [
  [Errno.InvalidJson, 'body is not valid JSON'],
  [Errno.NotNotifications, 'body is not a notification or a non-empty list of them'],
  [Errno.InvalidField, 'a field is missing, of the wrong type, empty, too long, or not storable text; or ttl out of range'],
  [Errno.UnknownField, 'unknown field'],
  [Errno.ActionNotAllowed, 'action not allowed: not an http(s) URL with a host (and no user name) nor a deep link with a registered scheme, or a scheme that is never allowed'],
  [Errno.UnknownUid, 'unknown UID (malformed, never granted, revoked, or another app’s)'],
  [Errno.TooLarge, 'more than 1,000 items or more than 2 MiB, nested deeper than 16 levels, or more than 10,000 values'],
  [Errno.NotJson, 'content type is not JSON'],
  [Errno.MethodNotAllowed, 'method not allowed (see Allow)'],
  [Errno.MissingCredentials, 'missing or malformed credentials'],
  [Errno.InvalidKey, 'key not valid for this appid'],
  [Errno.IdempotencyKeyReused, 'Idempotency-Key reused with a different body'],
  [Errno.SlowDown, 'slow down: over the app’s rate limit (see Retry-After)'],
  [Errno.StorageUnavailable, 'storage unavailable, retry later (see Retry-After)'],
  [Errno.Internal, 'internal error: a bug, never the answer to anything a client sends'],
];

export const errnoTable = meanings.map(([errno, meaning]) => ({ errno, status: httpStatus(errno), meaning }));
