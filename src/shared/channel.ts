/** Where the channel is, for the server that serves it and the clients that connect to it. */

/** Where the channel is served, on the HTTP port. */
export const CHANNEL_PATH = '/presence';

/** The channel's ws(s) URL on the server at `server` (an http(s) URL). */
export function channelUrl(server: string): string {
  const url = new URL(CHANNEL_PATH, server);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}
