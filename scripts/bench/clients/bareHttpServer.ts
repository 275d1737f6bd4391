/**
 * The floors under single POSTs: a plain Node HTTP server that does for each
 * `POST /<appid>/notification` only what any Node service must (read the
 * body, parse its JSON, answer an ack of the same shape). Listening bare, it
 * stores nothing: what it sustains under the same load processes is what
 * Node's HTTP stack allows on this machine beside the load. Listening
 * durable (given a database), it also stores each body's items before
 * answering, with what any service on PostgreSQL that acks after an fsync'd
 * commit must do at the least: the bodies that arrived while a group was
 * running go together in the next (floorParts.ts), one multi-row INSERT in
 * its own transaction, two groups in flight. It has no authentication,
 * validation, queue cap, ack log or wake-up: what it sustains bounds what
 * Node and PostgreSQL allow here, and Presence's rate is read against both
 * (report: "service ÷ floor").
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { readBody } from '../../../src/server/http/body.ts';
import type { Coalescer } from '../../../src/server/platform/db/coalescer.ts';
import { groupCommit } from './floorParts.ts';
import { serve } from './ipc.ts';

/** Bodies above this are refused, as the service refuses them (src/server/http/notificationRoute.ts; not imported, so the floor loads nothing of the route). */
const MAX_BODY_BYTES = 2 * 1024 * 1024;

interface Item {
  UID?: unknown;
  message?: unknown;
}

/** The durable floor's store: null while listening bare. */
let store: Coalescer<Item[], void> | null = null;

function ack(res: ServerResponse, items: Item[]): void {
  // The ack's shape: every UID counted once, as a queue that held nothing before.
  const sizes: Record<string, number> = {};
  for (const item of items) if (typeof item?.UID === 'string') sizes[item.UID] = (sizes[item.UID] ?? 0) + 1;
  const last = items[items.length - 1]?.UID;
  res
    .writeHead(200, { 'Content-Type': 'application/json' })
    .end(JSON.stringify({ result: 'OK', queue_size: typeof last === 'string' ? sizes[last] : 0, queue_sizes: sizes }));
}

const server = createServer((req, res) => {
  // A body too large or broken off is a bad one.
  void readBody(req, MAX_BODY_BYTES)
    .catch(() => null)
    .then((body) => {
      let items: unknown;
      try {
        items = body !== null && req.method === 'POST' ? JSON.parse(body.toString('utf8')) : null;
      } catch {
        items = null;
      }
      if (!Array.isArray(items)) {
        res.writeHead(400, { 'Content-Type': 'application/json' }).end('{"result":"KO","errno":102}');
        return;
      }
      if (!store) return ack(res, items as Item[]);
      store.submit(items as Item[]).then(
        () => ack(res, items as Item[]),
        // As the service answers when its database fails (errno 150, storage unavailable).
        () => res.writeHead(503, { 'Content-Type': 'application/json' }).end('{"result":"KO","errno":150}'),
      );
    });
});
server.keepAliveTimeout = 60_000;

/** Listens bare, or durable when given a database (its table floor_items is made, or emptied, first). */
async function listen(params: { databaseUrl?: string }): Promise<{ url: string; pid: number }> {
  if (params.databaseUrl) {
    const pool = new pg.Pool({ connectionString: params.databaseUrl, max: 2 });
    // Ordered by UID then arrival, as a queue is read.
    await pool.query('CREATE TABLE IF NOT EXISTS floor_items (id BIGSERIAL PRIMARY KEY, uid TEXT NOT NULL, message TEXT NOT NULL)');
    await pool.query('CREATE INDEX IF NOT EXISTS floor_items_uid_id ON floor_items (uid, id)');
    await pool.query('TRUNCATE floor_items');
    store = groupCommit(async (bodies: Item[][]) => {
      const items = bodies.flat();
      // Prepared once per connection, as Presence's push statements.
      await pool.query({
        name: 'floor-store',
        text: 'INSERT INTO floor_items (uid, message) SELECT * FROM unnest($1::text[], $2::text[])',
        values: [items.map((item) => String(item.UID)), items.map((item) => String(item.message))],
      });
      return bodies.map(() => undefined);
    });
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, pid: process.pid };
}

serve({ listen });
