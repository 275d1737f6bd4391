/**
 * The channel's WebSocket edge against clients that are not friendly: sockets
 * that never authenticate, floods of calls, clients that stop reading, more
 * sockets per device than a daemon needs, error frames that would tell an
 * attacker about the server, and revocations that no node heard about.
 * A channel of its own (real PostgreSQL, real sockets) with short timings.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { initTRPC } from '@trpc/server';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { openChannel, type ChannelOptions } from '../../src/server/channel/channel.ts';
import { connectDatabase, type Database } from '../../src/server/platform/db/client.ts';
import { createDevice } from '../../src/server/domain/devices.ts';
import { Metrics } from '../../src/server/platform/metrics.ts';
import { serveTrpcSockets } from '../../src/server/channel/trpcSocket.ts';
import { connectChannel } from '../support/daemonClient.ts';
import { makeDaemonUser, testDatabase } from '../support/factories.ts';

let db: Database;
const stops: (() => Promise<void>)[] = [];

beforeAll(() => {
  db = testDatabase();
});

afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

afterAll(async () => {
  await db.close();
});

/** A channel on its own HTTP server, as server.ts mounts it; `options` override the defaults. */
async function startChannel(options: Partial<ChannelOptions> = {}): Promise<{ url: string }> {
  const server: Server = createServer((_req, res) => res.writeHead(404).end());
  const channel = await openChannel({
    db,
    databaseUrl: inject('databaseUrl'),
    nodeId: `edge-${randomBytes(4).toString('hex')}`,
    metrics: new Metrics(db),
    log: () => undefined,
    ...options,
  });
  server.on('upgrade', (req, socket, head) => channel.handleUpgrade(req, socket, head));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stops.push(async () => {
    await channel.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** A raw client recording every frame and how the socket closed. */
async function rawSocket(url: string, options: { params?: Record<string, string> | 'announce'; headers?: Record<string, string> } = {}) {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/presence${options.params ? '?connectionParams=1' : ''}`, { headers: options.headers });
  const frames: string[] = [];
  let closeCode: number | null = null;
  ws.on('message', (data) => frames.push(String(data)));
  ws.on('error', () => undefined);
  const closed = new Promise<number>((resolve) =>
    ws.once('close', (code) => {
      closeCode = code;
      resolve(code);
    }),
  );
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  if (options.params && options.params !== 'announce') ws.send(JSON.stringify({ method: 'connectionParams', data: options.params }));
  const json = () => frames.filter((f) => f.startsWith('{') || f.startsWith('[')).map((f) => JSON.parse(f) as Record<string, any>);
  stops.push(async () => void ws.terminate());
  return { ws, frames, json, closed, closeCode: () => closeCode };
}

const call = (id: number, path: string, method = 'query', input?: unknown) => ({ id, method, params: { path, input } });

describe('sockets without credentials', () => {
  it('closes with 4401 a socket that announces connection params and never sends them, serving nothing meanwhile', async () => {
    const { url } = await startChannel({ authenticateMs: 300 });
    const client = await rawSocket(url, { params: 'announce' });
    // Not its connection params, since they are not an object: a ping is not answered before authentication.
    client.ws.send('PING');
    expect(await client.closed).toBe(4401);
    expect(client.frames).not.toContain('PONG');
  });

  it('closes with 4401 a socket that carries neither a device token nor an operator session, even if it never calls', async () => {
    const { url } = await startChannel();
    const client = await rawSocket(url);
    expect(await client.closed).toBe(4401);
    expect(client.frames.filter((f) => f !== 'PING')).toEqual([expect.stringContaining('UNAUTHORIZED')]);
  });

  it('answers the call of a wrong token with UNAUTHORIZED, then closes with 4401', async () => {
    const { url } = await startChannel();
    const client = await rawSocket(url, { params: { token: 'prs_dev_wrong' } });
    client.ws.send(JSON.stringify(call(1, 'daemon.whoami')));
    expect(await client.closed).toBe(4401);
    expect(client.json().find((m) => m.id === 1)?.error.data.code).toBe('UNAUTHORIZED');
  });

  it('closes with 4401 a socket with a wrong token that never calls', async () => {
    const { url } = await startChannel();
    const client = await rawSocket(url, { params: { token: 'prs_dev_wrong' } });
    expect(await client.closed).toBe(4401);
  });
});

describe('amplification and backpressure', () => {
  it('closes a socket that sends more than 100 calls in one frame (1008), and answers a frame of 100', async () => {
    const user = await makeDaemonUser(db);
    const { url } = await startChannel();
    const client = await rawSocket(url, { params: { token: user.token } });
    client.ws.send(JSON.stringify(Array.from({ length: 100 }, (_, i) => call(i + 1, 'daemon.whoami'))));
    await expect.poll(() => client.json().length).toBe(100);
    expect(client.json().every((m) => m.result?.data?.deviceId === user.deviceId)).toBe(true);
    client.ws.send(JSON.stringify(Array.from({ length: 101 }, (_, i) => call(1_000 + i, 'daemon.whoami'))));
    expect(await client.closed).toBe(1008);
    expect(client.json()).toHaveLength(100);
  });

  it('refuses a second daemon.notifications subscription on one socket with CONFLICT, and serves the first', async () => {
    const user = await makeDaemonUser(db);
    const { url } = await startChannel();
    const client = await rawSocket(url, { params: { token: user.token } });
    client.ws.send(JSON.stringify([call(1, 'daemon.notifications', 'subscription'), call(2, 'daemon.notifications', 'subscription')]));
    await expect.poll(() => client.json().find((m) => m.id === 2)?.error?.data?.code).toBe('CONFLICT');
    await expect.poll(() => client.json().some((m) => m.id === 1 && m.result?.data?.kind === 'backlog')).toBe(true);
    // Once the first is stopped, the socket may subscribe again.
    client.ws.send(JSON.stringify([{ id: 1, method: 'subscription.stop' }, call(3, 'daemon.notifications', 'subscription')]));
    await expect.poll(() => client.json().some((m) => m.id === 3 && m.result?.data?.kind === 'backlog')).toBe(true);
  });

  it('closes the oldest sockets of a device with 4409 past 10 live sockets on a node', async () => {
    const user = await makeDaemonUser(db);
    const { url } = await startChannel();
    const daemons: ReturnType<typeof connectChannel>[] = [];
    for (let n = 0; n < 12; n++) {
      const daemon = connectChannel(url, user.token, { retry: false });
      stops.push(() => daemon.close());
      await daemon.event(0);
      daemons.push(daemon);
    }
    await expect.poll(() => daemons.map((d) => d.closeCodes[0] ?? null)).toEqual([4409, 4409, ...Array(10).fill(null)]);
    const online = async () => (await db.pool.query('SELECT count(*)::int AS n FROM connections WHERE device_id = $1', [user.deviceId])).rows[0].n;
    await expect.poll(online).toBe(10);
  });
});

describe('the WebSocket server on its own', () => {
  const t = initTRPC.create();
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  const router = t.router({
    slow: t.procedure.query(async () => {
      await held;
      return 'done';
    }),
    blob: t.procedure.query(() => 'x'.repeat(64 * 1024)),
  });

  async function serve() {
    const server = createServer();
    const wss = new WebSocketServer({ server });
    const sockets = serveTrpcSockets(wss, {
      router,
      createContext: async () => ({}),
      onError: () => undefined,
      keepAlive: { pingMs: 30_000, pongWaitMs: 10_000, sweepMs: 100 },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    stops.push(async () => {
      release();
      sockets.stop();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });
    return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`, wss };
  }

  it('refuses calls past 100 in flight on one socket with TOO_MANY_REQUESTS', async () => {
    const { url } = await serve();
    const ws = new WebSocket(url);
    stops.push(async () => void ws.terminate());
    const frames: Record<string, any>[] = [];
    ws.on('message', (data) => frames.push(JSON.parse(String(data))));
    await new Promise((resolve) => ws.once('open', resolve));
    for (let batch = 0; batch < 3; batch++) ws.send(JSON.stringify(Array.from({ length: 50 }, (_, i) => call(batch * 50 + i + 1, 'slow'))));
    await expect.poll(() => frames.length).toBe(50);
    expect(frames.every((f) => f.error?.data?.code === 'TOO_MANY_REQUESTS')).toBe(true);
    expect(frames.map((f) => f.id).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => 101 + i));
    release();
    await expect.poll(() => frames.filter((f) => f.result?.data === 'done').length).toBe(100);
  });

  it('drops a socket that stops reading once more than 1 MiB waits to be sent to it', async () => {
    const { url, wss } = await serve();
    const ws = new WebSocket(url);
    stops.push(async () => void ws.terminate());
    await new Promise((resolve) => ws.once('open', resolve));
    // Stop reading: what the server sends piles up in its buffers.
    (ws as unknown as { _socket: { pause(): void } })._socket.pause();
    for (let batch = 0; batch < 5; batch++) ws.send(JSON.stringify(Array.from({ length: 100 }, (_, i) => call(batch * 100 + i + 1, 'blob'))));
    await expect.poll(() => wss.clients.size, { timeout: 15_000 }).toBe(0);
  });
});

describe('error frames', () => {
  /** A database role that may not read devices: every token check fails inside PostgreSQL. */
  async function databaseWithoutDevices(): Promise<Database> {
    const role = `edge_${randomBytes(4).toString('hex')}`;
    const password = randomBytes(12).toString('hex');
    await db.pool.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    await db.pool.query(`GRANT USAGE ON SCHEMA public TO ${role}; GRANT ALL ON connections, node_heartbeats TO ${role}`);
    const url = new URL(inject('databaseUrl'));
    url.username = role;
    url.password = password;
    const limited = connectDatabase({ url: url.toString(), poolSize: 2 });
    stops.push(async () => {
      await limited.close();
      await db.pool.query(`REVOKE ALL ON connections, node_heartbeats FROM ${role}; REVOKE USAGE ON SCHEMA public FROM ${role}; DROP ROLE ${role}`);
    });
    return limited;
  }

  it('never carry a stack, and an internal error says only "Internal server error"', async () => {
    const limited = await databaseWithoutDevices();
    const { url } = await startChannel({ db: limited });
    const client = await rawSocket(url, { params: { token: 'prs_dev_anything' } });
    client.ws.send(JSON.stringify(call(1, 'daemon.whoami')));
    await expect.poll(() => client.json().find((m) => m.id === 1)).toBeDefined();
    const garbage = await rawSocket(url, { params: 'announce' });
    garbage.ws.send('{not json');
    await expect.poll(() => garbage.json().length).toBeGreaterThan(0);
    const errors = [...client.json(), ...garbage.json()].map((m) => m.error);
    expect(errors.length).toBeGreaterThanOrEqual(3);
    for (const error of errors) {
      expect(error.data).not.toHaveProperty('stack');
      expect(JSON.stringify(error)).not.toMatch(/devices|permission|node_modules|\/src\//);
    }
    expect(client.json().find((m) => m.id === 1)?.error).toMatchObject({ message: 'Internal server error', data: { code: 'INTERNAL_SERVER_ERROR' } });
  });

  it('carry the stack in development', async () => {
    const { url } = await startChannel({ dev: true });
    const client = await rawSocket(url, { params: 'announce' });
    client.ws.send('{not json');
    await expect.poll(() => client.json()[0]?.error?.data?.stack).toEqual(expect.any(String));
  });
});

describe('revocations no node heard of', () => {
  it('closes with 4403, at the next heartbeat, the socket of a device deleted without a signal', async () => {
    const user = await makeDaemonUser(db);
    const { url } = await startChannel({ heartbeatMs: 200 });
    const daemon = connectChannel(url, user.token, { retry: false });
    stops.push(() => daemon.close());
    await daemon.event(0);
    // As if revoked while this node's LISTEN connection was away: the row goes, the NOTIFY is never heard.
    await db.pool.query('DELETE FROM devices WHERE id = $1', [user.deviceId]);
    await expect.poll(() => daemon.closeCodes).toEqual([4403]);
  });

  it('closes with 4403, as soon as the node listens again, the socket of a device revoked meanwhile', async () => {
    const user = await makeDaemonUser(db);
    const { token: otherToken } = await createDevice(db, { userId: user.userId, name: 'still valid' });
    // Short: PostgreSQL keeps 63 bytes of an application name.
    const nodeId = `edge-${randomBytes(4).toString('hex')}`;
    const { url } = await startChannel({ nodeId, heartbeatMs: 3_600_000 });
    const revoked = connectChannel(url, user.token, { retry: false });
    const kept = connectChannel(url, otherToken, { retry: false });
    stops.push(
      () => revoked.close(),
      () => kept.close(),
    );
    await Promise.all([revoked.event(0), kept.event(0)]);
    await db.pool.query('DELETE FROM devices WHERE id = $1', [user.deviceId]);
    const killed = await db.pool.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [`presence-listener ${nodeId}`]);
    expect(killed.rowCount).toBe(1);
    await expect.poll(() => revoked.closeCodes).toEqual([4403]);
    expect(kept.closeCodes).toEqual([]);
  });
});
