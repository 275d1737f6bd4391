/**
 * What the dashboard tells the operator when a call fails. A session that
 * ended (UNAUTHORIZED) sends the browser to the sign-in page instead.
 */
import { TRPCClientError } from '@trpc/client';

export const LOGIN_PATH = '/admin/login';

interface ErrorData {
  code?: string;
}

function errorData(error: unknown): ErrorData {
  if (!(error instanceof TRPCClientError)) return {};
  const data: unknown = error.data;
  return typeof data === 'object' && data !== null ? (data as ErrorData) : {};
}

/**
 * A readable sentence for a failed call: the server's message (input that
 * fails its schema already comes as one sentence, see src/server/trpc/init.ts). On
 * UNAUTHORIZED it also starts the move to the sign-in page (the session
 * expired or was signed out elsewhere).
 */
export function describeCallError(error: unknown): string {
  if (errorData(error).code === 'UNAUTHORIZED') {
    window.location.assign(LOGIN_PATH);
    return 'Your session has ended. Taking you to the sign-in page…';
  }
  if (error instanceof TRPCClientError) {
    const message = String(error.message);
    return message || 'The server refused the request.';
  }
  if (error instanceof Error && error.message) return error.message;
  return 'Something went wrong; try again.';
}
