/**
 * The floors under single POSTs: a plain Node HTTP server that does for each
 * `POST /<appid>/notification` only what any Node service must (read the
 * body, parse its JSON, answer an ack of the same shape). Listening bare, it
 * stores nothing: what it sustains under the same load processes is what
 * Node's HTTP stack allows on this machine beside the load. Listening
 * durable (given a database), it also stores each body's items before
 * answering, with what any service on PostgreSQL that acks after an fsync'd
 * commit must do at the least: the bodies that arrived while a group was
 * running go together in the next, one multi-row INSERT in its own
 * transaction, two groups in flight. It has no authentication, validation,
 * queue cap, ack log or wake-up: what it sustains bounds what Node and
 * PostgreSQL allow here, and Presence's rate is read against both (report:
 * "service ÷ floor").
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { serve } from './ipc.ts';

/** Bodies above this are refused, as the service refuses them (src/server/http/notificationRoute.ts; not imported, so the floor loads nothing of the service). */
const MAX_BODY_BYTES = 2 * 1024 * 1024;

/** Groups in flight, as the service's group commit (src/server/platform/db/coalescer.ts). */
const GROUPS_IN_FLIGHT = 2;

interface Item {
  UID?: unknown;
  message?: unknown;
}

/** One body waiting for its group's commit. */
interface Waiting {
  items: Item[];
  answer(): void;
  fail(): void;
}

/** The durable floor's store: null while listening bare. */
let pool: pg.Pool | null = null;
let waiting: Waiting[] = [];
let running = 0;
let scheduled = false;

function startGroups(): void {
  while (pool && running < GROUPS_IN_FLIGHT && waiting.length > 0) {
    const group = waiting;
    waiting = [];
    running++;
    const items = group.flatMap((w) => w.items);
    pool
      .query('INSERT INTO floor_items (uid, message) SELECT * FROM unnest($1::text[], $2::text[])', [
        items.map((item) => String(item.UID)),
        items.map((item) => String(item.message)),
      ])
      .then(
        () => group.forEach((w) => w.answer()),
        () => group.forEach((w) => w.fail()),
      )
      .finally(() => {
        running--;
        startGroups();
      });
  }
}

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
  const chunks: Buffer[] = [];
  let bytes = 0;
  req.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes <= MAX_BODY_BYTES) chunks.push(chunk);
  });
  req.on('end', () => {
    let items: unknown;
    try {
      items = bytes <= MAX_BODY_BYTES && req.method === 'POST' ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : null;
    } catch {
      items = null;
    }
    if (!Array.isArray(items)) {
      res.writeHead(400, { 'Content-Type': 'application/json' }).end('{"result":"KO","errno":102}');
      return;
    }
    if (!pool) return ack(res, items as Item[]);
    waiting.push({
      items: items as Item[],
      answer: () => ack(res, items as Item[]),
      // As the service answers when its database fails (errno 150, storage unavailable).
      fail: () => res.writeHead(503, { 'Content-Type': 'application/json' }).end('{"result":"KO","errno":150}'),
    });
    // The bodies parsed in one I/O turn start together.
    if (!scheduled) {
      scheduled = true;
      setImmediate(() => {
        scheduled = false;
        startGroups();
      });
    }
  });
});
server.keepAliveTimeout = 60_000;

/** Listens bare, or durable when given a database (its table floor_items is made, or emptied, first). */
async function listen(params: { databaseUrl?: string }): Promise<{ url: string; pid: number }> {
  if (params.databaseUrl) {
    pool = new pg.Pool({ connectionString: params.databaseUrl, max: GROUPS_IN_FLIGHT });
    // Ordered by UID then arrival, as a queue is read.
    await pool.query('CREATE TABLE IF NOT EXISTS floor_items (id BIGSERIAL PRIMARY KEY, uid TEXT NOT NULL, message TEXT NOT NULL)');
    await pool.query('CREATE INDEX IF NOT EXISTS floor_items_uid_id ON floor_items (uid, id)');
    await pool.query('TRUNCATE floor_items');
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, pid: process.pid };
}

serve({ listen });
