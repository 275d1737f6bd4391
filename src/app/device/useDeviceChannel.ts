'use client';
/**
 * The daemon of the device page: the shared daemon core
 * (src/shared/daemonCore.ts) on the channel with the device token, keeping
 * the notifications it received in React state (newest first, each id once,
 * one card per app and tag).
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { flushSync } from 'react-dom';
import { openChannelClient } from '@/app/lib/channelClient';
import { SeenIds, startDaemonCore, type DaemonCore } from '@/shared/daemonCore';
import type { DeliveredItem, DeviceIdentity, RetractedEvent } from '@/shared/delivery';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting';

export interface ChannelHandlers {
  /** The server refused the token (wrong or revoked): the channel is closed for good. */
  onRefused: (message: string) => void;
  /** Items received for the first time, after they are in the list. */
  onNewItems: (items: DeliveredItem[]) => void;
  /** The user clicked or dismissed these items on another device. */
  onDismissed?: (ids: string[]) => void;
  /** An app took back what these (app, tag) pairs show, after their cards are gone. */
  onRetracted?: (tags: TagRef[]) => void;
}

/** One (app, tag) pair, as a `retracted` event names it. */
export type TagRef = RetractedEvent['tags'][number];

/** The list keeps this many items; older ones fall off the end. */
const MAX_LISTED = 500;

/** Newest first: by creation time, then by id (ids are 64-bit integers as strings). */
function newestFirst(a: DeliveredItem, b: DeliveredItem): number {
  const byTime = Date.parse(b.createdAt) - Date.parse(a.createdAt);
  if (byTime !== 0) return byTime;
  return b.id.length - a.id.length || (b.id > a.id ? 1 : b.id < a.id ? -1 : 0);
}

/** One key per (app, tag), for items that have a tag. */
export function itemTagKey(appid: string, tag: string): string {
  return JSON.stringify([appid, tag]);
}

/**
 * The list with `fresh` items added: a tagged item replaces the listed one of
 * its (app, tag) (and an older one of the same batch), so each pair has one card.
 */
export function mergeItems(listed: readonly DeliveredItem[], fresh: readonly DeliveredItem[]): DeliveredItem[] {
  const merged = [...fresh, ...listed].sort(newestFirst);
  const tags = new Set<string>();
  return merged
    .filter((item) => {
      if (item.tag === undefined) return true;
      const key = itemTagKey(item.appid, item.tag);
      if (tags.has(key)) return false;
      tags.add(key);
      return true;
    })
    .slice(0, MAX_LISTED);
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
  // The open channel, for calls the page makes itself (a pairing code).
  const channelRef = useRef<ReturnType<typeof openChannelClient> | null>(null);
  const coreRef = useRef<DaemonCore | null>(null);
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
    let subscriptionFailing = false;

    const channel = openChannelClient({
      token,
      onConnectionChange: (connected) => {
        if (stopped) return;
        setConnection(connected ? 'connected' : 'reconnecting');
        if (connected && !identified) askWhoami();
      },
    });

    channelRef.current = channel;

    const stop = () => {
      stopped = true;
      if (channelRef.current === channel) channelRef.current = null;
      if (coreRef.current === core) coreRef.current = null;
      core.stop();
      void channel.close();
    };

    const core = startDaemonCore({
      client: channel.client,
      // Kept across reconnections: the backlog of a new connection repeats what was not acked yet.
      seen: (seenRef.current ??= new SeenIds()),
      onEvent: () => {
        if (subscriptionFailing) setProblem(null);
        subscriptionFailing = false;
      },
      show: (fresh) => {
        // Commit the list before the core acks: an item is purged only once it is on screen.
        flushSync(() => setItems((listed) => mergeItems(listed, fresh)));
        handlersRef.current.onNewItems(fresh);
      },
      onDismissed: (ids) => handlersRef.current.onDismissed?.(ids),
      onRetracted: (tags) => {
        const retracted = new Set(tags.map(({ appid, tag }) => itemTagKey(appid, tag)));
        setItems((listed) => listed.filter((item) => item.tag === undefined || !retracted.has(itemTagKey(item.appid, item.tag))));
        handlersRef.current.onRetracted?.(tags);
      },
      onAcked: (event) => {
        if (event.items.length > 0) setProblem(null);
      },
      onAckFailed: () => setProblem('Could not confirm receipt to the server; these notifications will come again on the next connection.'),
      onSubscriptionError: (error) => {
        subscriptionFailing = true;
        setProblem(`The server could not send notifications (${error.message}); trying again.`);
      },
      // A refused token is final: close the client instead of retrying forever.
      onRefused: (error) => {
        if (stopped) return;
        stop();
        handlersRef.current.onRefused(
          `This device token was refused by the server (${error.message}). It may be mistyped, or this device was revoked: sign in with a valid token.`,
        );
      },
    });

    coreRef.current = core;

    function askWhoami() {
      if (asking || stopped) return;
      asking = true;
      channel.client.daemon.whoami.query().then(
        (identity) => {
          asking = false;
          if (stopped) return;
          identified = true;
          setDevice(identity);
        },
        (error: unknown) => {
          asking = false;
          // A refusal ends the core; anything else is asked again on the next connection.
          core.check(error);
        },
      );
    }

    askWhoami();
    return stop;
  }, [token, generation]);

  /** A one-time code that pairs a new device of this user (`presence-daemon pair`). */
  const requestPairingCode = async () => {
    if (!channelRef.current) throw new Error('not connected');
    return channelRef.current.client.daemon.pairingCode.mutate();
  };

  /** "Apps that can notify you": this user's grants. */
  const listGrants = useCallback(async () => {
    if (!channelRef.current) throw new Error('not connected');
    return channelRef.current.client.daemon.grants.list.query();
  }, []);

  /** Revokes one of this user's grants, as `presence uid revoke` does. */
  const revokeGrant = useCallback(async (uid: string) => {
    if (!channelRef.current) throw new Error('not connected');
    return channelRef.current.client.daemon.grants.revoke.mutate({ uid });
  }, []);

  /** Tells the user's other devices that these items were clicked or dismissed here. */
  const dismiss = (ids: string[]) => coreRef.current?.dismiss(ids);

  return { connection, device, items, problem, clear: () => setItems([]), requestPairingCode, dismiss, listGrants, revokeGrant };
}
