/**
 * What every daemon does on the channel, whatever shows its items (the
 * desktop daemon prints them and raises native notifications, the device page
 * lists them): subscribe to `daemon.notifications`, show each item once, ack
 * every id received in batches, subscribe again with backoff after a
 * server-side failure, and stop for good when the server refuses the device.
 * It also carries dismissals both ways: what the user clicked or dismissed
 * here goes to the user's other devices, and theirs come back to close ours.
 *
 * Close codes (README, "The channel"): 4401 follows the UNAUTHORIZED answer to
 * the subscription, which is what ends the core; after 4403 (device revoked)
 * the client reconnects and that answer comes then; 4409 (too many sockets of
 * the device) and 1013 (credentials could not be checked) mean reconnect.
 */
import { TRPCClientError } from '@trpc/client';
import { backoffDelay } from './backoff.ts';
import type { DeliveredItem, DeliveryEvent, ItemsEvent } from './delivery.ts';
import { MAX_IDS_PER_ACK, MAX_IDS_PER_DISMISS } from './limits.ts';

/**
 * The calls the core makes: the part of the typed client (`TRPCClient<AppRouter>`)
 * it uses. Front ends pass their typed client, so the compiler checks it against the router.
 */
export interface DaemonChannelClient {
  daemon: {
    notifications: {
      subscribe(
        input: undefined,
        handlers: { onStarted: () => void; onData: (event: DeliveryEvent) => void; onError: (error: Error) => void },
      ): { unsubscribe(): void };
    };
    ack: { mutate(input: { ids: string[] }): Promise<{ acked: number }> };
    dismiss: { mutate(input: { ids: string[] }): Promise<{ dismissed: number }> };
  };
}

/** True if `error` is the server refusing the device token (wrong, or the device revoked). */
export function isRefusal(error: unknown): boolean {
  return error instanceof TRPCClientError && (error.data as { code?: unknown } | undefined)?.code === 'UNAUTHORIZED';
}

/** The ids already shown, so that a redelivery (after a lost ack) is not shown twice; the oldest are forgotten past `limit`. */
export class SeenIds {
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

export interface DaemonCoreOptions {
  client: DaemonChannelClient;
  /** Ids seen before: pass the same set to a new core to keep dropping what an earlier one showed. */
  seen?: SeenIds;
  /** Shows items received for the first time, oldest first; they are acknowledged after it returns. */
  show: (items: DeliveredItem[]) => void;
  /** The server refused the device: the core has stopped for good (the front end closes the channel). */
  onRefused: (error: Error) => void;
  /** The subscription is running (after each (re)subscription). */
  onStarted?: () => void;
  /** Every event as it arrives, before its new items are shown. */
  onEvent?: (event: DeliveryEvent) => void;
  /** Every id of `event` is acknowledged (at once for an event without items). */
  onAcked?: (event: ItemsEvent) => void;
  /** The user clicked or dismissed these items on another device: close what shows them here. */
  onDismissed?: (ids: string[]) => void;
  /** An app took these tagged notifications back: close what shows them here. */
  onRetracted?: (tags: { appid: string; tag: string }[]) => void;
  /** An ack failed: the items come again on the next connection. */
  onAckFailed?: (error: Error) => void;
  /** The server could not serve the subscription (its database was away, say): it is made again after `retryInMs`. */
  onSubscriptionError?: (error: Error, retryInMs: number) => void;
}

export interface DaemonCore {
  /** Stops subscribing, showing and acking. Idempotent. */
  stop(): void;
  /** Tells the user's other devices that these items were clicked or dismissed here. Failures are dropped: it is a courtesy. */
  dismiss(ids: string[]): void;
  /** Hands over the failure of a front end's own call (`daemon.whoami`): a refusal ends the core as its own calls' do. */
  check(error: unknown): void;
}

/** How long dismissals are gathered before they are sent together. */
const DISMISSALS_GATHER_MS = 50;

/** Starts the core on an open channel client; it runs until stopped or refused. */
export function startDaemonCore(options: DaemonCoreOptions): DaemonCore {
  const { client } = options;
  const seen = options.seen ?? new SeenIds();
  let stopped = false;
  let subscription: { unsubscribe(): void } | null = null;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let failures = 0;
  // One event's acks at a time, in order of arrival.
  let acks = Promise.resolve();

  const stop = () => {
    if (stopped) return;
    stopped = true;
    clearTimeout(retryTimer);
    subscription?.unsubscribe();
  };

  const refuse = (error: unknown) => {
    if (stopped) return;
    stop();
    options.onRefused(error instanceof Error ? error : new Error(String(error)));
  };

  const acknowledge = async (ids: string[]) => {
    for (let start = 0; start < ids.length; start += MAX_IDS_PER_ACK) {
      await client.daemon.ack.mutate({ ids: ids.slice(start, start + MAX_IDS_PER_ACK) });
    }
  };

  const receive = (event: DeliveryEvent) => {
    if (stopped) return;
    options.onEvent?.(event);
    if (event.kind === 'dismissed') return options.onDismissed?.(event.ids);
    if (event.kind === 'retracted') return options.onRetracted?.(event.tags);
    const fresh = event.items.filter((item) => seen.add(item.id));
    if (fresh.length > 0) options.show(fresh);
    // Ack every id received, duplicates too: a redelivery means an earlier ack was lost.
    const ids = event.items.map((item) => item.id);
    acks = acks
      .then(() => acknowledge(ids))
      .then(
        () => {
          if (!stopped) options.onAcked?.(event);
        },
        (error: unknown) => {
          if (isRefusal(error)) return refuse(error);
          if (!stopped) options.onAckFailed?.(error instanceof Error ? error : new Error(String(error)));
        },
      );
  };

  const subscribe = () => {
    if (stopped) return;
    subscription = client.daemon.notifications.subscribe(undefined, {
      onStarted: () => {
        if (!stopped) options.onStarted?.();
      },
      onData: (event) => {
        failures = 0;
        receive(event);
      },
      onError: (error) => {
        if (isRefusal(error)) return refuse(error);
        if (stopped) return;
        // A server-side failure ends the subscription; the socket is fine: subscribe again.
        const delay = backoffDelay(failures++);
        options.onSubscriptionError?.(error, delay);
        retryTimer = setTimeout(subscribe, delay);
      },
    });
  };

  const dismiss = async (ids: string[]) => {
    for (let start = 0; start < ids.length && !stopped; start += MAX_IDS_PER_DISMISS) {
      await client.daemon.dismiss.mutate({ ids: ids.slice(start, start + MAX_IDS_PER_DISMISS) });
    }
  };

  // Dismissals made together (a "close all") leave in one call: the server takes a few signalling calls a second per socket.
  let gathered: string[] = [];
  const sendGathered = () => {
    const ids = gathered;
    gathered = [];
    dismiss(ids).catch((error: unknown) => {
      if (isRefusal(error)) refuse(error);
    });
  };

  subscribe();
  return {
    stop,
    dismiss: (ids) => {
      if (stopped || ids.length === 0) return;
      if (gathered.length === 0) setTimeout(sendGathered, DISMISSALS_GATHER_MS);
      gathered.push(...ids);
    },
    check: (error) => {
      if (isRefusal(error)) refuse(error);
    },
  };
}
