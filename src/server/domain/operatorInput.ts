/**
 * What operators type, in the CLI or on the dashboard: names and ids. The
 * domain functions check it, so both adapters refuse the same text with 300
 * before the database sees it (PostgreSQL cannot store NUL, and a name with an
 * escape sequence would reach every terminal that lists it).
 */
import { MAX_NAME_CODE_POINTS } from '../../shared/limits.ts';
import { AppError, Errno } from './errors.ts';

/** Longest id argument worth looking up (UIDs have 22 characters, user and device ids 36, appids at most 40). */
const MAX_ID_LENGTH = 100;

// C0 and C1 control characters (NUL among them), DEL, line and paragraph
// separators, and the bidirectional overrides and isolates that let a name
// disguise what is printed after it.
const unprintable = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** Why `text` is not text an operator may give, or null. */
function textRefusal(text: unknown): string | null {
  if (typeof text !== 'string') return 'must be text';
  if (!text.isWellFormed()) return 'must be valid Unicode';
  if (unprintable.test(text)) return 'must not contain control characters';
  return null;
}

/** True if `text` is printable, storable text (for input schemas). */
export function isOperatorText(text: string): boolean {
  return textRefusal(text) === null;
}

/** A name (of an app, a user, a device), trimmed: 1 to 100 printable characters, else 300. */
export function checkName(kind: string, name: string): string {
  const refusal = textRefusal(name);
  if (refusal) throw new AppError(Errno.InvalidArgument, `${kind} name ${refusal}`);
  const trimmed = name.trim();
  let codePoints = 0;
  for (const _ of trimmed) if (++codePoints > MAX_NAME_CODE_POINTS) break;
  if (codePoints === 0 || codePoints > MAX_NAME_CODE_POINTS)
    throw new AppError(Errno.InvalidArgument, `${kind} name must be 1 to ${MAX_NAME_CODE_POINTS} characters`);
  return trimmed;
}

/**
 * An id argument (appid, UID, user or device id) as printable text of a sane
 * length, else 300. Whether it names anything is the caller's question (304).
 */
export function checkIdArgument(label: string, value: string): string {
  const refusal = textRefusal(value) ?? (value.length > MAX_ID_LENGTH ? `must be at most ${MAX_ID_LENGTH} characters` : null);
  if (refusal) throw new AppError(Errno.InvalidArgument, `${label} ${refusal}`);
  return value;
}
