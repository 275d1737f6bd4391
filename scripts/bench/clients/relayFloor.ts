/**
 * The floor under a delivered notification: a relay on Node and PostgreSQL
 * that does only what any such service must to hand a message from an HTTP
 * publisher to a WebSocket subscriber with Presence's guarantees. A publish
 * (`POST /q/<queue>`, the body is the message) is answered once its row is
 * committed, fsync'd: the bodies that arrived while a group ran go together
 * in the next (floorParts.ts), one multi-row INSERT each. Then the
 * message goes to its queue's subscriber, if one is connected here
 * (`GET /q/<queue>` upgraded to a WebSocket, which is sent its queue's
 * backlog first), as the frame `<id> <body>`; the subscriber answers the id,
 * and the acked rows are deleted in groups gathered for 20 ms whose commit
 * does not wait for the disk, as Presence's acks. Its statements are
 * prepared once per connection, as Presence's. It has no authentication,
 * validation, queue cap, ack log or tRPC: what it costs per delivered
 * message bounds what any service on Node and PostgreSQL pays here with
 * Presence's guarantees (the benchmark runs it as a peer,
 * scripts/bench/peers/brokers.ts). A message stored while its subscriber
 * connects may reach it twice (live and in the backlog); the benchmark's
 * subscribers connect before anything is sent.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { WebSocketServer, type WebSocket } from 'ws';
import { readBody } from '../../../src/server/http/body.ts';
import { groupCommit } from './floorParts.ts';
import { serve } from './ipc.ts';

const QUEUE_PATH = /^\/q\/(\d{1,9})$/;
const MAX_BODY_BYTES = 64 * 1024;

interface Published {
  queue: number;
  body: string;
}

const subscribers = new Map<number, WebSocket>();

async function listen(params: { databaseUrl: string }): Promise<{ url: string; pid: number }> {
  const pool = new pg.Pool({ connectionString: params.databaseUrl, max: 3 });
  const acksPool = new pg.Pool({ connectionString: params.databaseUrl, max: 2, options: '-c synchronous_commit=off' });
  await pool.query('CREATE TABLE IF NOT EXISTS relay_items (id BIGSERIAL PRIMARY KEY, queue INT NOT NULL, body TEXT NOT NULL)');
  await pool.query('CREATE INDEX IF NOT EXISTS relay_items_queue_id ON relay_items (queue, id)');
  await pool.query('TRUNCATE relay_items');

  const stores = groupCommit(async (published: Published[]) => {
    const { rows } = await pool.query<{ id: string }>({
      name: 'relay-store',
      text: 'INSERT INTO relay_items (queue, body) SELECT * FROM unnest($1::int[], $2::text[]) RETURNING id::text',
      values: [published.map((p) => p.queue), published.map((p) => p.body)],
    });
    // Rows come back in the order of the unnest, one per message.
    return rows.map((row) => row.id);
  });
  // Gathered for 20 ms, as Presence's acks (ACK_GATHER_MS, src/server/domain/delivery/items.ts).
  const acks = groupCommit(
    async (ids: string[]) => {
      await acksPool.query({ name: 'relay-ack', text: 'DELETE FROM relay_items WHERE id = ANY($1::bigint[])', values: [ids] });
      return ids.map(() => undefined);
    },
    { gatherMs: 20 },
  );

  const server = createServer((req, res) => {
    const queue = Number(QUEUE_PATH.exec(req.url ?? '')?.[1] ?? Number.NaN);
    // A body too large or broken off is a bad one.
    void readBody(req, MAX_BODY_BYTES)
      .catch(() => null)
      .then((buffer) => {
        const body = buffer?.toString('utf8');
        if (req.method !== 'POST' || !Number.isInteger(queue) || body === undefined) {
          res.writeHead(400).end();
          return;
        }
        stores.submit({ queue, body }).then(
          (id) => {
            res.writeHead(200).end();
            subscribers.get(queue)?.send(`${id} ${body}`);
          },
          () => res.writeHead(503).end(),
        );
      });
  });
  server.keepAliveTimeout = 60_000;

  const sockets = new WebSocketServer({ server, maxPayload: 1024 });
  sockets.on('connection', (socket, req) => {
    const queue = Number(QUEUE_PATH.exec(req.url ?? '')?.[1] ?? Number.NaN);
    if (!Number.isInteger(queue)) return socket.close(1008);
    subscribers.set(queue, socket);
    socket.on('message', (data) => void acks.submit(String(data)).catch(() => undefined));
    socket.on('close', () => subscribers.get(queue) === socket && subscribers.delete(queue));
    // The backlog: what was stored before the subscriber came, oldest first.
    pool
      .query<{ id: string; body: string }>({
        name: 'relay-backlog',
        text: 'SELECT id::text, body FROM relay_items WHERE queue = $1 ORDER BY id',
        values: [queue],
      })
      .then(
        ({ rows }) => rows.forEach((row) => socket.send(`${row.id} ${row.body}`)),
        () => socket.close(1011),
      );
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, pid: process.pid };
}

serve({ listen });
