/**
 * The floor under single POSTs: a plain Node HTTP server that does for each
 * `POST /<appid>/notification` only what any Node service must (read the
 * body, parse its JSON, answer an ack of the same shape) and stores
 * nothing. What it sustains under the same load processes is what Node's
 * HTTP stack allows on this machine beside the load; Presence's rate is read
 * against it (report: "service ÷ floor"), and so is a peer's that speaks a
 * cheaper protocol.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from './ipc.ts';

/** Bodies above this are refused, as the service refuses them (src/server/http/notificationRoute.ts; not imported, so the floor loads nothing of the service). */
const MAX_BODY_BYTES = 2 * 1024 * 1024;

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
    // The ack's shape: every UID counted once, as a queue that held nothing before.
    const sizes: Record<string, number> = {};
    for (const item of items as { UID?: unknown }[]) if (typeof item?.UID === 'string') sizes[item.UID] = (sizes[item.UID] ?? 0) + 1;
    const last = (items[items.length - 1] as { UID?: unknown } | undefined)?.UID;
    res
      .writeHead(200, { 'Content-Type': 'application/json' })
      .end(JSON.stringify({ result: 'OK', queue_size: typeof last === 'string' ? sizes[last] : 0, queue_sizes: sizes }));
  });
});
server.keepAliveTimeout = 60_000;

async function listen(): Promise<{ url: string; pid: number }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, pid: process.pid };
}

serve({ listen });
