/**
 * One error type for everything a caller can be refused, with the stable
 * errnos that README.md lists ("Refusals") and their HTTP statuses.
 */

import { Errno, httpStatus, type ItemError, type KoBody } from '../../shared/errnos.ts';
import { MAX_LISTED_ERRORS } from '../../shared/limits.ts';

// The errnos and the refusal's shape are shared with the pages (src/shared/errnos.ts).
export { Errno, httpStatus, type ItemError, type KoBody };

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
    return httpStatus(this.errno);
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

/** tRPC error codes by HTTP status, for the channel and the dashboard API. */
const trpcCodeByStatus = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_SUPPORTED',
  409: 'CONFLICT',
  410: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNPROCESSABLE_CONTENT',
  429: 'TOO_MANY_REQUESTS',
  500: 'INTERNAL_SERVER_ERROR',
  503: 'SERVICE_UNAVAILABLE',
} as const;

export type TrpcCode = (typeof trpcCodeByStatus)[keyof typeof trpcCodeByStatus];

export function trpcCode(errno: Errno): TrpcCode {
  return trpcCodeByStatus[httpStatus(errno) as keyof typeof trpcCodeByStatus];
}
