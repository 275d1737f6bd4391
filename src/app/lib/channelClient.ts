'use client';
/**
 * The browser's typed client of the server's tRPC router, over the
 * WebSocket at /presence. The dashboard connects with the operator cookie
 * (sent by the browser), the device page with its device token.
 */
import { createTRPCClient, createWSClient, wsLink, type TRPCClient } from '@trpc/client';
import type { AppRouter } from '@/server/routers/_app';

export type ChannelClient = TRPCClient<AppRouter>;

export function channelUrl(): string {
  return `${window.location.protocol === 'https:' ? 'wss:' : 'ws:'}//${window.location.host}/presence`;
}

/** Opens a client; `close()` ends its socket. */
export function openChannelClient(options: { token?: string; onConnectionChange?: (connected: boolean) => void } = {}) {
  const wsClient = createWSClient({
    url: channelUrl(),
    ...(options.token ? { connectionParams: { token: options.token } } : {}),
    retryDelayMs: (attempt) => Math.min(30_000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2),
    // A phone back from sleep may hold a dead socket: pings find out.
    keepAlive: { enabled: true, intervalMs: 20_000, pongTimeoutMs: 5_000 },
    onOpen: () => options.onConnectionChange?.(true),
    onClose: () => options.onConnectionChange?.(false),
  });
  const client: ChannelClient = createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient })] });
  return { client, close: () => wsClient.close() };
}
