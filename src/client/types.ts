/**
 * The shapes of the AppService API (README, "Sending notifications") as the
 * client sends and receives them. Errnos and limits come from src/shared, so
 * they stay in step with the server that enforces them.
 */
import type { Errno, ItemError } from '../shared/errnos.ts';

export type { Errno, ItemError };

/** One notification for one user of the app. */
export interface Notification {
  /** A UID the app was given for the user. */
  UID: string;
  /** 1 to 512 code points. */
  message: string;
  /** An http(s) URL with a host, or a deep link with a scheme the app registered; 1 to 512 code points. */
  action: string;
  /** Seconds (1 to 30 days): dropped if not delivered by then. */
  ttl?: number;
  /** 1 to 64 of `A–Z a–z 0–9 . _ : -`: a new item with the tag replaces the pending one of the same UID. */
  tag?: string;
}

/** The answer to a stored batch. */
export interface SendAck {
  result: 'OK';
  /** The size of the queue of the batch's last item. */
  queue_size: number;
  /** Every queue the batch touched, by UID. */
  queue_sizes: Record<string, number>;
}

/** A tagged notification to take back: the pending item goes, and devices close what they show for it. */
export interface Retraction {
  UID: string;
  /** The tag the notification was sent with. */
  tag: string;
}

/** The answer to a retraction. */
export interface RetractAck {
  result: 'OK';
  /** Pending items deleted; a tag that was not pending counts 0. */
  retracted: number;
  /** Every queue named, by UID, after the retraction. */
  queue_sizes: Record<string, number>;
}

/** What the grant page sends the user's browser back with, and the app exchanges for the user's UID. */
export interface GrantExchange {
  /** The UID to notify the user with: the same one while their grant to this app is active. */
  uid: string;
}

/** Where to send a user's browser to ask for their consent. */
export interface GrantRequestOptions {
  /** A redirect URI the app registered, exactly as registered. */
  redirectUri: string;
  /** Returned verbatim with the answer (at most 512 characters): tie it to the user's session to refuse forged callbacks. */
  state?: string;
}

/** What the client may be told to use instead of the runtime's own `fetch`. */
export type FetchFunction = (input: string, init: RequestInit) => Promise<Response>;

/** Told before each retry: why, and how long the client waits. */
export interface RetryInfo {
  /** 1 for the first retry. */
  attempt: number;
  delayMs: number;
  /** The refusal that is retried (429 or 503), or the network error (status 0). */
  error: PresenceErrorShape;
}

/** The fields of a `PresenceError`, for callbacks that need not import the class. */
export interface PresenceErrorShape {
  status: number;
  errno: Errno | null;
  message: string;
}

export interface PresenceClientOptions {
  /** The Presence server, e.g. `https://presence.example.com`. */
  server: string;
  /** The app's id, as in `POST /<appid>/notification`. */
  appid: string;
  /** The app's key (`prs_app_…`). Keep it on servers: it is sent as a bearer token. */
  key: string;
  /** How long one call may take, its retries included (milliseconds; default 30,000). */
  deadlineMs?: number;
  /** Another `fetch` (a runtime without a global one, or a proxy agent). */
  fetch?: FetchFunction;
  /** Called before each retry (for logging). */
  onRetry?: (info: RetryInfo) => void;
}
