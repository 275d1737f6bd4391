/**
 * The peer rows: the same workloads as the Presence rows, run against
 * Mosquitto and NATS JetStream (scripts/bench/peers/brokers.ts) from the same
 * kind of forked client processes, each right after the Presence phase it
 * compares with (interleaved within one run). Each measurement gets a fresh
 * broker, so none inherits another's queues or memory.
 */
import { WorkerProcess } from '../clients/ipc.ts';
import type { PeerIngestParams, PeerPacedParams } from '../clients/peerWorker.ts';
import type { BenchContext } from '../context.ts';
import { rssBytes, startCpuMeter, type CpuSplit } from '../proc.ts';
import { fmt, percentile, sortNumbers } from '../stats.ts';
import { PEER_LABELS, PEER_PHASES, QUEUE_CAP, missingNote, startBroker, type Broker, type PeerName } from './brokers.ts';

export interface PeerIngestRow {
  peer: PeerName;
  batch: number;
  concurrency: number;
  perSecond: number;
  p50: number;
  p99: number;
  cpu: CpuSplit;
  errors: Record<string, number>;
}

export interface PeerLatencyRow {
  peer: PeerName;
  rate: number;
  subscribers: number;
  sent: number;
  acked: number;
  received: number;
  skipped: number;
  sendToReceipt: { p50: number; p99: number };
  /** Broker CPU (the relay's with its PostgreSQL's) over the window per message received by a subscriber, µs. */
  cpuPerDeliveredUs: number;
  cpu: CpuSplit;
}

export interface PeerMemoryRow {
  peer: PeerName;
  subscribers: number;
  established: number;
  rssBefore: number;
  rssAfter: number;
  perSubscriber: number;
}

export interface PeerStormRow {
  peer: PeerName;
  subscribers: number;
  items: number;
  received: number;
  /** Seconds until every queued message was received (and acknowledged by the client), NaN past the timeout. */
  drainedSeconds: number;
  fillSeconds: number;
  cpu: CpuSplit;
}

export interface PeerResults {
  versions: Partial<Record<PeerName, string>>;
  ingest: PeerIngestRow[];
  latency: PeerLatencyRow[];
  memory: PeerMemoryRow[];
  storm: PeerStormRow[];
}

export function emptyPeerResults(): PeerResults {
  return { versions: {}, ingest: [], latency: [], memory: [], storm: [] };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The peers of the settings measured in `phase` that are installed; a note for each one that is not (once per run). */
function available(ctx: BenchContext, phase: Phase): PeerName[] {
  const peers: PeerName[] = [];
  for (const peer of ctx.settings.peers.filter((p) => PEER_PHASES[p].includes(phase))) {
    const note = missingNote(peer);
    if (!note) peers.push(peer);
    else if (!ctx.notes.includes(note)) {
      ctx.notes.push(note);
      ctx.log(note);
    }
  }
  return peers;
}

type Phase = (typeof PEER_PHASES)[PeerName][number];

/** Runs `measure` against a fresh broker of each peer; a peer that fails is noted, the others still run. */
async function eachPeer(ctx: BenchContext, results: PeerResults, phase: Phase, what: string, measure: (broker: Broker) => Promise<void>): Promise<void> {
  for (const peer of available(ctx, phase)) {
    let broker: Broker | null = null;
    try {
      broker = await startBroker(peer, { databaseUrl: ctx.databaseUrl, log: ctx.log });
      results.versions[peer] = broker.version;
      ctx.log(`peers: ${what} on ${PEER_LABELS[peer]} ${broker.version} (pid ${broker.pid})`);
      await measure(broker);
    } catch (error) {
      const message = `${PEER_LABELS[peer]} ${what}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
      ctx.notes.push(`FAILED ${message}`);
      ctx.log(`peers: FAILED ${message}`);
    } finally {
      await broker?.stop().catch(() => undefined);
    }
  }
}

/** The rows the issue compares: single acked publishes at the highest concurrency (64 by default), batches of 100 at 32. */
export function peerIngestRows(settings: BenchContext['settings']): { batch: number; concurrency: number }[] {
  const top = Math.max(...settings.concurrency);
  const rows: { batch: number; concurrency: number }[] = [];
  if (settings.batches.includes(1)) rows.push({ batch: 1, concurrency: settings.concurrency.includes(64) ? 64 : top });
  if (settings.batches.includes(100)) rows.push({ batch: 100, concurrency: settings.concurrency.includes(32) ? 32 : top });
  return rows;
}

export async function runPeerIngest(ctx: BenchContext, results: PeerResults): Promise<void> {
  const s = ctx.settings;
  await eachPeer(ctx, results, 'ingest', 'ingest', async (broker) => {
    const all = Array.from({ length: s.loadWorkers }, (_, w) => ctx.track(new WorkerProcess('peerWorker.ts', `${broker.name} load ${w + 1}`, ctx.log)));
    try {
      await (all[0] as WorkerProcess).request('setup', { peer: broker.name, url: broker.url, queues: s.uids }, 300_000);
      for (const row of peerIngestRows(s)) {
        const workers = all.slice(0, Math.min(all.length, row.concurrency));
        const share = (w: number) => Math.floor(row.concurrency / workers.length) + (w < row.concurrency % workers.length ? 1 : 0);
        const firsts = workers.map((_, w) => Array.from({ length: w }, (_, k) => share(k)).reduce((a, b) => a + b, 0));
        const stopCpu = startCpuMeter({ server: broker.pid, postmaster: null, clients: ctx.clientPids });
        const timeout = (s.warmupSeconds + s.ingestSeconds) * 1000 + 120_000;
        const parts = await Promise.all(
          workers.map((worker, w) =>
            worker.request<{ notifications: number; latencies: Float64Array; errors: Record<string, number>; measuredMs: number }>(
              'ingest',
              {
                peer: broker.name,
                url: broker.url,
                queues: s.uids,
                batch: row.batch,
                concurrency: row.concurrency,
                firstClient: firsts[w] as number,
                clients: share(w),
                warmupMs: s.warmupSeconds * 1000,
                durationMs: s.ingestSeconds * 1000,
              } satisfies PeerIngestParams,
              timeout,
            ),
          ),
        );
        const cpu = stopCpu();
        const latencies = sortNumbers(parts.flatMap((p) => [...p.latencies]));
        const errors: Record<string, number> = {};
        for (const p of parts) for (const [k, v] of Object.entries(p.errors)) errors[k] = (errors[k] ?? 0) + v;
        const notifications = parts.reduce((a, p) => a + p.notifications, 0);
        const result: PeerIngestRow = {
          peer: broker.name,
          ...row,
          perSecond: notifications / s.ingestSeconds,
          p50: percentile(latencies, 50),
          p99: percentile(latencies, 99),
          cpu,
          errors,
        };
        results.ingest.push(result);
        ctx.log(`  ${PEER_LABELS[broker.name]} batch ${row.batch} × ${row.concurrency}: ${fmt(result.perSecond)}/s (p99 ${fmt(result.p99)} ms)`);
      }
    } finally {
      await Promise.all(all.map((w) => w.stop()));
    }
  });
}

/** Client processes for `count` subscribers, as the capacity phase spreads daemons (one is enough below 1,000). */
function subscriberWorkers(ctx: BenchContext, broker: Broker, count: number, processes: number, label: string): WorkerProcess[] {
  const n = Math.max(1, Math.min(processes, Math.ceil(count / 1000)));
  return Array.from({ length: n }, (_, w) => ctx.track(new WorkerProcess('peerWorker.ts', `${broker.name} ${label} ${w + 1}`, ctx.log)));
}

/** Connects subscribers for queues 0…count−1 spread over `workers`; returns how many connected. */
async function connectSubscribers(workers: WorkerProcess[], broker: Broker, count: number, inFlight: number): Promise<number> {
  const per = Math.ceil(count / workers.length);
  const answers = await Promise.all(
    workers.map((worker, w) =>
      worker.request<{ established: number }>(
        'subscribe',
        { peer: broker.name, url: broker.url, first: w * per, count: Math.max(0, Math.min(per, count - w * per)), inFlight },
        600_000,
      ),
    ),
  );
  return answers.reduce((a, r) => a + r.established, 0);
}

async function receivedBy(workers: WorkerProcess[]): Promise<number> {
  const counts = await Promise.all(workers.map((w) => w.request<{ received: number }>('received', {}, 30_000)));
  return counts.reduce((a, c) => a + c.received, 0);
}

async function closeWorkers(workers: WorkerProcess[]): Promise<void> {
  // A worker that already exited has no channel left to ask.
  await Promise.all(
    workers.map((w) =>
      Promise.resolve()
        .then(() => w.request('closeAll', {}, 120_000))
        .catch(() => undefined),
    ),
  );
  await Promise.all(workers.map((w) => w.stop()));
}

export async function runPeerLatency(ctx: BenchContext, results: PeerResults): Promise<void> {
  const s = ctx.settings;
  await eachPeer(ctx, results, 'latency', 'latency', async (broker) => {
    const workers = subscriberWorkers(ctx, broker, s.latencyDaemons, 1, 'subscribers');
    const sender = ctx.track(new WorkerProcess('peerWorker.ts', `${broker.name} sender`, ctx.log));
    try {
      await sender.request('setup', { peer: broker.name, url: broker.url, queues: s.latencyDaemons }, 300_000);
      const established = await connectSubscribers(workers, broker, s.latencyDaemons, 200);
      for (const rate of s.latencyRates) {
        await sleep(1_000);
        await Promise.all(workers.map((w) => w.request('resetCounters', {}, 10_000)));
        const stopCpu = startCpuMeter({ server: broker.pid, postmaster: broker.usesPostgres ? ctx.postmasterPid : null, clients: ctx.clientPids });
        const paced = await sender.request<{ sent: number; acked: number; skipped: number }>(
          'paced',
          {
            peer: broker.name,
            url: broker.url,
            queues: s.latencyDaemons,
            rate,
            durationMs: s.latencySeconds * 1000,
            maxInFlight: 256,
          } satisfies PeerPacedParams,
          s.latencySeconds * 1000 + 120_000,
        );
        for (const deadline = Date.now() + 10_000; Date.now() < deadline && (await receivedBy(workers)) < paced.acked;) await sleep(100);
        const cpu = stopCpu();
        const taken = await Promise.all(workers.map((w) => w.request<{ sendToReceipt: Float64Array; received: number }>('takeReceipts', {}, 30_000)));
        const sorted = sortNumbers(taken.flatMap((t) => [...t.sendToReceipt]));
        const received = taken.reduce((a, t) => a + t.received, 0);
        const row: PeerLatencyRow = {
          peer: broker.name,
          rate,
          subscribers: established,
          ...paced,
          received,
          sendToReceipt: { p50: percentile(sorted, 50), p99: percentile(sorted, 99) },
          cpuPerDeliveredUs: received > 0 ? (((cpu.server + cpu.postgres) / 100) * cpu.seconds * 1e6) / received : Number.NaN,
          cpu,
        };
        results.latency.push(row);
        ctx.log(
          `  ${PEER_LABELS[broker.name]} ${rate}/s: publish→receipt p99 ${fmt(row.sendToReceipt.p99)} ms, ${fmt(row.cpuPerDeliveredUs)} µs CPU per delivered message`,
        );
      }
    } finally {
      await closeWorkers([...workers, sender]);
    }
  });
}

/** How many idle subscribers the memory rows hold: the capacity phase's top step, at most 10,000 (the issue's figure). */
export function peerIdleSubscribers(settings: BenchContext['settings']): number {
  return Math.min(10_000, Math.max(...settings.capacitySteps));
}

export async function runPeerMemory(ctx: BenchContext, results: PeerResults): Promise<void> {
  const s = ctx.settings;
  const count = peerIdleSubscribers(s);
  await eachPeer(ctx, results, 'memory', `memory with ${count} idle subscribers`, async (broker) => {
    const rssBefore = rssBytes(broker.pid) ?? Number.NaN;
    const workers = subscriberWorkers(ctx, broker, count, s.clientProcesses, 'idle');
    try {
      await (workers[0] as WorkerProcess).request('setup', { peer: broker.name, url: broker.url, queues: count }, 600_000);
      const established = await connectSubscribers(workers, broker, count, 200);
      await sleep(s.settleSeconds * 1000);
      const rssAfter = rssBytes(broker.pid) ?? Number.NaN;
      results.memory.push({
        peer: broker.name,
        subscribers: count,
        established,
        rssBefore,
        rssAfter,
        perSubscriber: (rssAfter - rssBefore) / Math.max(1, established),
      });
    } finally {
      await closeWorkers(workers);
    }
  });
}

export async function runPeerStorm(ctx: BenchContext, results: PeerResults, subscribers: number): Promise<void> {
  const s = ctx.settings;
  await eachPeer(ctx, results, 'storm', `storm of ${subscribers} subscribers × ${QUEUE_CAP}`, async (broker) => {
    const workers = subscriberWorkers(ctx, broker, subscribers, s.clientProcesses, 'storm');
    try {
      const first = workers[0] as WorkerProcess;
      await first.request('setup', { peer: broker.name, url: broker.url, queues: subscribers }, 600_000);
      const filled = await first.request<{ elapsedMs: number }>(
        'fill',
        { peer: broker.name, url: broker.url, first: 0, count: subscribers, perQueue: QUEUE_CAP },
        900_000,
      );
      const items = subscribers * QUEUE_CAP;
      const stopCpu = startCpuMeter({ server: broker.pid, postmaster: null, clients: ctx.clientPids });
      const t0 = performance.now();
      // All at once: every subscriber of a process starts its handshake together.
      await connectSubscribers(workers, broker, subscribers, subscribers);
      let drainedSeconds = Number.NaN;
      let received = 0;
      for (const deadline = t0 + s.stormTimeoutSeconds * 1000; performance.now() < deadline; await sleep(100)) {
        received = await receivedBy(workers);
        if (received >= items) {
          drainedSeconds = (performance.now() - t0) / 1000;
          break;
        }
      }
      const cpu = stopCpu();
      results.storm.push({ peer: broker.name, subscribers, items, received, drainedSeconds, fillSeconds: filled.elapsedMs / 1000, cpu });
      ctx.log(
        `  ${PEER_LABELS[broker.name]} storm: ${Number.isFinite(drainedSeconds) ? `drained in ${fmt(drainedSeconds)} s` : `${received}/${items} received`}`,
      );
    } finally {
      await closeWorkers(workers);
    }
  });
}
