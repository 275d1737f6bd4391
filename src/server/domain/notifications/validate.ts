/**
 * Checks a POSTed batch against README.md ("Sending notifications"): the shape, then each
 * item, listing every offending field of every item. UIDs are checked last,
 * under the queue lock, by the push transaction.
 */
import { actionRefusal } from '../../../shared/action.ts';
import { MAX_ITEMS_PER_BATCH, MAX_LISTED_ERRORS, MAX_TEXT_CODE_POINTS, MAX_TTL_SECONDS, MIN_TTL_SECONDS, TAG_PATTERN } from '../../../shared/limits.ts';
import { AppError, Errno, type ItemError } from '../errors.ts';

/** A notification that passed every check but the UID's. */
export interface NotificationInput {
  uid: string;
  message: string;
  action: string;
  /** Seconds until an undelivered item is dropped. */
  ttl?: number;
  /** Replaces the pending item of the same queue with this tag. */
  tag?: string;
}

const knownFields = ['UID', 'message', 'action', 'ttl', 'tag'] as const;

// Names an app may well send instead of ours, or gets wrong easily. A Map, so
// that "__proto__" or "constructor" find nothing inherited from Object.
const suggestions = new Map([
  ['url', 'action'],
  ['link', 'action'],
  ['msg', 'message'],
  ['text', 'message'],
  ['body', 'message'],
]);

/** Longest field name echoed in a refusal; a longer one is cut. */
const MAX_FIELD_NAME_CODE_POINTS = 64;

function fieldName(field: string): string {
  if (field.length <= MAX_FIELD_NAME_CODE_POINTS) return field;
  const cut = [...field.slice(0, 2 * MAX_FIELD_NAME_CODE_POINTS)].slice(0, MAX_FIELD_NAME_CODE_POINTS).join('');
  return cut.length < field.length ? `${cut}…` : field;
}

function unknownFieldError(field: string, shown: string): string {
  const lower = field.toLowerCase();
  const hint = suggestions.get(lower) ?? knownFields.find((k) => k.toLowerCase() === lower);
  return `unknown field "${shown}"${hint ? `: did you mean "${hint}"?` : ''}`;
}

/** The item errors of a batch: the first {@link MAX_LISTED_ERRORS} in full, the rest only counted. */
export class ItemErrors {
  readonly listed: ItemError[] = [];
  omitted = 0;

  get count(): number {
    return this.listed.length + this.omitted;
  }

  /** Records an error; `error` is built only if it will be listed. */
  add(index: number, field: string, errno: Errno, error: string | (() => string)): void {
    if (this.listed.length >= MAX_LISTED_ERRORS) this.omitted++;
    else this.listed.push({ index, field, errno, error: typeof error === 'string' ? error : error() });
  }
}

/** Code points in a string (what the 512 limit counts), stopping early past `limit`. */
function codePointsUpTo(text: string, limit: number): number {
  let count = 0;
  for (const _ of text) if (++count > limit) break;
  return count;
}

/** Why `value` is not acceptable text for `field`, or null. */
function textRefusal(field: string, value: unknown): string | null {
  if (value === undefined) return `${field} is required`;
  if (typeof value !== 'string') return `${field} must be a string`;
  if (value.length === 0) return `${field} must not be empty`;
  if (codePointsUpTo(value, MAX_TEXT_CODE_POINTS) > MAX_TEXT_CODE_POINTS) {
    return `${field} is longer than ${MAX_TEXT_CODE_POINTS} characters`;
  }
  // Lone surrogates are not Unicode, and PostgreSQL cannot store NUL in text.
  if (!value.isWellFormed() || value.includes('\u0000')) return `${field} is not storable text`;
  return null;
}

function ttlRefusal(value: unknown): string | null {
  if (typeof value !== 'number' || !Number.isInteger(value)) return 'ttl must be an integer number of seconds';
  if (value < MIN_TTL_SECONDS || value > MAX_TTL_SECONDS) return `ttl must be from ${MIN_TTL_SECONDS} to ${MAX_TTL_SECONDS} seconds (30 days)`;
  return null;
}

/** Why `value` is not a tag, or null. */
export function tagRefusal(value: unknown): string | null {
  if (typeof value !== 'string' || !TAG_PATTERN.test(value)) return 'tag must be 1 to 64 of A-Z a-z 0-9 . _ : -';
  return null;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkItem(item: Record<string, unknown>, index: number, schemes: readonly string[], errors: ItemErrors): NotificationInput | null {
  const fail = (field: string, errno: Errno, error: string) => errors.add(index, field, errno, error);
  const before = errors.count;
  for (const field of Object.keys(item)) {
    if ((knownFields as readonly string[]).includes(field)) continue;
    const shown = fieldName(field);
    errors.add(index, shown, Errno.UnknownField, () => unknownFieldError(field, shown));
  }
  const { UID: uid, message, action, ttl, tag } = item;
  if (typeof uid !== 'string' || uid.length === 0) {
    fail('UID', Errno.InvalidField, uid === undefined ? 'UID is required' : 'UID must be a non-empty string');
  }
  const messageRefusal = textRefusal('message', message);
  if (messageRefusal) fail('message', Errno.InvalidField, messageRefusal);
  const actionTextRefusal = textRefusal('action', action);
  if (actionTextRefusal) fail('action', Errno.InvalidField, actionTextRefusal);
  else {
    const refusal = actionRefusal(action as string, schemes);
    if (refusal) fail('action', Errno.ActionNotAllowed, refusal);
  }
  const ttlError = ttl === undefined ? null : ttlRefusal(ttl);
  if (ttlError) fail('ttl', Errno.InvalidField, ttlError);
  const tagError = tag === undefined ? null : tagRefusal(tag);
  if (tagError) fail('tag', Errno.InvalidField, tagError);
  if (errors.count > before) return null;
  return {
    uid: uid as string,
    message: message as string,
    action: action as string,
    ...(ttl === undefined ? {} : { ttl: ttl as number }),
    ...(tag === undefined ? {} : { tag: tag as string }),
  };
}

/**
 * Turns a parsed JSON body into notifications, or throws the refusal: 101 for
 * the wrong shape, 106 for too many items, else the item errors (102/103/104)
 * of every offending item, the top-level errno being the lowest index's
 * (the first 100 listed, the rest counted).
 */
export function validateBatch(body: unknown, schemes: readonly string[]): NotificationInput[] {
  const items = Array.isArray(body) ? body : isPlainObject(body) ? [body] : null;
  if (items === null) {
    throw new AppError(Errno.NotNotifications, 'body must be a notification object or a non-empty list of them');
  }
  if (items.length === 0) throw new AppError(Errno.NotNotifications, 'the list of notifications is empty');
  if (items.length > MAX_ITEMS_PER_BATCH) {
    throw new AppError(Errno.TooLarge, `at most ${MAX_ITEMS_PER_BATCH} notifications per request (got ${items.length})`);
  }
  // Shape: every element must be an object before any field is looked at.
  const notObjects = new ItemErrors();
  items.forEach((item, index) => {
    if (!isPlainObject(item)) notObjects.add(index, 'item', Errno.NotNotifications, 'item must be an object with UID, message and action');
  });
  if (notObjects.count > 0) throw AppError.forItems(notObjects.listed, notObjects.omitted);
  const errors = new ItemErrors();
  const valid = (items as Record<string, unknown>[]).map((item, index) => checkItem(item, index, schemes, errors));
  if (errors.count > 0) throw AppError.forItems(errors.listed, errors.omitted);
  return valid as NotificationInput[];
}
