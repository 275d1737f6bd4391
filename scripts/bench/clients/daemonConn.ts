/**
 * One daemon connection on the channel, in three flavours with one shape:
 *
 * - "trpc": the real client stack (@trpc/client createWSClient + wsLink + ws),
 *   as the desktop daemon uses it;
 * - "raw": a lean client on the bare `ws` socket that speaks the same tRPC
 *   JSON-RPC frames (connectionParams message, `subscription`, `mutation`,
 *   PING/PONG). tRPC's client keeps per-connection observables, timers and a
 *   request manager; at 15,000+ connections over two cores that is the
 *   client eating the server's CPU, so the capacity and storm phases use this;
 * - "bare": a WebSocket that only opens (for the bare `ws` server baseline).
 *
 * The server cannot tell "raw" from "trpc": the frames are identical.
 */
import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import WebSocket from 'ws';
import type { AppRouter } from '../../../src/server/trpc/routers/_app.ts';
import { channelUrl } from '../../../src/shared/channel.ts';

export type ClientKind = 'trpc' | 'raw' | 'bare';

/** The fields of a delivered item the benchmark looks at. */
export interface ItemLite {
  id: string;
  message: string;
}

export interface ConnHooks {
  /** Every event of the subscription, with the time it arrived. */
  onEvent(kind: 'backlog' | 'live', items: ItemLite[], receivedAt: number): void;
  /** The server answered an ack. */
  onAcked(count: number): void;
  /** An ack was refused or failed (e.g. the server's pool timed out): `attempt` is what was passed to ack(). */
  onAckFailed(ids: string[], reason: string, attempt: number): void;
  /** The socket closed (after being ready) or the subscription failed. */
  onLost(reason: string): void;
}

export interface DaemonConn {
  /** Resolves once the backlog event arrived (for "bare": once the socket is open); rejects on failure. */
  ready: Promise<void>;
  /** Acknowledges `ids` (in calls of at most 1,000); `attempt` is handed back to onAckFailed. */
  ack(ids: string[], attempt?: number): void;
  close(): Promise<void>;
}

const now = () => performance.timeOrigin + performance.now();

export function openConn(kind: ClientKind, server: string, token: string, hooks: ConnHooks, timeoutMs: number): DaemonConn {
  if (kind === 'trpc') return openTrpc(server, token, hooks, timeoutMs);
  return openRaw(kind, server, token, hooks, timeoutMs);
}

interface Frame {
  id?: number | string | null;
  method?: string;
  result?: { type?: string; data?: unknown };
  error?: { message?: string; data?: { code?: string } };
}

function openRaw(kind: 'raw' | 'bare', server: string, token: string, hooks: ConnHooks, timeoutMs: number): DaemonConn {
  const url = kind === 'bare' ? server : `${channelUrl(server)}?connectionParams=1`;
  // perMessageDeflate off: the server does not enable it, so do not even offer it.
  const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: timeoutMs });
  let nextId = 2;
  const acks = new Map<number, { ids: string[]; attempt: number }>();
  let isReady = false;
  let settle: { resolve: () => void; reject: (e: Error) => void } | null = null;
  const ready = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  ready.catch(() => undefined); // observed by the caller; never an unhandled rejection
  const timer = setTimeout(() => fail(new Error('no backlog within timeout')), timeoutMs);
  const succeed = () => {
    clearTimeout(timer);
    isReady = true;
    settle?.resolve();
    settle = null;
  };
  function fail(error: Error) {
    clearTimeout(timer);
    if (settle) {
      settle.reject(error);
      settle = null;
      ws.terminate();
    } else if (isReady) hooks.onLost(error.message);
  }

  ws.on('open', () => {
    if (kind === 'bare') return succeed();
    ws.send(JSON.stringify({ method: 'connectionParams', data: { token } }));
    ws.send(JSON.stringify({ id: 1, method: 'subscription', params: { path: 'daemon.notifications' } }));
  });
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const text = isBinary ? '' : data.toString('utf8');
    if (text === 'PING') return ws.send('PONG'); // tRPC's keep-alive: unanswered, the server terminates the socket
    if (text === 'PONG' || kind === 'bare') return;
    const receivedAt = now();
    let frame: Frame;
    try {
      frame = JSON.parse(text) as Frame;
    } catch {
      return;
    }
    const ackCall = typeof frame.id === 'number' ? acks.get(frame.id) : undefined;
    if (ackCall && typeof frame.id === 'number') {
      acks.delete(frame.id);
      if (frame.error) hooks.onAckFailed(ackCall.ids, `${frame.error.data?.code ?? 'error'}: ${frame.error.message ?? ''}`, ackCall.attempt);
      else hooks.onAcked((frame.result?.data as { acked?: number } | undefined)?.acked ?? 0);
      return;
    }
    if (frame.error) return fail(new Error(`${frame.error.data?.code ?? 'error'}: ${frame.error.message ?? ''}`));
    if (frame.id === 1 && frame.result?.type === 'data') {
      const event = frame.result.data as { kind: 'backlog' | 'live'; items: ItemLite[] };
      hooks.onEvent(event.kind, event.items, receivedAt);
      if (event.kind === 'backlog') succeed();
    } else if (frame.id === 1 && frame.result?.type === 'stopped') {
      fail(new Error('subscription stopped'));
    }
  });
  ws.on('error', (error) => fail(error));
  ws.on('close', (code) => fail(new Error(`closed (${code})`)));

  return {
    ready,
    ack(ids, attempt = 0) {
      for (let i = 0; i < ids.length; i += 1000) {
        const id = nextId++;
        const slice = ids.slice(i, i + 1000);
        if (ws.readyState !== WebSocket.OPEN) {
          hooks.onAckFailed(slice, 'socket not open', attempt);
          continue;
        }
        acks.set(id, { ids: slice, attempt });
        ws.send(JSON.stringify({ id, method: 'mutation', params: { path: 'daemon.ack', input: { ids: slice } } }));
      }
    },
    close() {
      isReady = false; // a close we asked for is not a loss
      clearTimeout(timer);
      if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const force = setTimeout(() => ws.terminate(), 5_000);
        ws.once('close', () => {
          clearTimeout(force);
          resolve();
        });
        ws.close();
      });
    },
  };
}

function openTrpc(server: string, token: string, hooks: ConnHooks, timeoutMs: number): DaemonConn {
  let isReady = false;
  let settle: { resolve: () => void; reject: (e: Error) => void } | null = null;
  const ready = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  ready.catch(() => undefined);
  const timer = setTimeout(() => fail(new Error('no backlog within timeout')), timeoutMs);
  function fail(error: Error) {
    clearTimeout(timer);
    if (settle) {
      settle.reject(error);
      settle = null;
    } else if (isReady) hooks.onLost(error.message);
  }
  const wsClient = createWSClient({
    url: channelUrl(server),
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    connectionParams: { token },
    // A benchmark daemon does not reconnect on its own: a loss is a result.
    retryDelayMs: () => 3_600_000,
    onClose: (cause) => fail(new Error(`closed (${cause?.code ?? 0})`)),
  });
  const client = createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient })] });
  const subscription = client.daemon.notifications.subscribe(undefined, {
    onData: (event) => {
      if (event.kind === 'dismissed' || event.kind === 'retracted') return;
      hooks.onEvent(event.kind, event.items, now());
      if (event.kind === 'backlog' && settle) {
        clearTimeout(timer);
        isReady = true;
        settle.resolve();
        settle = null;
      }
    },
    onError: (error) => fail(error),
  });
  return {
    ready,
    ack(ids, attempt = 0) {
      for (let i = 0; i < ids.length; i += 1000) {
        const slice = ids.slice(i, i + 1000);
        client.daemon.ack.mutate({ ids: slice }).then(
          (answer) => hooks.onAcked(answer.acked),
          (error: Error) => hooks.onAckFailed(slice, error.message, attempt),
        );
      }
    },
    async close() {
      isReady = false;
      clearTimeout(timer);
      subscription.unsubscribe();
      await wsClient.close();
    },
  };
}
