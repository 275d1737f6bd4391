/**
 * Retracting, after the transport's own checks (`POST /<appid>/retract`,
 * README.md "Replacing and retracting"): the request's zod schema, which the
 * route validates with and the API description is generated from, and the
 * checks in the notification route's order: shape, count, each item, UIDs.
 */
import { z } from 'zod';
import { MAX_RETRACTIONS_PER_REQUEST, TAG_PATTERN } from '../../../shared/limits.ts';
import type { AppIdentity } from '../apps.ts';
import type { Database } from '../../platform/db/client.ts';
import { AppError, Errno } from '../errors.ts';
import type { RetractionInput } from './groupTransaction.ts';
import { retractTags, type PushOptions, type RetractOutcome } from './push.ts';
import { ItemErrors, isPlainObject } from './validate.ts';

/** One (UID, tag) to take back. */
export const retractionSchema = z.strictObject({
  UID: z
    .string({ error: (issue) => (issue.input === undefined ? 'UID is required' : 'UID must be a non-empty string') })
    .min(1, 'UID must be a non-empty string')
    .describe('A UID of this app'),
  tag: z
    .string({ error: (issue) => (issue.input === undefined ? 'tag is required' : 'tag must be 1 to 64 of A-Z a-z 0-9 . _ : -') })
    .regex(TAG_PATTERN, 'tag must be 1 to 64 of A-Z a-z 0-9 . _ : -')
    .describe('The tag of the notification to take back'),
});

/** The body: one retraction or a list of 1 to 1,000. */
export const retractRequestSchema = z.union([retractionSchema, z.array(retractionSchema).min(1).max(MAX_RETRACTIONS_PER_REQUEST)]);

/** The body of the answer. */
export const retractAckSchema = z.object({
  result: z.literal('OK'),
  retracted: z.int().min(0).describe('Pending items deleted; a tag that was not pending counts 0'),
  queue_sizes: z.record(z.string(), z.int().min(0)).describe('The size of each named queue after the retraction'),
});

const knownFields = ['UID', 'tag'];

/** Turns a parsed body into retractions, or throws the refusal (101, 106, then 102/103 for each offending item). */
export function validateRetractions(body: unknown): RetractionInput[] {
  const items = Array.isArray(body) ? body : isPlainObject(body) ? [body] : null;
  if (items === null) throw new AppError(Errno.NotNotifications, 'body must be a retraction object {"UID", "tag"} or a non-empty list of them');
  if (items.length === 0) throw new AppError(Errno.NotNotifications, 'the list of retractions is empty');
  if (items.length > MAX_RETRACTIONS_PER_REQUEST) {
    throw new AppError(Errno.TooLarge, `at most ${MAX_RETRACTIONS_PER_REQUEST} retractions per request (got ${items.length})`);
  }
  const notObjects = new ItemErrors();
  items.forEach((item, index) => {
    if (!isPlainObject(item)) notObjects.add(index, 'item', Errno.NotNotifications, 'item must be an object with UID and tag');
  });
  if (notObjects.count > 0) throw AppError.forItems(notObjects.listed, notObjects.omitted);
  const errors = new ItemErrors();
  const valid = items.map((item: unknown, index) => {
    const parsed = retractionSchema.safeParse(item);
    if (parsed.success) return { uid: parsed.data.UID, tag: parsed.data.tag };
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) {
          const hint = knownFields.find((k) => k.toLowerCase() === key.toLowerCase());
          const shown = key.length > 64 ? `${key.slice(0, 64)}…` : key;
          errors.add(index, shown, Errno.UnknownField, `unknown field "${shown}"${hint ? `: did you mean "${hint}"?` : ''}`);
        }
      } else errors.add(index, String(issue.path[0] ?? 'item'), Errno.InvalidField, issue.message);
    }
    return null;
  });
  if (errors.count > 0) throw AppError.forItems(errors.listed, errors.omitted);
  return valid as RetractionInput[];
}

/** Validates `body` and retracts for `app`; throws the refusal. */
export async function sendRetractions(db: Database, app: AppIdentity, body: unknown, options: PushOptions = {}): Promise<RetractOutcome> {
  return retractTags(db, app.id, validateRetractions(body), options);
}
