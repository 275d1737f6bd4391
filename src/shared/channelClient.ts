/**
 * A typed tRPC client of the channel, for the desktop daemon, the device page
 * and the dashboard: it reconnects with backoff and pings to find dead sockets.
 */
import { createTRPCClient, createWSClient, wsLink, type TRPCClient, type WebSocketLinkOptions } from '@trpc/client';
import type { AnyTRPCRouter } from '@trpc/server';
import { backoffDelay } from './backoff.ts';

export interface ChannelClientOptions {
  /** The channel's ws(s) URL (`channelUrl` of channel.ts). */
  url: string;
  /** A device token; the dashboard's connection carries its session cookie instead. */
  token?: string;
  /** The WebSocket class: the browser's by default (Node 20 has none). */
  WebSocket?: typeof globalThis.WebSocket;
  onOpen?: () => void;
  /** The socket closed (with its close code, when there was one); the client reconnects. */
  onClose?: (code: number | undefined) => void;
}

/** A typed tRPC client of the channel; `close()` ends its socket and stops reconnecting. */
export function createChannelClient<TRouter extends AnyTRPCRouter>(options: ChannelClientOptions): { client: TRPCClient<TRouter>; close: () => Promise<void> } {
  const wsClient = createWSClient({
    url: options.url,
    ...(options.WebSocket ? { WebSocket: options.WebSocket } : {}),
    ...(options.token ? { connectionParams: { token: options.token } } : {}),
    retryDelayMs: (attempt) => backoffDelay(attempt),
    // A phone back from sleep, or a laptop back on the network, may hold a dead socket: pings find out.
    keepAlive: { enabled: true, intervalMs: 20_000, pongTimeoutMs: 5_000 },
    onOpen: () => options.onOpen?.(),
    onClose: (cause) => options.onClose?.(cause?.code),
  });
  // The router sends plain JSON (no transformer), which a generic TRouter cannot show the compiler.
  const client = createTRPCClient<TRouter>({ links: [wsLink<TRouter>({ client: wsClient } as WebSocketLinkOptions<TRouter>)] });
  return { client, close: () => wsClient.close() };
}
