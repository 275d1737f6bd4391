'use client';
/**
 * The browser's typed client of the server's tRPC router, over the channel
 * on this page's own origin. The dashboard connects with the operator cookie
 * (sent by the browser), the device page with its device token.
 */
import type { TRPCClient } from '@trpc/client';
import type { AppRouter } from '@/server/trpc/routers/_app';
import { channelUrl } from '@/shared/channel';
import { createChannelClient } from '@/shared/channelClient';

export type ChannelClient = TRPCClient<AppRouter>;

/** Opens a client; `close()` ends its socket. */
export function openChannelClient(options: { token?: string; onConnectionChange?: (connected: boolean) => void } = {}) {
  return createChannelClient<AppRouter>({
    url: channelUrl(window.location.href),
    ...(options.token ? { token: options.token } : {}),
    onOpen: () => options.onConnectionChange?.(true),
    onClose: () => options.onConnectionChange?.(false),
  });
}
