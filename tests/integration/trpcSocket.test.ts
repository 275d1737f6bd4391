/**
 * The channel's tRPC WebSocket server on its own, with a tiny router and raw
 * frames from a real `ws` client: calls, subscriptions and their stop, the
 * keep-alive (one shared timer), and the reconnect notice.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { initTRPC } from '@trpc/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { z } from 'zod';
import { serveTrpcSockets, type TrpcSockets } from '../../src/server/channel/trpcSocket.ts';

const t = initTRPC.context<{ name: string }>().create();
const router = t.router({
  greet: t.procedure.input(z.object({ who: z.string() })).query(({ ctx, input }) => `${ctx.name} greets ${input.who}`),
  ticks: t.procedure.subscription(async function* ({ signal }) {
    for (let n = 0; !signal?.aborted; n++) {
      yield n;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }),
});

let server: Server;
let sockets: TrpcSockets;
let url: string;
const errors: string[] = [];

beforeAll(async () => {
  server = createServer();
  const wss = new WebSocketServer({ server });
  sockets = serveTrpcSockets(wss, {
    router,
    createContext: async (_req, _ws, params) => ({ name: params?.name ?? 'anonymous' }),
    onError: (error) => errors.push(error.code),
    keepAlive: { pingMs: 300, pongWaitMs: 300, sweepMs: 50 },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  sockets.stop();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** A raw client that records every frame it receives. */
async function connect(options: { params?: Record<string, string>; answerPings?: boolean } = {}) {
  const ws = new WebSocket(options.params ? `${url}/?connectionParams=1` : url);
  const frames: string[] = [];
  ws.on('message', (data) => {
    const text = String(data);
    frames.push(text);
    if (text === 'PING' && options.answerPings !== false) ws.send('PONG');
  });
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  if (options.params) ws.send(JSON.stringify({ method: 'connectionParams', data: options.params }));
  const json = () => frames.filter((f) => f.startsWith('{')).map((f) => JSON.parse(f) as Record<string, any>);
  return { ws, frames, json, closed };
}

describe('tRPC over WebSocket', () => {
  it('answers a query with the context made from the connection params, and refuses bad input', async () => {
    const client = await connect({ params: { name: 'node A' } });
    client.ws.send(
      JSON.stringify([
        { id: 1, method: 'query', params: { path: 'greet', input: { who: 'Ada' } } },
        { id: 2, method: 'query', params: { path: 'greet', input: { who: 42 } } },
      ]),
    );
    await expect.poll(() => client.json().length).toBe(2);
    const byId = new Map(client.json().map((m) => [m.id, m]));
    expect(byId.get(1)?.result).toEqual({ type: 'data', data: 'node A greets Ada' });
    expect(byId.get(2)?.error.data.code).toBe('BAD_REQUEST');
    client.ws.close();
  });

  it('streams a subscription until the client stops it, then says it stopped', async () => {
    const client = await connect();
    client.ws.send(JSON.stringify({ id: 7, method: 'subscription', params: { path: 'ticks', input: undefined } }));
    await expect.poll(() => client.json().filter((m) => m.result?.type === 'data').length).toBeGreaterThan(2);
    expect(client.json()[0]?.result).toEqual({ type: 'started' });
    client.ws.send(JSON.stringify({ id: 7, method: 'subscription.stop' }));
    await expect.poll(() => client.json().at(-1)?.result?.type).toBe('stopped');
    const data = client
      .json()
      .filter((m) => m.result?.type === 'data')
      .map((m) => m.result.data);
    expect(data).toEqual(data.map((_, n) => n));
    client.ws.close();
  });

  it('pings a quiet client, keeps one that answers and drops one that does not', async () => {
    const answering = await connect();
    const silent = await connect({ answerPings: false });
    await silent.closed;
    expect(silent.frames).toContain('PING');
    expect(answering.frames).toContain('PING');
    expect(answering.ws.readyState).toBe(WebSocket.OPEN);
    answering.ws.send('PING');
    await expect.poll(() => answering.frames.includes('PONG')).toBe(true);
    answering.ws.close();
  });

  it('tells every client to reconnect', async () => {
    const client = await connect();
    sockets.broadcastReconnectNotification();
    await expect.poll(() => client.json()).toEqual([{ id: null, method: 'reconnect' }]);
    client.ws.close();
  });

  it("serializes replies with the router's transformer when it has one (without one they are sent as they are)", async () => {
    const wrapped = initTRPC.create({ transformer: { serialize: (value: unknown) => ({ wrapped: value }), deserialize: (value: any) => value?.wrapped } });
    const wrappedServer = createServer();
    const wrappedSockets = serveTrpcSockets(new WebSocketServer({ server: wrappedServer }), {
      router: wrapped.router({ echo: wrapped.procedure.input(z.string()).query(({ input }) => input.toUpperCase()) }),
      createContext: async () => ({}),
      onError: () => undefined,
      keepAlive: { pingMs: 60_000, pongWaitMs: 60_000, sweepMs: 60_000 },
    });
    await new Promise<void>((resolve) => wrappedServer.listen(0, '127.0.0.1', resolve));
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${(wrappedServer.address() as AddressInfo).port}`);
      const frames: Record<string, any>[] = [];
      ws.on('message', (data) => frames.push(JSON.parse(String(data)) as Record<string, any>));
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      ws.send(
        JSON.stringify([
          { id: 1, method: 'query', params: { path: 'echo', input: { wrapped: 'ada' } } },
          { id: 2, method: 'query', params: { path: 'echo', input: { wrapped: 42 } } },
        ]),
      );
      await expect.poll(() => frames.length).toBe(2);
      const byId = new Map(frames.map((m) => [m.id, m]));
      expect(byId.get(1)?.result).toEqual({ type: 'data', data: { wrapped: 'ADA' } });
      expect(byId.get(2)?.error.wrapped.data.code).toBe('BAD_REQUEST');
      ws.close();
    } finally {
      wrappedSockets.stop();
      wrappedServer.closeAllConnections();
      await new Promise((resolve) => wrappedServer.close(resolve));
    }
  });

  it('answers a frame that is not JSON with a parse error, and keeps the socket', async () => {
    const client = await connect();
    client.ws.send('{not json');
    await expect.poll(() => client.json()[0]?.error?.data?.code).toBe('PARSE_ERROR');
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
    client.ws.close();
  });
});
