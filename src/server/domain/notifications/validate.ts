/**
 * Checks a POSTed batch against README.md ("Sending notifications"): the shape, then each
 * item, listing every offending field of every item. UIDs are checked last,
 * under the queue lock, by the push transaction. An item's rules are one zod
 * schema, which the API description (src/server/http/openapi.ts) is generated from.
 */
import { z } from 'zod';
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

/** A required text field; JSON Schema's maxLength counts code points, as the check does. */
function text(field: string, description: string) {
  return (
    z
      .string({ error: (issue) => (issue.input === undefined ? `${field} is required` : `${field} must be a string`) })
      .min(1, { error: `${field} must not be empty`, abort: true })
      .refine((value) => codePointsUpTo(value, MAX_TEXT_CODE_POINTS) <= MAX_TEXT_CODE_POINTS, {
        error: `${field} is longer than ${MAX_TEXT_CODE_POINTS} characters`,
        abort: true,
      })
      // Lone surrogates are not Unicode, and PostgreSQL cannot store NUL in text.
      .refine((value) => value.isWellFormed() && !value.includes('\u0000'), `${field} is not storable text`)
      .meta({ maxLength: MAX_TEXT_CODE_POINTS, description: `${description}, 1 to ${MAX_TEXT_CODE_POINTS} Unicode code points` })
  );
}

const ttlRange = `ttl must be from ${MIN_TTL_SECONDS} to ${MAX_TTL_SECONDS} seconds (30 days)`;
const notATag = 'tag must be 1 to 64 of A-Z a-z 0-9 . _ : -';

/** The rules of every field of a notification but the action's scheme, which depends on the app. */
const notificationFields = {
  UID: z
    .string({ error: (issue) => (issue.input === undefined ? 'UID is required' : 'UID must be a non-empty string') })
    .min(1, 'UID must be a non-empty string')
    .meta({ description: 'a UID this app was given for the user' }),
  message: text('message', 'the text shown'),
  action: text(
    'action',
    'an http(s) URL with a host and no user name, or a deep link `<scheme>:<rest>` with a scheme the app registered (some schemes are always refused; README.md)',
  ),
  ttl: z
    .int({ error: (issue) => (issue.code === 'too_big' || issue.code === 'too_small' ? ttlRange : 'ttl must be an integer number of seconds') })
    .min(MIN_TTL_SECONDS, ttlRange)
    .max(MAX_TTL_SECONDS, ttlRange)
    .optional()
    .meta({ description: 'seconds: an item not delivered by then is dropped (at most 30 days)' }),
  tag: z
    .string({ error: notATag })
    .regex(TAG_PATTERN, notATag)
    .optional()
    .meta({ description: 'replaces the pending item of this UID and app with the same tag' }),
};

/** One notification, as the route accepts it; the API description is generated from it. */
export const notificationSchema = z.strictObject(notificationFields);

// The route parses with the same fields but finds unknown ones itself: zod's strict
// check is the slower part of a parse, and a loop over the keys does the same.
const fieldsParser = z.object(notificationFields);
const knownFields = Object.keys(notificationFields) as (keyof typeof notificationFields)[];
const knownFieldSet = new Set<string>(knownFields);

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkItem(item: Record<string, unknown>, index: number, schemes: readonly string[], errors: ItemErrors): NotificationInput | null {
  const before = errors.count;
  for (const field of Object.keys(item)) {
    if (knownFieldSet.has(field)) continue;
    const shown = fieldName(field);
    errors.add(index, shown, Errno.UnknownField, () => unknownFieldError(field, shown));
  }
  const parsed = fieldsParser.safeParse(item);
  if (parsed.success && errors.count === before) {
    const { UID: uid, message, action, ttl, tag } = parsed.data;
    const refusal = actionRefusal(action, schemes);
    if (refusal) {
      errors.add(index, 'action', Errno.ActionNotAllowed, refusal);
      return null;
    }
    return { uid, message, action, ...(ttl === undefined ? {} : { ttl }), ...(tag === undefined ? {} : { tag }) };
  }
  // The refusal lists unknown fields first, then one error per known field, in the schema's order.
  const refusals = new Map<string, string>();
  for (const issue of parsed.error?.issues ?? []) {
    const field = String(issue.path[0]);
    if (!refusals.has(field)) refusals.set(field, issue.message);
  }
  for (const field of knownFields) {
    const refusal = refusals.get(field);
    if (refusal !== undefined) errors.add(index, field, Errno.InvalidField, refusal);
    else if (field === 'action') {
      const schemeRefusal = actionRefusal(item.action as string, schemes);
      if (schemeRefusal) errors.add(index, 'action', Errno.ActionNotAllowed, schemeRefusal);
    }
  }
  return null;
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
