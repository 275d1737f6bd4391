/**
 * The Presence daemon: holds the channel open, shows each notification once,
 * and acknowledges what it has dispatched. A typed tRPC client of the
 * server's router.
 */
import { createTRPCClient, createWSClient, TRPCClientError, wsLink } from '@trpc/client';
import WebSocket from 'ws';
import type { DeliveredItem } from '../server/delivery/items.ts';
import type { DeliveryEvent } from '../server/routers/daemon.ts';
import type { AppRouter } from '../server/routers/_app.ts';
import type { Opener } from './actions.ts';
import type { Notifier } from './notifier.ts';
import { forTerminal } from './terminal.ts';

export interface DaemonOptions {
  /** http(s) URL of the server; the channel is its `/presence`. */
  server: string;
  token: string;
  /** Native notifications, or null to print only. */
  notifier: Notifier | null;
  opener: Opener;
  /** Where lines for the user go (stdout); they get no terminal control characters. */
  print: (line: string) => void;
  /** Where status and errors go (stderr); no terminal control characters either. */
  report: (line: string) => void;
  json?: boolean;
  once?: boolean;
  /** With `once`: how long to wait for the backlog to be received and acknowledged before giving up (exit 3). */
  onceTimeoutMs?: number;
  /** Stops the daemon (exit code 0). */
  signal?: AbortSignal;
}

/** A handshake that gets no answer is abandoned after this long (then retried with backoff). */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** `ws` with a handshake timeout: without one, a server that accepts the TCP connection but never answers would stall reconnects forever. */
class DaemonWebSocket extends WebSocket {
  constructor(address: string | URL, protocols?: string | string[]) {
    super(address, protocols, { handshakeTimeout: HANDSHAKE_TIMEOUT_MS });
  }
}

/** Exit codes. */
export const EXIT_OK = 0;
export const EXIT_REFUSED = 2;
/** `--once` could not reach the server (or have the backlog acknowledged) in time. */
export const EXIT_UNREACHABLE = 3;

/** Closing a client that never connected may wait for a connect attempt; the exit does not. */
const CLOSE_GRACE_MS = 2_000;

/** Backoff with jitter: 0.5 s doubling to 30 s, each delay between half and all of it. */
export function reconnectDelay(attempt: number): number {
  return Math.min(30_000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);
}

export function channelUrl(server: string): string {
  const url = new URL('/presence', server);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

/** Remembers the ids already shown, so a redelivery (after a lost ack) is not shown twice. */
class SeenIds {
  private readonly ids = new Set<string>();

  constructor(private readonly limit = 10_000) {}

  /** True the first time an id is offered. */
  add(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    if (this.ids.size > this.limit) this.ids.delete(this.ids.values().next().value as string);
    return true;
  }
}

function describe(item: DeliveredItem): string {
  return `[${item.appName}] ${item.message}  → ${item.action}`;
}

/** Runs until stopped (0), until the server refuses the token (2), or until `once` gives up (3). */
export function runDaemon(options: DaemonOptions): Promise<number> {
  const { notifier, opener } = options;
  // Everything printed may carry text from apps and operators.
  const print = (line: string) => options.print(forTerminal(line));
  const report = (line: string) => options.report(forTerminal(line));
  const seen = new SeenIds();
  let connectedOnce = false;

  const wsClient = createWSClient({
    url: channelUrl(options.server),
    WebSocket: DaemonWebSocket as unknown as typeof globalThis.WebSocket,
    connectionParams: { token: options.token },
    retryDelayMs: reconnectDelay,
    keepAlive: { enabled: true, intervalMs: 20_000, pongTimeoutMs: 5_000 },
    onOpen: () => {
      if (connectedOnce) report('reconnected');
      connectedOnce = true;
    },
    onClose: (cause) => {
      if (cause?.code !== 4401) report(`connection closed${cause?.code ? ` (${cause.code})` : ''}; reconnecting`);
    },
  });
  const client = createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient })] });

  const dispatch = (item: DeliveredItem) => {
    print(options.json ? JSON.stringify(item) : describe(item));
    if (options.once || !notifier) return;
    notifier.show(item, () => {
      opener.open(item.action).catch((error: Error) => report(`cannot open ${item.action}: ${error.message}`));
    });
  };

  return new Promise<number>((resolve) => {
    let finished = false;
    const finish = (code: number) => {
      if (finished) return;
      finished = true;
      clearTimeout(onceTimer);
      subscription.unsubscribe();
      const grace = setTimeout(() => resolve(code), CLOSE_GRACE_MS);
      void wsClient.close().finally(() => {
        clearTimeout(grace);
        resolve(code);
      });
    };
    const onceTimeoutMs = options.once ? options.onceTimeoutMs : undefined;
    const onceTimer =
      onceTimeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            report(`no answer from ${options.server} within ${onceTimeoutMs / 1000} s; giving up`);
            finish(EXIT_UNREACHABLE);
          }, onceTimeoutMs);

    const handle = async (event: DeliveryEvent) => {
      for (const item of event.items) if (seen.add(item.id)) dispatch(item);
      // Ack every id received, duplicates too: a redelivery means an earlier ack was lost.
      const ids = event.items.map((item) => item.id);
      for (let start = 0; start < ids.length; start += 1_000) {
        await client.daemon.ack.mutate({ ids: ids.slice(start, start + 1_000) });
      }
    };

    let queue = Promise.resolve();
    let subscription: { unsubscribe(): void } = { unsubscribe: () => undefined };
    let failures = 0;
    const subscribe = () => {
      subscription = client.daemon.notifications.subscribe(undefined, {
        onStarted: () => report(`connected to ${options.server}`),
        onData: (event) => {
          failures = 0;
          // One event at a time, in order; --once stops after the backlog is acked.
          queue = queue
            .then(() => handle(event))
            .then(
              () => {
                if (options.once && event.kind === 'backlog') finish(EXIT_OK);
              },
              (error: Error) => report(`acknowledgement failed (the items will come again): ${error.message}`),
            );
        },
        onError: (error) => {
          if (error instanceof TRPCClientError && error.data?.code === 'UNAUTHORIZED') {
            report(`the server refused this device: ${error.message}`);
            finish(EXIT_REFUSED);
            return;
          }
          // The server could not serve the subscription (its database was away, say): subscribe again.
          const delay = reconnectDelay(failures++);
          report(`channel error: ${error.message}; subscribing again in ${Math.round(delay / 100) / 10} s`);
          setTimeout(() => {
            if (!finished) subscribe();
          }, delay);
        },
      });
    };
    subscribe();
    options.signal?.addEventListener('abort', () => finish(EXIT_OK), { once: true });
  });
}
