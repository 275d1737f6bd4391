/**
 * The baseline for memory per connection: a bare `ws` server on a plain Node
 * HTTP server (the same `ws` version and upgrade path as the service's
 * channel, with noServer + handleUpgrade), holding connections and doing
 * nothing else. Its RSS growth per connection is what any Node WebSocket
 * server pays; what Presence pays above it is tRPC, the subscription and the
 * bookkeeping of the channel.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { collectGarbage } from '../garbage.ts';
import { serve } from './ipc.ts';

const server = createServer((_req, res) => res.writeHead(404).end());
const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)));
wss.on('connection', (ws) => ws.on('error', () => undefined));

async function listen(): Promise<{ url: string; pid: number }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`, pid: process.pid };
}

async function connections(): Promise<{ count: number }> {
  return { count: wss.clients.size };
}

serve({ listen, connections, collectGarbage: async () => collectGarbage() });
