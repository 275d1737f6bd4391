import type { Errno, ItemError } from '../shared/errnos.ts';

/** What the server said when it refused a request (its `{"result": "KO", …}` body). */
interface Refusal {
  errno: Errno;
  error: string;
  errors?: ItemError[];
  errors_omitted?: number;
}

/**
 * A call that did not succeed: a refusal by the server (`status` and
 * `errno` as in README's errno table), or no answer at all (`status` 0,
 * `errno` null, the network error as `cause`) until the deadline.
 */
export class PresenceError extends Error {
  override readonly name = 'PresenceError';
  /** The HTTP status; 0 when no answer came. */
  readonly status: number;
  /** The errno of the refusal; null when no answer (or no Presence answer) came. */
  readonly errno: Errno | null;
  /** The offending fields, indexes into the list given to the call, lowest first (at most 100 per request). */
  readonly errors: ItemError[];
  /** How many item errors the server counted but did not list. */
  readonly errors_omitted: number;
  /**
   * How many items, from the start of the list, were stored before this
   * refusal: a list split into several requests is all-or-nothing per
   * request, not as a whole.
   */
  readonly accepted: number;
  /** The server's `X-Request-Id` of the refused request, for its operators. */
  readonly requestId: string | null;

  constructor(
    message: string,
    fields: { status: number; errno: Errno | null; errors?: ItemError[]; errors_omitted?: number; accepted?: number; requestId?: string | null },
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.status = fields.status;
    this.errno = fields.errno;
    this.errors = fields.errors ?? [];
    this.errors_omitted = fields.errors_omitted ?? 0;
    this.accepted = fields.accepted ?? 0;
    this.requestId = fields.requestId ?? null;
  }

  /** The error for a refusal body of the server. */
  static fromRefusal(status: number, body: Refusal, requestId: string | null): PresenceError {
    return new PresenceError(body.error, { status, errno: body.errno, errors: body.errors, errors_omitted: body.errors_omitted, requestId });
  }

  /** The same refusal seen from a list whose first `offset` items went in earlier requests (already stored). */
  shiftedBy(offset: number): PresenceError {
    if (offset === 0) return this;
    return new PresenceError(
      this.message,
      {
        status: this.status,
        errno: this.errno,
        errors: this.errors.map((error) => ({ ...error, index: error.index + offset })),
        errors_omitted: this.errors_omitted,
        accepted: offset,
        requestId: this.requestId,
      },
      { cause: this.cause },
    );
  }
}
