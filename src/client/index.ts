/**
 * The typed client for AppServices: `createPresenceClient({ server, appid, key })`
 * sends notifications safely by default. Every request carries an
 * Idempotency-Key kept across its retries (so a retry never stores twice),
 * network errors, 429 and 503 are retried with jittered backoff that honours
 * Retry-After until a deadline, and long lists go in several requests.
 * `retract(items)` takes tagged notifications back the same way;
 * `grantUrl` and `exchangeGrantCode` let a user grant the app their UID.
 * Universal: it needs only `fetch` and `crypto.randomUUID`.
 */
import { backoffDelay } from '../shared/backoff.ts';
import { MAX_ITEMS_PER_BATCH, MAX_RETRACTIONS_PER_REQUEST } from '../shared/limits.ts';
import type { Errno } from '../shared/errnos.ts';
import { MAX_BODY_BYTES, splitIntoBatches } from './batches.ts';
import { PresenceError } from './presenceError.ts';
import type { FetchFunction, GrantExchange, GrantRequestOptions, Notification, PresenceClientOptions, RetractAck, Retraction, SendAck } from './types.ts';

export { PresenceError } from './presenceError.ts';
export type {
  Errno,
  FetchFunction,
  GrantExchange,
  GrantRequestOptions,
  ItemError,
  Notification,
  PresenceClientOptions,
  PresenceErrorShape,
  RetractAck,
  Retraction,
  RetryInfo,
  SendAck,
} from './types.ts';

const DEFAULT_DEADLINE_MS = 30_000;
/** The client's first retry waits 0.25 to 0.5 s, doubling to at most 10 s (or what Retry-After asks). */
const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 10_000;

export interface PresenceClient {
  /**
   * Stores notifications (one or a list). Lists of more than 1,000 items or
   * 2 MiB go in several requests, in order, and their acks are merged: each
   * UID's size is the one the last request touching it reported, and
   * `queue_size` is that of the list's last item. Throws a `PresenceError`.
   */
  send(items: Notification | readonly Notification[]): Promise<SendAck>;
  /**
   * Takes back tagged notifications (one or a list): deletes the pending
   * items and closes what devices show for them. Lists of more than 1,000
   * go in several requests; `retracted` is their sum and `queue_sizes` is
   * merged as for `send`. Throws a `PresenceError`.
   */
  retract(items: Retraction | readonly Retraction[]): Promise<RetractAck>;
  /** The grant page's address for this app: send the user's browser there to ask for their consent. */
  grantUrl(request: GrantRequestOptions): string;
  /**
   * Exchanges the `code` the grant page appended to the redirect URI for the
   * user's UID. A code works once, for 60 seconds: only 429 and 503 are
   * retried, never a request whose answer was lost. Throws a `PresenceError`
   * (errno 160 for a code that is unknown, used, expired or another app's).
   */
  exchangeGrantCode(code: string): Promise<GrantExchange>;
}

/** A client for one app. */
export function createPresenceClient(options: PresenceClientOptions): PresenceClient {
  const base = options.server.replace(/\/+$/, '');
  const deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const fetchFunction: FetchFunction = options.fetch ?? ((input, init) => fetch(input, init));

  /** One request and its retries, under one Idempotency-Key; a request that is not `idempotent` is not retried after a network error. */
  async function post(path: string, body: string, idempotent = true): Promise<unknown> {
    const idempotencyKey = crypto.randomUUID();
    const deadline = Date.now() + deadlineMs;
    for (let attempt = 0; ; attempt++) {
      let failure: PresenceError;
      let retryAfterMs = 0;
      try {
        const response = await fetchFunction(`${base}/${encodeURIComponent(options.appid)}${path}`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${options.key}`, 'Content-Type': 'application/json', 'Idempotency-Key': idempotencyKey },
          body,
          signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())),
        });
        const answer = await readAnswer(response);
        if (response.ok) return answer;
        failure = refusalOf(response, answer);
        if (response.status !== 429 && response.status !== 503) throw failure;
        retryAfterMs = retryAfter(response.headers.get('retry-after'));
      } catch (caught) {
        if (caught instanceof PresenceError && caught.status !== 429 && caught.status !== 503) throw caught;
        failure = caught instanceof PresenceError ? caught : noAnswer(caught, deadlineMs);
        if (!idempotent && !(caught instanceof PresenceError)) throw failure;
      }
      // Never sooner than Retry-After, and up to a quarter later: clients told the same time do not all return at once.
      const delayMs = Math.max(backoffDelay(attempt, RETRY_BASE_MS, RETRY_MAX_MS), retryAfterMs * (1 + Math.random() / 4));
      if (Date.now() + delayMs >= deadline) throw failure;
      options.onRetry?.({ attempt: attempt + 1, delayMs, error: { status: failure.status, errno: failure.errno, message: failure.message } });
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }

  /** Sends a list in as many requests as the limits ask, in order, handing each ack to `merge`. */
  async function sendInBatches<Ack>(path: string, items: unknown, maxItems: number, merge: (ack: Ack) => void): Promise<void> {
    const list: readonly unknown[] = Array.isArray(items) ? items : [items];
    if (list.length === 0) throw new PresenceError('nothing to send: the list is empty', { status: 0, errno: null });
    for (const batch of splitIntoBatches(list, { items: maxItems, bytes: MAX_BODY_BYTES })) {
      try {
        merge((await post(path, batch.body)) as Ack);
      } catch (error) {
        throw error instanceof PresenceError ? error.shiftedBy(batch.offset) : error;
      }
    }
  }

  return {
    async send(items) {
      const merged: SendAck = { result: 'OK', queue_size: 0, queue_sizes: {} };
      await sendInBatches<SendAck>('/notification', items, MAX_ITEMS_PER_BATCH, (ack) => {
        merged.queue_size = ack.queue_size;
        Object.assign(merged.queue_sizes, ack.queue_sizes);
      });
      return merged;
    },
    async retract(items) {
      const merged: RetractAck = { result: 'OK', retracted: 0, queue_sizes: {} };
      await sendInBatches<RetractAck>('/retract', items, MAX_RETRACTIONS_PER_REQUEST, (ack) => {
        merged.retracted += ack.retracted;
        Object.assign(merged.queue_sizes, ack.queue_sizes);
      });
      return merged;
    },
    grantUrl({ redirectUri, state }) {
      const query = new URLSearchParams({ redirect_uri: redirectUri });
      if (state !== undefined) query.set('state', state);
      return `${base}/${encodeURIComponent(options.appid)}/grant?${query.toString()}`;
    },
    async exchangeGrantCode(code) {
      return (await post('/grant/token', JSON.stringify({ code }), false)) as GrantExchange;
    },
  };
}

/** The JSON of an answer, or null when it has none (a proxy's error page). */
async function readAnswer(response: Response): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

function refusalOf(response: Response, answer: unknown): PresenceError {
  const requestId = response.headers.get('x-request-id');
  const body = answer as { result?: unknown; errno?: unknown; error?: unknown } | null;
  if (body?.result === 'KO' && typeof body.errno === 'number' && typeof body.error === 'string') {
    return PresenceError.fromRefusal(response.status, body as Parameters<typeof PresenceError.fromRefusal>[1], requestId);
  }
  return new PresenceError(`HTTP ${response.status} without a Presence answer`, { status: response.status, errno: null as Errno | null, requestId });
}

function noAnswer(cause: unknown, deadlineMs: number): PresenceError {
  const timedOut = cause instanceof Error && (cause.name === 'TimeoutError' || cause.name === 'AbortError');
  const message = timedOut ? `no answer within the deadline (${deadlineMs} ms)` : `no answer: ${cause instanceof Error ? cause.message : String(cause)}`;
  return new PresenceError(message, { status: 0, errno: null }, { cause });
}

/** Retry-After in milliseconds: seconds or an HTTP date; 0 when absent or unreadable. */
function retryAfter(header: string | null): number {
  if (header === null) return 0;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? 0 : Math.max(0, date - Date.now());
}
