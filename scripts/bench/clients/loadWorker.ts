/**
 * A load-generating client process (forked by the orchestrator). It runs
 * either side of an ingest row — the service over HTTP with keep-alive, or
 * the ceiling transaction straight to PostgreSQL over `pg` — as a closed loop
 * of virtual clients, or the paced open-loop sender of the latency phase.
 */
import http from 'node:http';
import pg from 'pg';
import { pushDirect } from '../ceilingSql.ts';
import { batchItems, requestNumber, type Item } from '../workload.ts';
import { progress, serve } from './ipc.ts';

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes of one machine. */
const now = () => performance.timeOrigin + performance.now();

export interface IngestParams {
  mode: 'http' | 'pg';
  /** http: the server's base URL and the app's credentials. */
  url: string;
  appid: string;
  key: string;
  /** pg: the database. */
  databaseUrl: string;
  uids: string[];
  batch: number;
  /** Virtual clients of the whole row (all workers), and this worker's share. */
  concurrency: number;
  firstClient: number;
  clients: number;
  warmupMs: number;
  durationMs: number;
}

export interface IngestResult {
  /** Requests answered with success that completed inside the measured window. */
  requests: number;
  notifications: number;
  /** Latencies of those requests, ms. */
  latencies: Float64Array;
  /** Failures by kind ("429 errno 129", "ECONNRESET", …), whole run. */
  errors: Record<string, number>;
  measuredMs: number;
}

const REQUEST_TIMEOUT_MS = 30_000;

let params: IngestParams | null = null;
let agent: http.Agent | null = null;
let pgClients: pg.Client[] = [];

interface Answer {
  status: number;
  body: string;
}

function post(base: URL, path: string, key: string, body: string, via: http.Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: base.hostname,
        port: base.port,
        path,
        method: 'POST',
        agent: via,
        timeout: REQUEST_TIMEOUT_MS,
        headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

function failureKind(answer: Answer): string {
  try {
    const parsed = JSON.parse(answer.body) as { errno?: number };
    return `HTTP ${answer.status} errno ${parsed.errno ?? '?'}`;
  } catch {
    return `HTTP ${answer.status}`;
  }
}

function errorKind(error: unknown): string {
  const e = error as { code?: string; message?: string };
  return e.code ?? (e.message ?? String(error)).slice(0, 80);
}

async function prepare(p: IngestParams): Promise<{ ready: true }> {
  params = p;
  if (p.mode === 'http') {
    // One keep-alive socket per virtual client, as a well-behaved AppService would hold.
    agent = new http.Agent({ keepAlive: true, maxSockets: p.clients, maxFreeSockets: p.clients });
  } else {
    // One connection per virtual client: the ceiling may use as many as it has clients.
    pgClients = await Promise.all(
      Array.from({ length: p.clients }, async () => {
        const client = new pg.Client({ connectionString: p.databaseUrl, application_name: 'bench-ceiling' });
        client.on('error', () => undefined);
        await client.connect();
        // The service commits durably; so must its ceiling.
        await client.query('SET synchronous_commit = on');
        return client;
      }),
    );
  }
  return { ready: true };
}

async function run(): Promise<IngestResult> {
  const p = params;
  if (!p) throw new Error('run before prepare');
  const base = new URL(p.url);
  const path = `/${p.appid}/notification`;
  const started = now();
  const measureFrom = started + p.warmupMs;
  const end = measureFrom + p.durationMs;
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let requests = 0;
  let notifications = 0;
  const fail = (kind: string): void => {
    errors[kind] = (errors[kind] ?? 0) + 1;
  };

  const send = async (client: number, items: Item[]): Promise<boolean> => {
    if (p.mode === 'http') {
      const answer = await post(base, path, p.key, JSON.stringify(items), agent as http.Agent);
      if (answer.status === 200) return true;
      fail(failureKind(answer));
      return false;
    }
    await pushDirect(pgClients[client - p.firstClient] as pg.Client, p.appid, items);
    return true;
  };

  const loop = async (client: number) => {
    // Bounded by time: a virtual client stops at the end of the window.
    for (let i = 0; now() < end; i++) {
      const items = batchItems(p.uids, p.batch, requestNumber(client, i, p.concurrency));
      const t0 = now();
      let ok = false;
      try {
        ok = await send(client, items);
      } catch (error) {
        fail(errorKind(error));
        // Do not spin on a dead connection.
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const t1 = now();
      if (ok && t0 >= measureFrom && t1 <= end) {
        requests++;
        notifications += items.length;
        latencies.push(t1 - t0);
      }
    }
  };
  await Promise.all(Array.from({ length: p.clients }, (_, k) => loop(p.firstClient + k)));
  return { requests, notifications, latencies: Float64Array.from(latencies), errors, measuredMs: p.durationMs };
}

async function close(): Promise<{ closed: true }> {
  agent?.destroy();
  agent = null;
  await Promise.all(pgClients.map((c) => c.end().catch(() => undefined)));
  pgClients = [];
  return { closed: true };
}

export interface PacedParams {
  url: string;
  appid: string;
  key: string;
  uids: string[];
  /** Notifications per second. */
  rate: number;
  /** Notifications per POST, each to the next UID (fan-out: many daemons per request). */
  batch: number;
  durationMs: number;
  /** Open loop, but bounded: past this many requests in flight a send is skipped and counted. */
  maxInFlight: number;
}

export interface PacedResult {
  /** Per tag (the index of the send): when it was sent and when its ack arrived (NaN if it failed or was skipped). */
  sentAt: Float64Array;
  ackedAt: Float64Array;
  skipped: number;
  errors: Record<string, number>;
}

/**
 * The latency phase's sender: batches of `batch` (one by default), at a
 * steady rate of notifications, each message carrying its tag and send time,
 * round-robin over the daemons' UIDs.
 */
async function paced(p: PacedParams): Promise<PacedResult> {
  const base = new URL(p.url);
  const path = `/${p.appid}/notification`;
  const via = new http.Agent({ keepAlive: true, maxSockets: p.maxInFlight });
  const total = Math.floor((p.rate * p.durationMs) / 1000);
  const sentAt = new Float64Array(total).fill(Number.NaN);
  const ackedAt = new Float64Array(total).fill(Number.NaN);
  const errors: Record<string, number> = {};
  const fail = (kind: string): void => {
    errors[kind] = (errors[kind] ?? 0) + 1;
  };
  let skipped = 0;
  let inFlight = 0;
  const pending: Promise<void>[] = [];
  const t0 = now() + 50;
  let lastReport = now();
  for (let first = 0; first < total; first += p.batch) {
    const due = t0 + (first * 1000) / p.rate;
    const wait = due - now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    if (inFlight >= p.maxInFlight) {
      skipped += Math.min(p.batch, total - first);
      continue;
    }
    const sendTs = now();
    const tags = Array.from({ length: Math.min(p.batch, total - first) }, (_, i) => first + i);
    for (const tag of tags) sentAt[tag] = sendTs;
    const body = JSON.stringify(
      tags.map((tag) => ({
        UID: p.uids[tag % p.uids.length] as string,
        message: `latency ${tag} ${sendTs.toFixed(3)}`,
        action: `https://chat.example/#latency/${tag}`,
      })),
    );
    inFlight++;
    pending.push(
      post(base, path, p.key, body, via)
        .then(
          (answer) => {
            if (answer.status === 200) for (const tag of tags) ackedAt[tag] = now();
            else fail(failureKind(answer));
          },
          (error: unknown) => fail(errorKind(error)),
        )
        .finally(() => {
          inFlight--;
        }),
    );
    if (now() - lastReport > 5_000) {
      lastReport = now();
      progress(`sent ${first + p.batch}/${total}, ${inFlight} in flight, ${skipped} skipped`);
    }
  }
  await Promise.all(pending);
  via.destroy();
  return { sentAt, ackedAt, skipped, errors };
}

serve({ prepare, run, close, paced });
