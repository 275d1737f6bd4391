/**
 * tRPC's WebSocket protocol, served with little state per socket. tRPC's own
 * adapter builds dozens of closures, two abort controllers, two keep-alive
 * timers and a chain of suspended async functions for every connection,
 * which an idle daemon pays for as long as it stays connected. Here a
 * connection is one object whose methods are shared, a subscription one
 * suspended function, and one timer serves every socket's keep-alive.
 *
 * The frames are tRPC's, so @trpc/client (the daemon's and the dashboard's)
 * works unchanged: connection params (`?connectionParams=1`), queries,
 * mutations, batches, subscriptions (async iterables or observables, tracked
 * events, `lastEventId`) and their stop, PING and PONG both ways (the
 * keep-alive), and the reconnect notice. Not served: custom encoders,
 * `maxBatchSize`, `prefix`.
 *
 * A socket is served only once its context is made (the client's
 * credentials checked); before that, nothing but its connection params is
 * read. What one socket can make the node hold is bounded (see
 * {@link SocketLimits}).
 */
import type { IncomingMessage } from 'node:http';
import { callTRPCProcedure, getErrorShape, getTRPCErrorFromUnknown, isTrackedEnvelope, transformTRPCResponse, TRPCError, type AnyRouter } from '@trpc/server';
import { parseConnectionParamsFromUnknown } from '@trpc/server/http';
import { isObservable, observableToAsyncIterable } from '@trpc/server/observable';
import { parseTRPCMessage, TRPC_ERROR_CODES_BY_KEY, type TRPCClientOutgoingMessage, type TRPCErrorShape, type TRPCResponseMessage } from '@trpc/server/rpc';
import type { RawData, WebSocket, WebSocketServer } from 'ws';

export interface TrpcSocketOptions<TContext> {
  router: AnyRouter;
  /** Once per connection, with the client's connection params (null when it sends none). */
  createContext(req: IncomingMessage, ws: WebSocket, connectionParams: ConnectionParams): Promise<TContext>;
  onError(error: TRPCError, path: string | undefined): void;
  /**
   * A "PING" to a socket quiet for `pingMs`, which is dropped when nothing
   * comes back within `pongWaitMs`; one timer looks at every socket each
   * `sweepMs`, so either may come that much later than due.
   */
  keepAlive: { pingMs: number; pongWaitMs: number; sweepMs: number };
  /** Defaults: {@link SOCKET_LIMITS}. */
  limits?: Partial<SocketLimits>;
  /**
   * Development: error frames carry the stack and the message of internal
   * errors. Otherwise never (those can name files, versions and SQL), which
   * holds whatever the router's `isDev` says.
   */
  dev?: boolean;
}

/** What one socket may make this node hold. */
export interface SocketLimits {
  /** Calls in one frame: a larger batch closes the socket with {@link CLOSE_POLICY}. */
  callsPerBatch: number;
  /** Calls and subscriptions running at once (those waiting for the context too); more are refused with TOO_MANY_REQUESTS. */
  callsInFlight: number;
  /** Bytes waiting to be sent: a socket past this when more is due is dropped, as a client that stopped reading. */
  unsentBytes: number;
  /** A socket whose context is not made by then (checked by the keep-alive sweep) is closed with {@link CLOSE_UNAUTHORIZED}. */
  authenticateMs: number;
}

/** Far above what @trpc/client sends: it batches the calls made in one tick, and a dashboard makes a handful. */
export const SOCKET_LIMITS: SocketLimits = { callsPerBatch: 100, callsInFlight: 100, unsentBytes: 1024 * 1024, authenticateMs: 10_000 };

/** Close code of a socket without valid credentials: none in time, or refused ones (the context failed with UNAUTHORIZED or unreadable params). */
export const CLOSE_UNAUTHORIZED = 4401;
/** Close code of a socket that sent a batch of more than `callsPerBatch` calls. */
export const CLOSE_POLICY = 1008;
/** Close code of a socket whose context could not be made for a passing reason (the database was away): retry. */
export const CLOSE_TRY_AGAIN = 1013;

/** A refused client gets this long to make a call and read why, before its socket is closed anyway. */
const REFUSAL_GRACE_MS = 1_000;
/** A socket told to close that has not closed after this long is dropped. */
const CLOSE_WAIT_MS = 2_000;

export interface TrpcSockets {
  /** Tells every client to reconnect (before this node stops). */
  broadcastReconnectNotification(): void;
  /** Stops the keep-alive timer (the sockets are the caller's to close). */
  stop(): void;
}

type CallType = 'query' | 'mutation' | 'subscription';
/** As the client sent them (tRPC checks that each is a string). */
export type ConnectionParams = Record<string, string | undefined> | null;
type RequestId = number | string;

const OPEN = 1;

const CLOSE_REASONS: Record<number, string> = {
  [CLOSE_UNAUTHORIZED]: 'unauthorized',
  [CLOSE_POLICY]: 'too many calls in one frame',
  [CLOSE_TRY_AGAIN]: 'try again later',
};

/** What a client gets when its error cannot be formatted: nothing the error formatter would have hidden. */
const FALLBACK_ERROR: TRPCErrorShape = {
  code: TRPC_ERROR_CODES_BY_KEY.INTERNAL_SERVER_ERROR,
  message: 'Internal server error',
  data: { code: 'INTERNAL_SERVER_ERROR', httpStatus: 500 },
};

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as Record<symbol, unknown>)[Symbol.asyncIterator] === 'function';
}

function isAbortError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'AbortError';
}

/** The options with every limit set, and how a reply becomes a frame: shared by all connections. */
type Settings<TContext> = TrpcSocketOptions<TContext> & { limits: SocketLimits; encode(message: TRPCResponseMessage): string };

/**
 * A reply as a frame. Without a transformer (the router's serializes a value
 * as itself) the reply is its own JSON: tRPC's transformTRPCResponse would
 * copy it, key by key through a slow helper, only to serialize each value as
 * itself (that helper, here and in the middleware chain, took a sixth of the
 * node's time when it delivered 5,000 items a second: docs/benchmarks.md).
 */
function replyEncoder(router: AnyRouter): (message: TRPCResponseMessage) => string {
  const config = router._def._config;
  const probe = {};
  if (config.transformer.output.serialize(probe) === probe) return (message) => JSON.stringify(message);
  return (message) => JSON.stringify(transformTRPCResponse(config, message));
}

export function serveTrpcSockets<TContext>(wss: WebSocketServer, socketOptions: TrpcSocketOptions<TContext>): TrpcSockets {
  const options: Settings<TContext> = {
    ...socketOptions,
    limits: { ...SOCKET_LIMITS, ...socketOptions.limits },
    encode: replyEncoder(socketOptions.router),
  };
  const connections = new WeakMap<WebSocket, Connection<TContext>>();
  // Shared listeners (`this` is the socket) instead of closures per socket.
  function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
    connections.get(this)?.message(data, isBinary);
  }
  function onClose(this: WebSocket): void {
    connections.get(this)?.closed();
    connections.delete(this);
  }
  function onError(this: WebSocket, cause: Error): void {
    options.onError(getTRPCErrorFromUnknown(cause), undefined);
  }

  const { pingMs, pongWaitMs, sweepMs } = options.keepAlive;
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const ws of wss.clients) connections.get(ws)?.keepAlive(now, pingMs, pongWaitMs);
  }, sweepMs);
  sweep.unref();

  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    const connection = new Connection(ws, req, options);
    connections.set(ws, connection);
    ws.on('message', onMessage);
    ws.on('close', onClose);
    ws.on('error', onError);
    const expectsParams = new URL(req.url ?? '/', 'http://localhost').searchParams.get('connectionParams') === '1';
    if (!expectsParams) connection.context = connection.createContext(() => null);
  });

  return {
    broadcastReconnectNotification() {
      const notice = JSON.stringify({ id: null, method: 'reconnect' });
      for (const ws of wss.clients) if (ws.readyState === OPEN) ws.send(notice);
    },
    stop: () => clearInterval(sweep),
  };
}

/** Whether a refused context means the client's credentials (close 4401) rather than a passing failure. */
function isRefusal(error: TRPCError): boolean {
  return error.code === 'UNAUTHORIZED' || error.code === 'FORBIDDEN' || error.code === 'PARSE_ERROR';
}

/** Closes a connection's socket once the replies of this turn are out (a shared function, not a closure per socket). */
function shutLater<TContext>(connection: Connection<TContext>, code: number): void {
  connection.shut(code);
}

class Connection<TContext> {
  /** The context, or the error that refused it; null until the connection params arrive. */
  context: Promise<TContext | TRPCError> | null = null;
  /** Set once the context is made: the client is authenticated. */
  private ctx: TContext | undefined = undefined;
  /** The running subscriptions by request id (most connections have one). */
  private subscriptions: Map<RequestId, AbortController> | null = null;
  /** When the client was last heard from; once pinged, minus the time of the ping. */
  private heard = Date.now();
  /**
   * By when the socket must present credentials, or close once refused or
   * told to close; 0 once authenticated. While its credentials are being
   * checked there is none: that wait is the server's, bounded by its
   * database timeouts.
   */
  private deadline: number;
  /** Calls and subscriptions running, those waiting for the context included. */
  private inFlight = 0;

  constructor(
    private readonly ws: WebSocket,
    /** The upgrade request, until the context is made from it: then let go (it is large). */
    private req: IncomingMessage | null,
    private readonly options: Settings<TContext>,
  ) {
    this.deadline = this.heard + options.limits.authenticateMs;
  }

  async createContext(connectionParams: () => ConnectionParams): Promise<TContext | TRPCError> {
    const req = this.req as IncomingMessage;
    this.req = null;
    this.deadline = Infinity;
    try {
      this.ctx = await this.options.createContext(req, this.ws, connectionParams());
      if (this.ws.readyState === OPEN) this.deadline = 0;
      this.heard = Date.now();
      return this.ctx;
    } catch (cause) {
      const error = getTRPCErrorFromUnknown(cause);
      this.options.onError(error, undefined);
      this.respond({ id: null, error: this.errorShape(error, 'unknown', undefined, undefined) });
      if (!isRefusal(error)) setImmediate(shutLater, this, CLOSE_TRY_AGAIN);
      // Calls already waiting are answered, then the socket closes; a client
      // that has not called yet gets a moment to call and read why.
      else this.deadline = Math.min(this.deadline, Date.now() + REFUSAL_GRACE_MS);
      return error;
    }
  }

  /** Tells the client to close, and drops the socket if it has not closed by the next sweeps. */
  shut(code: number): void {
    if (this.ws.readyState !== OPEN) return;
    this.ws.close(code, CLOSE_REASONS[code]);
    this.deadline = Date.now() + CLOSE_WAIT_MS;
  }

  keepAlive(now: number, pingMs: number, pongWaitMs: number): void {
    if (this.deadline !== 0) {
      // Not authenticated in time, refused, or told to close: nothing else to look at.
      if (now < this.deadline) return;
      if (this.ws.readyState === OPEN) this.shut(CLOSE_UNAUTHORIZED);
      else this.ws.terminate();
    } else if (this.heard > 0 && now - this.heard >= pingMs) {
      if (this.ws.readyState !== OPEN) return;
      this.send('PING');
      this.heard = -now;
    } else if (this.heard < 0 && now + this.heard >= pongWaitMs) {
      this.ws.terminate();
    }
  }

  message(data: RawData, isBinary: boolean): void {
    // Frames that arrive while the socket closes are not served.
    if (this.ws.readyState !== OPEN) return;
    const text = !isBinary && Buffer.isBuffer(data) ? data.toString('utf8') : null;
    if (this.ctx !== undefined) {
      this.heard = Date.now();
      if (text === 'PONG') return;
      if (text === 'PING') return void this.send('PONG');
    } else if (text === 'PING' || text === 'PONG') {
      // Nothing but the connection params is answered before authentication.
      return;
    }
    if (!this.context) {
      // The first message of a client that announced connection params carries them.
      this.context = this.createContext(() => {
        let message: unknown;
        try {
          if (text === null) throw new Error('JSON uses text frames');
          message = JSON.parse(text);
          if (typeof message !== 'object' || message === null) throw new Error('Message was not an object');
        } catch (cause) {
          throw new TRPCError({ code: 'PARSE_ERROR', message: 'Malformed TRPCConnectionParamsMessage', cause });
        }
        return parseConnectionParamsFromUnknown((message as { data?: unknown }).data);
      });
      return;
    }
    let requests: TRPCClientOutgoingMessage[];
    try {
      if (text === null) throw new Error('JSON uses text frames');
      const json: unknown = JSON.parse(text);
      if (Array.isArray(json) && json.length > this.options.limits.callsPerBatch) return this.shut(CLOSE_POLICY);
      const transformer = this.options.router._def._config.transformer;
      requests = (Array.isArray(json) ? json : [json]).map((raw) => parseTRPCMessage(raw, transformer));
    } catch (cause) {
      const error = new TRPCError({ code: 'PARSE_ERROR', cause });
      this.respond({ id: null, error: this.errorShape(error, 'unknown', undefined, undefined) });
      return;
    }
    const report = (cause: unknown) => this.options.onError(getTRPCErrorFromUnknown(cause), undefined);
    for (const [batchIndex, request] of requests.entries()) {
      // A throw must not escape a socket listener: that would end the process.
      try {
        this.handle(request, batchIndex).catch(report);
      } catch (cause) {
        report(cause);
      }
    }
  }

  closed(): void {
    if (this.subscriptions) for (const subscription of this.subscriptions.values()) subscription.abort();
  }

  private handle(request: TRPCClientOutgoingMessage, batchIndex: number): Promise<void> {
    const { id, jsonrpc } = request;
    if (id === null) {
      const error = new TRPCError({ code: 'PARSE_ERROR', message: '`id` is required' });
      this.options.onError(error, undefined);
      this.respond({ id, jsonrpc, error: this.errorShape(error, 'unknown', undefined, undefined) });
      return Promise.resolve();
    }
    if (request.method === 'subscription.stop') {
      this.subscriptions?.get(id)?.abort();
      return Promise.resolve();
    }
    const { path, lastEventId } = request.params;
    let { input } = request.params;
    if (lastEventId !== undefined) {
      input = typeof input === 'object' && input !== null && !Array.isArray(input) ? { ...input, lastEventId } : (input ?? { lastEventId });
    }
    const type = request.method;
    const { callsInFlight } = this.options.limits;
    if (this.inFlight >= callsInFlight) {
      const error = new TRPCError({ code: 'TOO_MANY_REQUESTS', message: `at most ${callsInFlight} calls and subscriptions at once on one connection` });
      this.respond({ id, jsonrpc, error: this.errorShape(error, type, path, input) });
      return Promise.resolve();
    }
    // Released by call() and subscribe() when they end.
    this.inFlight++;
    if (type !== 'subscription') return this.call(id, jsonrpc, type, path, input, batchIndex);
    // Not chained to the caller's error handler: that handler would be kept
    // (with the frame's text) for as long as the subscription runs.
    void this.subscribe(id, jsonrpc, path, input, batchIndex);
    return Promise.resolve();
  }

  private async call(id: RequestId, jsonrpc: '2.0' | undefined, type: 'query' | 'mutation', path: string, input: unknown, batchIndex: number): Promise<void> {
    try {
      const ctx = await this.context;
      if (ctx instanceof TRPCError) return this.refuse(ctx, id, jsonrpc, type, path, input);
      const result: unknown = await callTRPCProcedure({
        router: this.options.router,
        path,
        getRawInput: async () => input,
        ctx,
        type,
        signal: undefined,
        batchIndex,
      });
      if (isAsyncIterable(result) || isObservable(result)) {
        throw new TRPCError({
          code: 'UNSUPPORTED_MEDIA_TYPE',
          message: `Cannot return an async iterable or observable from a ${type} procedure with WebSockets`,
        });
      }
      this.respond({ id, jsonrpc, result: { type: 'data', data: result } });
    } catch (cause) {
      this.respondWithError(cause, id, jsonrpc, type, path, input);
    } finally {
      this.inFlight--;
    }
  }

  /** Answers a call of a refused connection with the refusal, then closes the socket. */
  private refuse(error: TRPCError, id: RequestId, jsonrpc: '2.0' | undefined, type: CallType, path: string, input: unknown): void {
    this.respond({ id, jsonrpc, error: this.errorShape(error, type, path, input) });
    // After this turn: the other calls of the batch are answered too.
    setImmediate(shutLater, this, isRefusal(error) ? CLOSE_UNAUTHORIZED : CLOSE_TRY_AGAIN);
  }

  /**
   * Runs one subscription: `started`, its events, then `stopped`; or the
   * error that kept it from starting. An idle subscription is this one
   * function waiting in `iterator.next()` (one suspended frame per idle
   * daemon, so no wrapper around it): a stop aborts the signal, which the
   * iterator is expected to heed (the procedures of this service do).
   */
  private async subscribe(id: RequestId, jsonrpc: '2.0' | undefined, path: string, input: unknown, batchIndex: number): Promise<void> {
    try {
      const subscriptions = (this.subscriptions ??= new Map());
      if (subscriptions.has(id)) {
        this.inFlight--;
        this.respondWithError(new TRPCError({ code: 'BAD_REQUEST', message: `Duplicate id ${id}` }), id, jsonrpc, 'subscription', path, input);
        return;
      }
      const controller = new AbortController();
      const signal = controller.signal;
      subscriptions.set(id, controller);
      let refused = false;
      try {
        const iterator = await this.start(controller, path, input, batchIndex);
        if (iterator) {
          this.respond({ id, jsonrpc, result: { type: 'started' } });
          let completed = false;
          let failure: { cause: unknown } | null = null;
          try {
            while (!signal.aborted) {
              const next = await iterator.next();
              if (next.done) {
                completed = true;
                break;
              }
              if (signal.aborted) break;
              const value: unknown = next.value;
              this.respond({
                id,
                jsonrpc,
                result: isTrackedEnvelope(value) ? { type: 'data', data: { id: value[0], data: value[1] }, id: value[0] } : { type: 'data', data: value },
              });
            }
          } catch (cause) {
            // After a stop a failure is only reported, and an AbortError is how a stop is expected to end.
            if (!signal.aborted) failure = { cause };
            else if (!isAbortError(cause)) this.options.onError(getTRPCErrorFromUnknown(cause), path);
          }
          if (!completed && !signal.aborted) controller.abort(); // wakes cleanup that waits for cancellation
          try {
            if (!completed) await iterator.return?.();
          } catch (cause) {
            // A failed cleanup is the server's to know; the client hears of the iteration's failure, if any.
            this.options.onError(getTRPCErrorFromUnknown(cause), path);
          }
          if (failure) this.respondWithError(failure.cause, id, jsonrpc, 'subscription', path, input);
        }
      } catch (cause) {
        const error = getTRPCErrorFromUnknown(cause);
        if (this.ctx === undefined) {
          // The connection was refused.
          this.refuse(error, id, jsonrpc, 'subscription', path, input);
          refused = true;
        } else if (!(signal.aborted && error.code === 'INTERNAL_SERVER_ERROR' && isAbortError(error.cause))) {
          // (A setup that gave up because the subscription was stopped is no error.)
          this.respondWithError(error, id, jsonrpc, 'subscription', path, input);
          refused = true;
        }
      } finally {
        // Released once cleanup settled, right before the client may reuse the id.
        if (this.ws.readyState !== OPEN && !signal.aborted) controller.abort();
        subscriptions.delete(id);
        this.inFlight--;
      }
      if (!refused) this.respond({ id, jsonrpc, result: { type: 'stopped' } });
    } catch (cause) {
      // Never rejects: nothing awaits it (see handle).
      this.options.onError(getTRPCErrorFromUnknown(cause), path);
    }
  }

  /** Calls a subscription procedure: its iterator, or null when the subscription stopped first. */
  private async start(controller: AbortController, path: string, input: unknown, batchIndex: number): Promise<AsyncIterator<unknown> | null> {
    const signal = controller.signal;
    const ctx = await this.context;
    if (ctx instanceof TRPCError) throw ctx;
    if (signal.aborted || this.ws.readyState !== OPEN) return null;
    const result: unknown = await callTRPCProcedure({
      router: this.options.router,
      path,
      getRawInput: async () => input,
      ctx,
      type: 'subscription',
      signal,
      batchIndex,
    });
    if (!isAsyncIterable(result) && !isObservable(result)) {
      throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: `Subscription ${path} did not return an observable or a AsyncGenerator` });
    }
    if (signal.aborted || this.ws.readyState !== OPEN) {
      controller.abort();
      // Stopped before it started: let a generator clean up without running it.
      if (isAsyncIterable(result))
        await result[Symbol.asyncIterator]()
          .return?.()
          ?.catch((cause: unknown) => this.options.onError(getTRPCErrorFromUnknown(cause), path));
      return null;
    }
    return (isObservable(result) ? observableToAsyncIterable(result, signal) : result)[Symbol.asyncIterator]();
  }

  private respond(message: TRPCResponseMessage): void {
    // Replies to a socket that is closing are dropped.
    if (this.ws.readyState !== OPEN) return;
    this.send(this.options.encode(message));
  }

  private send(text: string): void {
    // A client that stopped reading costs at most the bound and one frame.
    if (this.ws.bufferedAmount > this.options.limits.unsentBytes) return void this.ws.terminate();
    this.ws.send(text);
  }

  private respondWithError(cause: unknown, id: RequestId, jsonrpc: '2.0' | undefined, type: CallType, path: string, input: unknown): void {
    const error = getTRPCErrorFromUnknown(cause);
    this.options.onError(error, path);
    try {
      this.respond({ id, jsonrpc, error: this.errorShape(error, type, path, input) });
    } catch (failure) {
      // The error reply could not be encoded: the client still learns that the call failed.
      this.options.onError(getTRPCErrorFromUnknown(failure), path);
      this.respond({ id, jsonrpc, error: FALLBACK_ERROR });
    }
  }

  private errorShape(error: TRPCError, type: CallType | 'unknown', path: string | undefined, input: unknown): TRPCErrorShape {
    try {
      const shape = getErrorShape({ config: this.options.router._def._config, error, type, path, input, ctx: this.ctx });
      if (this.options.dev) return { ...shape, data: { ...shape.data, stack: error.stack } };
      const { stack: _stack, ...data } = shape.data as Record<string, unknown>;
      return { ...shape, data, ...(error.code === 'INTERNAL_SERVER_ERROR' ? { message: FALLBACK_ERROR.message } : {}) };
    } catch (cause) {
      this.options.onError(getTRPCErrorFromUnknown(cause), path);
      return FALLBACK_ERROR;
    }
  }
}
