/**
 * A real WebSocket tRPC client on the daemon channel, recording what it gets,
 * for tests that look at the channel's messages one by one.
 */
import { createTRPCClient, createWSClient, TRPCClientError, wsLink } from '@trpc/client';
import WebSocket from 'ws';
import { channelUrl } from '../../src/shared/channel.ts';
import type { ItemsEvent } from '../../src/shared/delivery.ts';
import type { AppRouter } from '../../src/server/trpc/routers/_app.ts';

export interface ChannelClient {
  /** The backlog and live events, in order. */
  events: ItemsEvent[];
  /** The ids of each `dismissed` event, in order. */
  dismissals: string[][];
  /** The `retracted` events' tags, in order. */
  retractions: { appid: string; tag: string }[][];
  errors: Error[];
  /** WebSocket close codes seen, in order. */
  closeCodes: number[];
  /** Resolves with event number `index` (0 = the backlog) once it has arrived. */
  event(index: number, timeoutMs?: number): Promise<ItemsEvent>;
  /** The ids of every item received so far. */
  receivedIds(): string[];
  ack(ids: string[]): Promise<{ acked: number }>;
  dismiss(ids: string[]): Promise<{ dismissed: number }>;
  close(): Promise<void>;
}

export function connectChannel(serverUrl: string, token: string | null, options: { retry?: boolean } = {}): ChannelClient {
  const events: ItemsEvent[] = [];
  const dismissals: string[][] = [];
  const retractions: { appid: string; tag: string }[][] = [];
  const errors: Error[] = [];
  const closeCodes: number[] = [];
  const waiters = new Set<() => void>();
  const wsClient = createWSClient({
    url: channelUrl(serverUrl),
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    ...(token === null ? {} : { connectionParams: { token } }),
    retryDelayMs: () => (options.retry === false ? 60_000 : 100),
    onClose: (cause) => closeCodes.push(cause?.code ?? 0),
  });
  const client = createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient })] });
  const subscription = client.daemon.notifications.subscribe(undefined, {
    onData: (event) => {
      if (event.kind === 'dismissed') dismissals.push(event.ids);
      else if (event.kind === 'retracted') retractions.push(event.tags);
      else events.push(event);
      waiters.forEach((wake) => wake());
    },
    onError: (error) => {
      errors.push(error);
      waiters.forEach((wake) => wake());
    },
  });
  return {
    events,
    dismissals,
    retractions,
    errors,
    closeCodes,
    event: (index, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = events[index];
          if (found) done(() => resolve(found));
          else if (errors.length > 0) done(() => reject(errors[0]));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`no event ${index} within ${timeoutMs} ms (got ${events.length})`))), timeoutMs);
        const done = (settle: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      }),
    receivedIds: () => events.flatMap((e) => e.items.map((i) => i.id)),
    ack: (ids) => client.daemon.ack.mutate({ ids }),
    dismiss: (ids) => client.daemon.dismiss.mutate({ ids }),
    async close() {
      subscription.unsubscribe();
      await wsClient.close();
    },
  };
}

export function isUnauthorized(error: unknown): boolean {
  return error instanceof TRPCClientError && error.data?.code === 'UNAUTHORIZED';
}
