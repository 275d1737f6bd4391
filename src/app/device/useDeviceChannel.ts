'use client';
/**
 * The daemon of the device page: holds the channel open with the device
 * token, keeps the notifications it received (newest first, each id once)
 * and acknowledges everything it receives, like the desktop daemon does.
 */
import { TRPCClientError } from '@trpc/client';
import { useEffect, useRef, useState } from 'react';
import { flushSync } from 'react-dom';
import { openChannelClient } from '@/app/lib/channelClient';
import type { DeliveredItem } from '@/server/delivery/items';
import type { DeliveryEvent } from '@/server/routers/daemon';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting';

export interface DeviceIdentity {
  deviceId: string;
  deviceName: string;
  userId: string;
}

export interface ChannelHandlers {
  /** The server refused the token (wrong or revoked): the channel is closed for good. */
  onRefused: (message: string) => void;
  /** Items received for the first time, after they are in the list. */
  onNewItems: (items: DeliveredItem[]) => void;
}

/** The list keeps this many items; older ones fall off the end. */
const MAX_LISTED = 500;
/** How many ids are remembered to drop redeliveries. */
const MAX_SEEN = 10_000;
/** The most ids one ack may carry. */
const ACK_BATCH = 1_000;

/** Backoff with jitter for subscribing again after a server-side error: 0.5 s doubling to 30 s. */
function retryDelay(attempt: number): number {
  return Math.min(30_000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);
}

function isRefusal(error: unknown): boolean {
  return error instanceof TRPCClientError && error.data?.code === 'UNAUTHORIZED';
}

/** Newest first: by creation time, then by id (ids are 64-bit integers as strings). */
function newestFirst(a: DeliveredItem, b: DeliveredItem): number {
  const byTime = Date.parse(b.createdAt) - Date.parse(a.createdAt);
  if (byTime !== 0) return byTime;
  return b.id.length - a.id.length || (b.id > a.id ? 1 : b.id < a.id ? -1 : 0);
}

/** Remembers the ids already listed (the oldest are forgotten past MAX_SEEN). */
class SeenIds {
  private readonly ids = new Set<string>();

  /** True the first time an id is offered. */
  add(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    if (this.ids.size > MAX_SEEN) this.ids.delete(this.ids.values().next().value as string);
    return true;
  }
}

/**
 * Runs the daemon while mounted. Returns the connection state, the device
 * (once `whoami` answered), the items, the latest problem worth showing, and
 * `clear` to empty the list (the ids stay known, so nothing comes back).
 */
export function useDeviceChannel(token: string, handlers: ChannelHandlers) {
  const [connection, setConnection] = useState<ConnectionState>('connecting');
  const [device, setDevice] = useState<DeviceIdentity | null>(null);
  const [items, setItems] = useState<DeliveredItem[]>([]);
  const [problem, setProblem] = useState<string | null>(null);
  // Bumped to open a fresh connection at once, instead of waiting out the backoff.
  const [generation, setGeneration] = useState(0);
  const seenRef = useRef<SeenIds | null>(null);
  const handlersRef = useRef(handlers);
  useEffect(() => {
    handlersRef.current = handlers;
  });

  useEffect(() => {
    // A phone back on the network (out of a tunnel, off flight mode) reconnects now.
    const onOnline = () => {
      setConnection('reconnecting');
      setGeneration((n) => n + 1);
    };
    window.addEventListener('online', onOnline);
    return () => window.removeEventListener('online', onOnline);
  }, []);

  useEffect(() => {
    let stopped = false;
    let identified = false;
    let asking = false;
    let subscription: { unsubscribe(): void } | null = null;
    let retryTimer: ReturnType<typeof setTimeout> | undefined;
    let failures = 0;
    let acks = Promise.resolve();
    // Kept across reconnections: the backlog of a new connection repeats what was not acked yet.
    const seen = (seenRef.current ??= new SeenIds());

    const channel = openChannelClient({
      token,
      onConnectionChange: (connected) => {
        if (stopped) return;
        setConnection(connected ? 'connected' : 'reconnecting');
        if (connected && !identified) askWhoami();
      },
    });
    const { client } = channel;

    const stop = () => {
      stopped = true;
      clearTimeout(retryTimer);
      subscription?.unsubscribe();
      void channel.close();
    };

    // A refused token is final: close the client instead of retrying forever.
    const refuse = (error: unknown) => {
      if (stopped) return;
      stop();
      handlersRef.current.onRefused(
        `This device token was refused by the server (${error instanceof Error ? error.message : 'unauthorized'}). It may be mistyped, or this device was revoked: sign in with a valid token.`,
      );
    };

    function askWhoami() {
      if (asking || stopped) return;
      asking = true;
      client.daemon.whoami.query().then(
        (identity) => {
          asking = false;
          if (stopped) return;
          identified = true;
          setDevice(identity);
        },
        (error: unknown) => {
          asking = false;
          // Anything else is asked again on the next connection.
          if (isRefusal(error)) refuse(error);
        },
      );
    }

    async function acknowledge(ids: string[]) {
      for (let start = 0; start < ids.length; start += ACK_BATCH) {
        await client.daemon.ack.mutate({ ids: ids.slice(start, start + ACK_BATCH) });
      }
    }

    function receive(event: DeliveryEvent) {
      if (stopped) return;
      const fresh = event.items.filter((item) => seen.add(item.id));
      if (fresh.length > 0) {
        // Commit the list before acking: an item is purged only once it is on screen.
        flushSync(() => setItems((listed) => [...fresh, ...listed].sort(newestFirst).slice(0, MAX_LISTED)));
        handlersRef.current.onNewItems(fresh);
      }
      if (event.items.length === 0) return;
      // Ack every id received, duplicates too: a redelivery means an earlier ack was lost.
      const ids = event.items.map((item) => item.id);
      acks = acks
        .then(() => acknowledge(ids))
        .then(
          () => {
            if (!stopped) setProblem(null);
          },
          (error: unknown) => {
            if (isRefusal(error)) return refuse(error);
            if (!stopped) setProblem('Could not confirm receipt to the server; these notifications will come again on the next connection.');
          },
        );
    }

    function subscribe() {
      if (stopped) return;
      subscription = client.daemon.notifications.subscribe(undefined, {
        onData: (event) => {
          if (failures > 0) setProblem(null);
          failures = 0;
          receive(event);
        },
        onError: (error) => {
          if (isRefusal(error)) return refuse(error);
          if (stopped) return;
          // A server-side failure ends the subscription; the socket is fine: subscribe again.
          setProblem(`The server could not send notifications (${error.message}); trying again.`);
          retryTimer = setTimeout(subscribe, retryDelay(failures++));
        },
      });
    }

    askWhoami();
    subscribe();
    return stop;
  }, [token, generation]);

  return { connection, device, items, problem, clear: () => setItems([]) };
}
