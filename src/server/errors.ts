/**
 * One error type for everything a caller can be refused, with the stable
 * errnos that README.md lists ("Refusals") and their HTTP statuses.
 */

/** REST errnos (README.md, "Refusals") and the operator API's own (3xx). */
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
  150: 503,
  199: 500,
  300: 400,
  304: 404,
  309: 409,
};

/** One offending field of one item of a batch. */
export interface ItemError {
  index: number;
  field: string;
  errno: Errno;
  error: string;
}

/** At most this many item errors are listed in a refusal; the rest are only counted. */
export const MAX_LISTED_ERRORS = 100;

/** The refusal body of the REST API. */
export interface KoBody {
  result: 'KO';
  errno: Errno;
  error: string;
  errors?: ItemError[];
  /** How many item errors there were beyond the listed ones. */
  errors_omitted?: number;
}

/** A refusal: carries its errno, the offending items if any, and extra response headers. */
export class AppError extends Error {
  readonly errno: Errno;
  readonly items: ItemError[] | undefined;
  /** Item errors found beyond those in `items`. */
  readonly itemsOmitted: number;
  readonly headers: Record<string, string>;

  constructor(errno: Errno, message: string, options: { items?: ItemError[]; itemsOmitted?: number; headers?: Record<string, string>; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.errno = errno;
    this.items = options.items;
    this.itemsOmitted = options.itemsOmitted ?? 0;
    this.headers = options.headers ?? {};
  }

  get status(): number {
    return statusOf[this.errno];
  }

  toBody(): KoBody {
    return {
      result: 'KO',
      errno: this.errno,
      error: this.message,
      ...(this.items ? { errors: this.items } : {}),
      ...(this.itemsOmitted > 0 ? { errors_omitted: this.itemsOmitted } : {}),
    };
  }

  /**
   * Item-level refusal: the top-level errno and text are those of the lowest
   * index. Lists the {@link MAX_LISTED_ERRORS} lowest-indexed errors and counts
   * the rest, with `omitted` more that the caller counted without building them.
   */
  static forItems(items: ItemError[], omitted = 0): AppError {
    const sorted = [...items].sort((a, b) => a.index - b.index);
    const first = sorted[0];
    if (!first) throw new Error('AppError.forItems needs at least one item error');
    const listed = sorted.slice(0, MAX_LISTED_ERRORS);
    const itemsOmitted = sorted.length - listed.length + omitted;
    const more = listed.length + itemsOmitted > 1 ? ` (and ${listed.length + itemsOmitted - 1} more)` : '';
    return new AppError(first.errno, `item ${first.index}: ${first.error}${more}`, { items: listed, itemsOmitted });
  }
}

/** The HTTP status of an errno. */
export function httpStatus(errno: Errno): number {
  return statusOf[errno];
}

/** tRPC error codes by HTTP status, for the channel and the dashboard API. */
const trpcCodeByStatus = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_SUPPORTED',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNPROCESSABLE_CONTENT',
  429: 'TOO_MANY_REQUESTS',
  500: 'INTERNAL_SERVER_ERROR',
  503: 'SERVICE_UNAVAILABLE',
} as const;

export type TrpcCode = (typeof trpcCodeByStatus)[keyof typeof trpcCodeByStatus];

export function trpcCode(errno: Errno): TrpcCode {
  return trpcCodeByStatus[statusOf[errno] as keyof typeof trpcCodeByStatus];
}
