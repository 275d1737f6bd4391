/**
 * The channel's own tRPC WebSocket server (src/server/channel/trpcSocket.ts) against
 * tRPC's `applyWSSHandler`: both serve one router with one context maker,
 * real `ws` clients send both the same frames, and the replies must match.
 * An upgrade of @trpc/* that changes the protocol fails here instead of in
 * the daemons and the dashboard, which speak it through @trpc/client.
 *
 * What differs on purpose is normalised, each where it is done: replies to
 * concurrent calls are compared per request id (their order across ids is
 * the scheduler's), and internal errors lose their message on the own server
 * (see its `errorShape`). Not compared: close codes (the own server says why
 * it closes), and frames past the own server's limits (those are its own).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { initTRPC, tracked, TRPCError } from '@trpc/server';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import { observable } from '@trpc/server/observable';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { z } from 'zod';
import { serveTrpcSockets, type ConnectionParams } from '../../src/server/channel/trpcSocket.ts';

interface Context {
  name: string;
}

/** The one context maker both servers use: a name from the connection params, and a refusal for one of them. */
async function makeContext(params: ConnectionParams): Promise<Context> {
  await Promise.resolve();
  if (params?.name === 'intruder') throw new TRPCError({ code: 'UNAUTHORIZED', message: 'no entry' });
  return { name: params?.name ?? 'anonymous' };
}

const t = initTRPC.context<Context>().create({
  // As the service's router (src/server/trpc/init.ts): no stacks from tRPC itself.
  isDev: false,
  // A formatter both must apply to every error.
  errorFormatter: ({ shape, error }) => ({ ...shape, data: { ...shape.data, formatted: error.code } }),
});

/** Resolves when the signal aborts (at once when it already has). */
function aborted(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!signal || signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

const router = t.router({
  greet: t.procedure.input(z.object({ who: z.string() })).query(({ ctx, input }) => `${ctx.name} greets ${input.who}`),
  add: t.procedure.input(z.object({ a: z.number(), b: z.number() })).mutation(({ input }) => ({ sum: input.a + input.b })),
  nothing: t.procedure.query(() => null),
  refuse: t.procedure.mutation(() => {
    throw new TRPCError({ code: 'CONFLICT', message: 'already there' });
  }),
  crash: t.procedure.query(() => {
    throw new Error('the database said something private');
  }),
  streamFromQuery: t.procedure.query(async function* () {
    yield 1;
  }),
  /** Three tracked events after `lastEventId`, then the end. */
  events: t.procedure.input(z.object({ lastEventId: z.string().nullish() }).optional()).subscription(async function* ({ input }) {
    for (let n = Number(input?.lastEventId ?? 0) + 1, last = n + 2; n <= last; n++) yield tracked(String(n), { n });
  }),
  /** One untracked event, then quiet until stopped. */
  waiting: t.procedure.subscription(async function* ({ signal }) {
    yield 'hello';
    await aborted(signal);
  }),
  ticksObservable: t.procedure.subscription(() =>
    observable<number>((emit) => {
      emit.next(1);
      emit.next(2);
      emit.complete();
      return () => {};
    }),
  ),
  failsToStart: t.procedure.subscription(() => {
    throw new TRPCError({ code: 'FORBIDDEN', message: 'not yours' });
  }),
  failsMidway: t.procedure.subscription(async function* () {
    yield 'first';
    throw new TRPCError({ code: 'PRECONDITION_FAILED', message: 'gone' });
  }),
});

/** Within the own server's limits (a batch of exactly `callsPerBatch` calls is served like tRPC serves it). */
const LIMITS = { callsPerBatch: 8, callsInFlight: 8 };

interface Servers {
  own: string;
  trpc: string;
  broadcast: { own(): void; trpc(): void };
  close(): Promise<void>;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The own server and tRPC's, each on its own port, with the same router, context maker and keep-alive. */
async function startServers(keepAlive: { pingMs: number; pongWaitMs: number }): Promise<Servers> {
  const ownHttp = createServer();
  const own = serveTrpcSockets(new WebSocketServer({ server: ownHttp }), {
    router,
    createContext: (_req: IncomingMessage, _ws, params) => makeContext(params),
    onError: () => {},
    keepAlive: { ...keepAlive, sweepMs: 25 },
    limits: LIMITS,
  });
  const trpcHttp = createServer();
  const trpc = applyWSSHandler({
    wss: new WebSocketServer({ server: trpcHttp }),
    router,
    createContext: ({ info }) => makeContext(info.connectionParams),
    keepAlive: { enabled: true, ...keepAlive },
  });
  const urls = { own: await listen(ownHttp), trpc: await listen(trpcHttp) };
  return {
    ...urls,
    broadcast: { own: () => own.broadcastReconnectNotification(), trpc: () => trpc.broadcastReconnectNotification() },
    async close() {
      own.stop();
      for (const server of [ownHttp, trpcHttp]) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    },
  };
}

/** A raw client: records every frame it receives and how the socket closed. */
class RawClient {
  readonly frames: string[] = [];
  closeCode: number | null = null;

  private constructor(
    readonly ws: WebSocket,
    answerPings: boolean,
  ) {
    ws.on('message', (data) => {
      const text = String(data);
      this.frames.push(text);
      if (text === 'PING' && answerPings) ws.send('PONG');
    });
    ws.on('close', (code) => (this.closeCode = code));
  }

  /** Opens a socket; with `params`, announces connection params and sends this first frame. */
  static async open(url: string, options: { params?: string; answerPings?: boolean } = {}): Promise<RawClient> {
    const ws = new WebSocket(options.params === undefined ? url : `${url}/?connectionParams=1`);
    const client = new RawClient(ws, options.answerPings ?? true);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    if (options.params !== undefined) ws.send(options.params);
    return client;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  json(): Array<Record<string, any>> {
    return this.frames.filter((f) => f.startsWith('{')).map((f) => JSON.parse(f) as Record<string, any>);
  }

  /** Waits until `count` JSON frames have come. */
  async received(count: number): Promise<void> {
    await expect.poll(() => this.json().length).toBeGreaterThanOrEqual(count);
  }

  close(): void {
    this.ws.close();
  }
}

/**
 * A transcript by request id, in arrival order within each id: replies to
 * different ids of one socket may come in either order on either server.
 */
function byRequest(frames: string[]): Record<string, unknown[]> {
  const transcript: Record<string, unknown[]> = {};
  for (const frame of frames) {
    const key = frame.startsWith('{') ? String((JSON.parse(frame) as { id: unknown }).id) : 'text';
    (transcript[key] ??= []).push(frame.startsWith('{') ? JSON.parse(frame) : frame);
  }
  return transcript;
}

/** What tRPC's reply becomes on the own server outside development: internal errors say no more than that (trpcSocket.ts, `errorShape`). */
function withInternalMessagesHidden(transcript: Record<string, unknown[]>): Record<string, unknown[]> {
  const hide = (message: any) =>
    message?.error?.data?.code === 'INTERNAL_SERVER_ERROR' ? { ...message, error: { ...message.error, message: 'Internal server error' } } : message;
  return Object.fromEntries(Object.entries(transcript).map(([id, messages]) => [id, messages.map(hide)]));
}

/**
 * Runs one conversation against each server and expects the same replies;
 * returns tRPC's, for the test to check that it says what it is about.
 */
async function expectSameReplies(servers: Servers, conversation: (url: string) => Promise<string[]>): Promise<Record<string, any[]>> {
  const trpc = byRequest(await conversation(servers.trpc));
  const own = byRequest(await conversation(servers.own));
  expect(own).toEqual(withInternalMessagesHidden(trpc));
  return trpc as Record<string, any[]>;
}

/** Sends frames on a fresh socket and returns what came back once `count` JSON frames did. */
function exchange(frames: unknown[], count: number, options: { params?: string } = {}) {
  return async (url: string): Promise<string[]> => {
    const client = await RawClient.open(url, options);
    for (const frame of frames) client.send(frame);
    await client.received(count);
    client.close();
    return client.frames;
  };
}

const query = (id: number | string, path: string, input?: unknown) => ({ id, method: 'query', params: { path, input } });
const mutation = (id: number, path: string, input?: unknown) => ({ id, method: 'mutation', params: { path, input } });
const subscription = (id: number, path: string, input?: unknown, lastEventId?: string) => ({
  id,
  method: 'subscription',
  params: { path, input, ...(lastEventId === undefined ? {} : { lastEventId }) },
});

describe('the own tRPC WebSocket server answers as tRPC does', () => {
  let servers: Servers;

  beforeAll(async () => {
    // Quiet sockets are pinged only long after these tests end.
    servers = await startServers({ pingMs: 60_000, pongWaitMs: 10_000 });
  });

  afterAll(async () => {
    await servers.close();
  });

  it('calls: a query and a mutation with a context made from the connection params, and JSON-RPC ids kept', async () => {
    const frames = [query(1, 'greet', { who: 'Ada' }), mutation(2, 'add', { a: 2, b: 3 }), { ...query('three', 'nothing'), jsonrpc: '2.0' }];
    const replies = await expectSameReplies(servers, exchange(frames, 3, { params: JSON.stringify({ method: 'connectionParams', data: { name: 'node A' } }) }));
    expect(replies['1']).toEqual([{ id: 1, result: { type: 'data', data: 'node A greets Ada' } }]);
    expect(replies['three']).toEqual([{ id: 'three', jsonrpc: '2.0', result: { type: 'data', data: null } }]);
  });

  it('calls without connection params get the context made from none', async () => {
    const replies = await expectSameReplies(servers, exchange([query(1, 'greet', { who: 'Bo' })], 1));
    expect(replies['1']?.[0].result.data).toBe('anonymous greets Bo');
  });

  it('a batch of as many calls as the own server takes in one frame: every call answered under its id', async () => {
    const batch = [
      query(1, 'greet', { who: 'A' }),
      mutation(2, 'add', { a: 1, b: 1 }),
      query(3, 'greet', { who: 4 }),
      mutation(4, 'refuse'),
      query(5, 'nope'),
      query(6, 'crash'),
      query(7, 'nothing'),
      mutation(8, 'add', { a: 'x' }),
    ];
    expect(batch).toHaveLength(LIMITS.callsPerBatch);
    const replies = await expectSameReplies(servers, exchange([batch], batch.length));
    expect(Object.keys(replies)).toHaveLength(batch.length);
  });

  it('errors: bad input, unknown path, a thrown TRPCError, an internal error, the wrong call type, an iterable from a query', async () => {
    const frames = [
      query(1, 'greet', { who: 42 }),
      query(2, 'nope'),
      mutation(3, 'refuse'),
      query(4, 'crash'),
      query(5, 'add', { a: 1, b: 2 }),
      mutation(6, 'greet', { who: 'x' }),
      query(7, 'streamFromQuery'),
    ];
    const replies = await expectSameReplies(servers, exchange(frames, frames.length));
    expect(replies['1']?.[0].error.data).toMatchObject({ code: 'BAD_REQUEST', formatted: 'BAD_REQUEST', path: 'greet' });
    expect(replies['2']?.[0].error.data.code).toBe('NOT_FOUND');
    expect(replies['3']?.[0].error).toMatchObject({ message: 'already there', data: { code: 'CONFLICT', httpStatus: 409 } });
    expect(replies['7']?.[0].error.data.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('frames that are not calls: bad JSON, a call without an id, an unknown method, each answered with a parse error', async () => {
    const frames = ['{not json', { id: null, method: 'query', params: { path: 'nothing' } }, { id: 1, method: 'bogus', params: {} }, '42'];
    const replies = await expectSameReplies(servers, exchange(frames, frames.length));
    expect(replies['null']?.map((m) => m.error.data.code)).toEqual(['PARSE_ERROR', 'PARSE_ERROR', 'PARSE_ERROR', 'PARSE_ERROR']);
  });

  it('a subscription: started, tracked events with their ids from after lastEventId, stopped when the generator ends', async () => {
    const frames = [subscription(1, 'events', { lastEventId: null }), subscription(2, 'events', undefined, '5'), subscription(3, 'ticksObservable')];
    const replies = await expectSameReplies(servers, exchange(frames, 5 + 5 + 4));
    expect(replies['2']).toEqual([
      { id: 2, result: { type: 'started' } },
      { id: 2, result: { type: 'data', id: '6', data: { id: '6', data: { n: 6 } } } },
      { id: 2, result: { type: 'data', id: '7', data: { id: '7', data: { n: 7 } } } },
      { id: 2, result: { type: 'data', id: '8', data: { id: '8', data: { n: 8 } } } },
      { id: 2, result: { type: 'stopped' } },
    ]);
  });

  it('subscription.stop ends a running subscription with stopped; a duplicate id is refused while it runs', async () => {
    const replies = await expectSameReplies(servers, async (url) => {
      const client = await RawClient.open(url);
      client.send(subscription(1, 'waiting'));
      await client.received(2);
      client.send(subscription(1, 'waiting'));
      await client.received(3);
      client.send({ id: 1, method: 'subscription.stop' });
      await client.received(4);
      // The id is free again once stopped.
      client.send(subscription(1, 'events'));
      await client.received(4 + 5);
      client.close();
      return client.frames;
    });
    expect(replies['1']?.slice(0, 4).map((m) => m.result?.type ?? m.error.message)).toEqual(['started', 'data', 'Duplicate id 1', 'stopped']);
  });

  it('subscriptions that fail: before starting, and after an event', async () => {
    const replies = await expectSameReplies(servers, exchange([subscription(1, 'failsToStart'), subscription(2, 'failsMidway')], 1 + 4));
    expect(replies['1']?.map((m) => m.error?.data.code)).toEqual(['FORBIDDEN']);
    expect(replies['2']?.map((m) => m.result?.type ?? m.error.data.code)).toEqual(['started', 'data', 'PRECONDITION_FAILED', 'stopped']);
  });

  it('connection params that cannot be read, or that the context maker refuses, are answered with an error without an id', async () => {
    const replies = await expectSameReplies(servers, async (url) => {
      const frames: string[] = [];
      const unreadable = ['{not json', '"text"', JSON.stringify({ method: 'connectionParams', data: { name: 7 } })];
      for (const params of [...unreadable, JSON.stringify({ data: { name: 'intruder' } })]) {
        const client = await RawClient.open(url, { params });
        await client.received(1);
        client.close();
        frames.push(...client.frames);
      }
      return frames;
    });
    expect(replies['null']?.map((m) => m.error.data.code)).toEqual(['PARSE_ERROR', 'PARSE_ERROR', 'PARSE_ERROR', 'UNAUTHORIZED']);
  });

  it('the reconnect notice', async () => {
    const clients = { own: await RawClient.open(servers.own), trpc: await RawClient.open(servers.trpc) };
    servers.broadcast.own();
    servers.broadcast.trpc();
    await clients.own.received(1);
    await clients.trpc.received(1);
    expect(clients.own.frames).toEqual(clients.trpc.frames);
    expect(clients.trpc.json()).toEqual([{ id: null, method: 'reconnect' }]);
    clients.own.close();
    clients.trpc.close();
  });

  it('a PING from the client is answered with PONG', async () => {
    const replies = await expectSameReplies(servers, async (url) => {
      const client = await RawClient.open(url);
      // Before its context is made the own server reads nothing but connection params (trpcSocket.ts): call first.
      client.send(query(1, 'nothing'));
      await client.received(1);
      client.send('PING');
      await expect.poll(() => client.frames.includes('PONG')).toBe(true);
      client.close();
      return client.frames;
    });
    expect(replies['text']).toEqual(['PONG']);
  });
});

describe('keep-alive, as tRPC keeps sockets alive', () => {
  let servers: Servers;

  beforeAll(async () => {
    servers = await startServers({ pingMs: 100, pongWaitMs: 1_000 });
  });

  afterAll(async () => {
    await servers.close();
  });

  it('a quiet socket is pinged; one that answers PONG stays open, one that does not is dropped', async () => {
    for (const url of [servers.own, servers.trpc]) {
      const answering = await RawClient.open(url);
      const silent = await RawClient.open(url, { answerPings: false });
      await expect.poll(() => silent.closeCode, { timeout: 15_000 }).not.toBeNull();
      // Dropped, not closed: the socket ends without a close frame.
      expect(silent.closeCode).toBe(1006);
      expect(silent.frames).toEqual(['PING']);
      expect(answering.frames).toContain('PING');
      expect(new Set(answering.frames)).toEqual(new Set(['PING']));
      expect(answering.ws.readyState).toBe(WebSocket.OPEN);
      answering.close();
    }
  });
});
