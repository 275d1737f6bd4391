/**
 * A client process (forked by the orchestrator) that drives a peer broker —
 * Mosquitto over MQTT.js, NATS JetStream over nats.js, the relay floor over
 * HTTP and `ws` — with the workloads the Presence rows use: closed-loop acked
 * publishes (single or 100 pipelined), a paced sender, and device-like
 * subscribers that acknowledge what they receive. Queue i is MQTT topic `q/i`
 * (session `d-i`, clean: false, QoS 1), NATS subject `q.i` (durable consumer
 * `d-i`, explicit acks) or the relay's `/q/i` (POST to publish, a WebSocket
 * to subscribe, each frame `<id> <body>` answered with its id).
 */
import http from 'node:http';
import mqtt from 'mqtt';
import { AckPolicy, DiscardPolicy, StorageType, connect as natsConnect, type ConsumerMessages, type NatsConnection } from 'nats';
import WebSocket from 'ws';
import type { PeerName } from '../peers/brokers.ts';
import { progress, serve } from './ipc.ts';

const now = () => performance.timeOrigin + performance.now();
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const STREAM = 'presence';

/** A connection that publishes; `publish` resolves when the broker acknowledged storage (PUBACK / PubAck). */
interface Publisher {
  publish(queue: number, body: string): Promise<void>;
  close(): Promise<void>;
}

/** A relay publish: POST on a keep-alive socket, acked by its 200 (after the commit). */
function relayPublisher(url: string): Publisher {
  // As many sockets as publishes in flight: the paced sender does not wait for one ack to send the next.
  const agent = new http.Agent({ keepAlive: true });
  return {
    publish: (queue, body) =>
      new Promise<void>((resolve, reject) => {
        const req = http.request(`${url}/q/${queue}`, { method: 'POST', agent }, (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
        });
        req.on('error', reject);
        req.end(body);
      }),
    close: async () => agent.destroy(),
  };
}

async function openPublisher(peer: PeerName, url: string, name: string): Promise<Publisher> {
  if (peer === 'relay') return relayPublisher(url);
  if (peer === 'mosquitto') {
    const client = await mqtt.connectAsync(url, { clientId: name, clean: true, reconnectPeriod: 0 });
    return {
      publish: async (queue, body) => void (await client.publishAsync(`q/${queue}`, body, { qos: 1 })),
      close: () => client.endAsync(true),
    };
  }
  const nc = await natsConnect({ servers: url, name });
  const js = nc.jetstream();
  return {
    publish: async (queue, body) => void (await js.publish(`q.${queue}`, encoder.encode(body))),
    close: () => nc.close(),
  };
}

/** With bounded parallelism. */
async function eachLimited<T>(items: T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await run(items[next++] as T);
    }),
  );
}

const range = (first: number, count: number) => Array.from({ length: count }, (_, i) => first + i);

function errorKind(error: unknown): string {
  const e = error as { code?: string; message?: string };
  return String(e.code ?? (e.message ?? String(error)).slice(0, 80));
}

/**
 * Creates the per-device queues: an MQTT persistent session subscribed at QoS 1
 * (so the broker queues for it while it is away), or the stream (100 per
 * subject, discard old, file storage) and a durable consumer per device.
 */
async function setup(p: { peer: PeerName; url: string; queues: number }): Promise<{ elapsedMs: number }> {
  const t0 = now();
  if (p.peer === 'relay') {
    // A relay queue is its rows: nothing to create.
  } else if (p.peer === 'mosquitto') {
    await eachLimited(range(0, p.queues), 100, async (i) => {
      const client = await mqtt.connectAsync(p.url, { clientId: `d-${i}`, clean: false, reconnectPeriod: 0 });
      await client.subscribeAsync(`q/${i}`, { qos: 1 });
      await client.endAsync();
    });
  } else {
    const nc = await natsConnect({ servers: p.url });
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({
      name: STREAM,
      subjects: ['q.*'],
      storage: StorageType.File,
      max_msgs_per_subject: 100,
      discard: DiscardPolicy.Old,
    });
    await eachLimited(range(0, p.queues), 20, async (i) => {
      await jsm.consumers.add(STREAM, { durable_name: `d-${i}`, filter_subject: `q.${i}`, ack_policy: AckPolicy.Explicit });
    });
    await nc.close();
  }
  return { elapsedMs: now() - t0 };
}

export interface PeerIngestParams {
  peer: PeerName;
  url: string;
  queues: number;
  /** 1 = one acked publish per request; n = n publishes pipelined, the request ends when all n are acked. */
  batch: number;
  concurrency: number;
  firstClient: number;
  clients: number;
  warmupMs: number;
  durationMs: number;
}

/** Closed loop, as the Presence ingest rows: request k of a client carries `batch` messages for consecutive queues. */
async function ingest(
  p: PeerIngestParams,
): Promise<{ requests: number; notifications: number; latencies: Float64Array; errors: Record<string, number>; measuredMs: number }> {
  const publishers = await Promise.all(range(p.firstClient, p.clients).map((c) => openPublisher(p.peer, p.url, `load-${c}-${process.pid}`)));
  const started = now();
  const measureFrom = started + p.warmupMs;
  const end = measureFrom + p.durationMs;
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let requests = 0;
  let notifications = 0;
  const body = JSON.stringify({ title: 'bench', body: 'x'.repeat(40) });
  const loop = async (k: number) => {
    const publisher = publishers[k] as Publisher;
    const client = p.firstClient + k;
    for (let i = 0; now() < end; i++) {
      const first = ((i * p.concurrency + client) * p.batch) % p.queues;
      const t0 = now();
      let ok = false;
      try {
        await Promise.all(range(0, p.batch).map((j) => publisher.publish((first + j) % p.queues, body)));
        ok = true;
      } catch (error) {
        errors[errorKind(error)] = (errors[errorKind(error)] ?? 0) + 1;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const t1 = now();
      if (ok && t0 >= measureFrom && t1 <= end) {
        requests++;
        notifications += p.batch;
        latencies.push(t1 - t0);
      }
    }
  };
  await Promise.all(publishers.map((_, k) => loop(k)));
  await Promise.all(publishers.map((pub) => pub.close().catch(() => undefined)));
  return { requests, notifications, latencies: Float64Array.from(latencies), errors, measuredMs: p.durationMs };
}

// Subscribers of this process: what they received (send → receipt, ms) and how to close them.
const closers: (() => Promise<void>)[] = [];
let receipts: number[] = [];
let received = 0;

function onMessage(body: Uint8Array | string): void {
  received++;
  try {
    const message = JSON.parse(typeof body === 'string' ? body : decoder.decode(body)) as { t?: number; warm?: boolean };
    // The first second of sends warms connections and JIT: received, not timed.
    if (typeof message.t === 'number' && !message.warm) receipts.push(now() - message.t);
  } catch {
    // a fill message without a send time
  }
}

async function openSubscriber(peer: PeerName, url: string, queue: number, retries: number): Promise<void> {
  if (peer === 'relay') {
    const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/q/${queue}`);
    socket.on('message', (data: Buffer) => {
      const text = data.toString('utf8');
      const space = text.indexOf(' ');
      onMessage(text.slice(space + 1));
      socket.send(text.slice(0, space));
    });
    closers.push(async () => socket.close());
    await new Promise<void>((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    return;
  }
  if (peer === 'mosquitto') {
    // Resumes the persistent session: the broker sends what it queued, MQTT.js answers each QoS 1 message with PUBACK.
    // The handler is attached before the handshake: the queued messages may arrive in the same read as CONNACK.
    const client = mqtt.connect(url, { clientId: `d-${queue}`, clean: false, reconnectPeriod: 1000, connectTimeout: 60_000 });
    client.on('message', (_topic, payload) => onMessage(payload));
    closers.push(() => client.endAsync(true));
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    return;
  }
  const connectWithRetries = async (attempt: number): Promise<NatsConnection> => {
    try {
      return await natsConnect({ servers: url, timeout: 60_000 });
    } catch (error) {
      if (attempt >= retries) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt));
      return connectWithRetries(attempt + 1);
    }
  };
  const nc = await connectWithRetries(0);
  const consumer = await nc.jetstream().consumers.get(STREAM, `d-${queue}`);
  const messages: ConsumerMessages = await consumer.consume({ max_messages: 100 });
  void (async () => {
    for await (const m of messages) {
      onMessage(m.data);
      m.ack();
    }
  })().catch(() => undefined);
  closers.push(async () => {
    await messages.close().catch(() => undefined);
    await nc.close();
  });
}

/** Connects device-like subscribers for queues first…first+count−1, `inFlight` handshakes at a time. */
async function subscribe(p: {
  peer: PeerName;
  url: string;
  first: number;
  count: number;
  inFlight: number;
}): Promise<{ established: number; failed: number; elapsedMs: number; errors: Record<string, number> }> {
  const t0 = now();
  const errors: Record<string, number> = {};
  let established = 0;
  await eachLimited(range(p.first, p.count), p.inFlight, async (queue) => {
    try {
      await openSubscriber(p.peer, p.url, queue, 8);
      established++;
    } catch (error) {
      errors[errorKind(error)] = (errors[errorKind(error)] ?? 0) + 1;
    }
  });
  progress(`${established} ${p.peer} subscribers connected`);
  return { established, failed: p.count - established, elapsedMs: now() - t0, errors };
}

/** Puts `perQueue` messages into each of the queues (100 pipelined per queue), for the storm. */
async function fill(p: { peer: PeerName; url: string; first: number; count: number; perQueue: number }): Promise<{ elapsedMs: number }> {
  const t0 = now();
  const publishers = await Promise.all(range(0, 8).map((c) => openPublisher(p.peer, p.url, `fill-${c}-${process.pid}`)));
  const queues = range(p.first, p.count);
  let next = 0;
  await Promise.all(
    publishers.map(async (publisher) => {
      while (next < queues.length) {
        const queue = queues[next++] as number;
        await Promise.all(range(0, p.perQueue).map((j) => publisher.publish(queue, JSON.stringify({ n: j }))));
      }
    }),
  );
  await Promise.all(publishers.map((pub) => pub.close().catch(() => undefined)));
  return { elapsedMs: now() - t0 };
}

export interface PeerPacedParams {
  peer: PeerName;
  url: string;
  queues: number;
  rate: number;
  durationMs: number;
  maxInFlight: number;
}

/** The latency sender: single acked publishes at a steady rate, round-robin over the queues, each carrying its send time. */
async function paced(p: PeerPacedParams): Promise<{ sent: number; acked: number; skipped: number; errors: Record<string, number> }> {
  const publisher = await openPublisher(p.peer, p.url, `paced-${process.pid}`);
  const errors: Record<string, number> = {};
  let sent = 0;
  let acked = 0;
  let skipped = 0;
  let inFlight = 0;
  const pending: Promise<void>[] = [];
  const start = now();
  const total = Math.round((p.rate * p.durationMs) / 1000);
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / p.rate;
    const wait = due - now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    if (inFlight >= p.maxInFlight) {
      skipped++;
      continue;
    }
    inFlight++;
    sent++;
    pending.push(
      publisher.publish(i % p.queues, JSON.stringify({ t: now(), warm: i < p.rate, title: 'bench', body: 'x'.repeat(40) })).then(
        () => void (inFlight--, acked++),
        (error: unknown) => void (inFlight--, (errors[errorKind(error)] = (errors[errorKind(error)] ?? 0) + 1)),
      ),
    );
  }
  await Promise.all(pending);
  await publisher.close().catch(() => undefined);
  return { sent, acked, skipped, errors };
}

serve({
  setup,
  ingest,
  subscribe,
  fill,
  paced,
  received: async () => ({ received }),
  takeReceipts: async () => {
    const taken = Float64Array.from(receipts);
    receipts = [];
    return { sendToReceipt: taken, received };
  },
  resetCounters: async () => {
    receipts = [];
    received = 0;
    return {};
  },
  closeAll: async () => {
    const all = closers.splice(0);
    await eachLimited(all, 200, (close) => close().catch(() => undefined));
    return { closed: all.length };
  },
});
