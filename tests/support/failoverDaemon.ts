/**
 * A test daemon that behaves like the real one where it matters for fault
 * tests: it holds the channel open through server crashes (reconnecting every
 * 100 ms, to the next of several nodes if given more than one), records every
 * item it receives, drops duplicates by id, and acknowledges what it received
 * (duplicates included, as the real daemon does) so queues drain.
 */
import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import { expect } from 'vitest';
import WebSocket from 'ws';
import { waitUntil } from './faultTools.ts';
import { channelUrl } from '../../src/shared/channel.ts';
import type { DeliveredItem } from '../../src/shared/delivery.ts';
import type { AppRouter } from '../../src/server/trpc/routers/_app.ts';

export interface FailoverDaemon {
  /** Every distinct item received, by id (the first copy). */
  readonly items: Map<string, DeliveredItem>;
  /** Items received including duplicates. */
  readonly deliveries: () => number;
  /** Events received (backlogs and live ones). */
  readonly events: () => number;
  /** How many backlog events arrived: one per (re)subscription. */
  readonly backlogs: () => number;
  /** The server URLs of the connections that opened, in order. */
  readonly connectedTo: string[];
  /** Acks that failed (a server that went away mid-ack): harmless, the items come again. */
  readonly failedAcks: () => number;
  /**
   * Connection attempts whose WebSocket handshake got no answer within
   * {@link HANDSHAKE_TIMEOUT_MS} (see the known bug in tests/faults/crash.test.ts).
   */
  readonly stalledHandshakes: () => number;
  /** Subscription errors (none expected while servers crash and come back). */
  readonly errors: Error[];
  /** Distinct message texts received. */
  messages(): Set<string>;
  /** A one-line account of this daemon's life, for failure messages. */
  describe(): string;
  close(): Promise<void>;
}

/**
 * A handshake that gets no answer is abandoned after this long, and the next
 * attempt made. Without it one unanswered upgrade stalls the tRPC client's
 * reconnect loop for good (it waits for "open" or "error", and neither comes).
 */
export const HANDSHAKE_TIMEOUT_MS = 2_000;

export interface FailoverDaemonOptions {
  /** Acknowledge what arrives (default true). */
  ack?: boolean;
  /** Which of `servers` to try first (default 0). */
  start?: number;
}

/**
 * Connects to `servers[start]`; whenever the connection is lost it tries the
 * next server in turn (wrapping around), one attempt every 100 ms, forever.
 */
export function startFailoverDaemon(servers: readonly string[], token: string, options: FailoverDaemonOptions = {}): FailoverDaemon {
  const items = new Map<string, DeliveredItem>();
  const connectedTo: string[] = [];
  const errors: Error[] = [];
  let deliveries = 0;
  let events = 0;
  let backlogs = 0;
  let failedAcks = 0;
  let closes = 0;
  let stalledHandshakes = 0;
  class TimedWebSocket extends WebSocket {
    constructor(address: string) {
      super(address, { handshakeTimeout: HANDSHAKE_TIMEOUT_MS });
      this.on('error', (error) => {
        if (/handshake has timed out/i.test(error.message)) stalledHandshakes++;
      });
    }
  }
  let lastEventAt = 0;
  const started = Date.now();
  let attempt = options.start ?? 0;
  let current = servers[attempt % servers.length] as string;

  const wsClient = createWSClient({
    // Called for every connection attempt: the first goes to `start`, every retry to the next node.
    url: () => {
      current = servers[attempt++ % servers.length] as string;
      return channelUrl(current);
    },
    WebSocket: TimedWebSocket as unknown as typeof globalThis.WebSocket,
    connectionParams: { token },
    retryDelayMs: () => 100,
    onOpen: () => connectedTo.push(current),
    onClose: () => closes++,
  });
  const client = createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient })] });

  const acknowledge = (ids: string[]) => {
    for (let i = 0; i < ids.length; i += 1_000) {
      client.daemon.ack.mutate({ ids: ids.slice(i, i + 1_000) }).catch(() => failedAcks++);
    }
  };

  const subscription = client.daemon.notifications.subscribe(undefined, {
    onData: (event) => {
      events++;
      lastEventAt = Date.now();
      if (event.kind === 'dismissed' || event.kind === 'retracted') return;
      if (event.kind === 'backlog') backlogs++;
      for (const item of event.items) {
        deliveries++;
        if (!items.has(item.id)) items.set(item.id, item);
      }
      if (options.ack !== false && event.items.length > 0) acknowledge(event.items.map((item) => item.id));
    },
    onError: (error) => errors.push(error),
  });

  return {
    items,
    deliveries: () => deliveries,
    events: () => events,
    backlogs: () => backlogs,
    connectedTo,
    failedAcks: () => failedAcks,
    stalledHandshakes: () => stalledHandshakes,
    errors,
    messages: () => new Set([...items.values()].map((item) => item.message)),
    describe: () =>
      `opened ${connectedTo.length} connections (${connectedTo.join(' ')}), closed ${closes}, ${events} events (${backlogs} backlogs), ` +
      `${items.size} items (${deliveries} with duplicates), last event ${lastEventAt ? `${(Date.now() - lastEventAt) / 1000} s ago` : 'never'} ` +
      `(started ${(Date.now() - started) / 1000} s ago), ${failedAcks} failed acks, ${stalledHandshakes} stalled handshakes, errors: ${errors.map((e) => e.message).join('; ') || 'none'}`,
    async close() {
      subscription.unsubscribe();
      await wsClient.close();
    },
  };
}

/** Waits until every daemon has had its first event (its backlog). */
export function waitForBacklogs(daemons: readonly FailoverDaemon[]): Promise<void> {
  return waitUntil(() => daemons.every((d) => d.backlogs() >= 1), {
    timeoutMs: 30_000,
    describe: () => `${daemons.filter((d) => d.backlogs() === 0).length} daemons without their first event`,
  });
}

/**
 * Checks that each daemon received only the messages sent to it (`sentTo`:
 * message → daemon index) and none under two ids: a redelivery keeps its id.
 * With `subscriptionErrors: 'none'`, also that no subscription failed.
 */
export function expectOwnMessagesUnderOneId(
  daemons: readonly FailoverDaemon[],
  sentTo: ReadonlyMap<string, number>,
  options: { subscriptionErrors: 'none' | 'allowed' },
): void {
  for (const [index, daemon] of daemons.entries()) {
    const idsByMessage = new Map<string, Set<string>>();
    for (const item of daemon.items.values()) {
      expect(sentTo.get(item.message), `daemon ${index} got ${item.message}`).toBe(index);
      if (!idsByMessage.has(item.message)) idsByMessage.set(item.message, new Set());
      idsByMessage.get(item.message)?.add(item.id);
    }
    expect(
      [...idsByMessage].filter(([, ids]) => ids.size > 1),
      `daemon ${index}: one message under several ids`,
    ).toEqual([]);
    if (options.subscriptionErrors === 'none') expect(daemon.errors, `daemon ${index} subscription errors`).toEqual([]);
  }
}
