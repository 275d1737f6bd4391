/**
 * What the dashboard tells the operator when a call fails. A session that
 * ended (UNAUTHORIZED) sends the browser to the sign-in page instead.
 */
import { TRPCClientError } from '@trpc/client';

export const LOGIN_PATH = '/admin/login';

interface ErrorData {
  code?: string;
  errno?: number;
}

function errorData(error: unknown): ErrorData {
  if (!(error instanceof TRPCClientError)) return {};
  const data: unknown = error.data;
  return typeof data === 'object' && data !== null ? (data as ErrorData) : {};
}

/** The operator API's errno of a refused call (300, 304, 309), if it has one. */
export function errnoOf(error: unknown): number | undefined {
  return errorData(error).errno;
}

/** Input validation errors arrive as the JSON list of Zod issues: make them a sentence. */
function validationText(message: string): string | null {
  if (!message.startsWith('[')) return null;
  try {
    const issues = JSON.parse(message) as { path?: (string | number)[]; message?: string }[];
    const parts = issues.map((issue) => `${issue.path?.length ? `${issue.path.join('.')}: ` : ''}${issue.message ?? 'invalid'}`);
    return parts.length ? parts.join('; ') : null;
  } catch {
    return null;
  }
}

/**
 * A readable sentence for a failed call. On UNAUTHORIZED it also starts the
 * move to the sign-in page (the session expired or was signed out elsewhere).
 */
export function describeChannelError(error: unknown): string {
  if (errorData(error).code === 'UNAUTHORIZED') {
    window.location.assign(LOGIN_PATH);
    return 'Your session has ended. Taking you to the sign-in page…';
  }
  if (error instanceof TRPCClientError) {
    const message = String(error.message);
    return validationText(message) ?? (message || 'The server refused the request.');
  }
  if (error instanceof Error && error.message) return error.message;
  return 'Something went wrong; try again.';
}
