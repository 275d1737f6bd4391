/**
 * Delivery latency: a steady rate of single notifications (from a load worker
 * process) to the users of many connected daemons (in another client
 * process). Each message carries its tag and send time; the sender records
 * when each ack arrived, the daemons when each item arrived. Both clocks are
 * this machine's wall clock (performance.timeOrigin + now()), so
 * receipt − ack is the time from the service confirming storage to the item
 * reaching the daemon. Daemons acknowledge what they receive, as real ones do,
 * so the server also carries the matching ack transactions. The phase ends
 * with one rate at scale (settings.ts: fan-out), on daemons of its own.
 */
import { WorkerProcess } from './clients/ipc.ts';
import type { ConnectResult, WorkerStatus } from './clients/daemonWorker.ts';
import type { PacedParams, PacedResult } from './clients/loadWorker.ts';
import type { BenchContext } from './context.ts';
import type { Settings } from './settings.ts';
import { resetQueues } from './fixtures.ts';
import { formatCpu, startCpuMeter, type CpuSplit } from './proc.ts';
import { fmt, percentile, sortNumbers } from './stats.ts';
import { deliveryDelta, gcDelta, scrapeMetrics } from './serverMetrics.ts';
import { waitForNoConnections } from './storm.ts';

export interface LatencyResult {
  daemons: number;
  connected: number;
  rate: number;
  /** Notifications per POST. */
  batch: number;
  /** Acks per second actually obtained (below `rate` when the node could not keep up). */
  achievedRate: number;
  seconds: number;
  sent: number;
  acked: number;
  received: number;
  /** Acked but never received within the grace period. */
  missing: number;
  skipped: number;
  errors: Record<string, number>;
  ackToReceipt: { p50: number; p95: number; p99: number; max: number; negative: number };
  sendToReceipt: { p50: number; p95: number; p99: number };
  sendToAck: { p50: number; p99: number };
  cpu: CpuSplit;
  client: 'trpc' | 'raw';
  /** The server's own view over the window: its delivery histogram (stored → sent), event-loop lag, GC time. */
  server: { deliveries: number; histogram: string; loopLagMaxMs: number; loopLagP99Ms: number; gcSeconds: number; majorGcSeconds: number };
}

/** Daemons connected at once, the rates sent to them one after the other, notifications per POST, and the daemons' client. */
interface LatencyRun {
  daemons: number;
  rates: number[];
  batch: number;
  client: 'trpc' | 'raw';
}

/** BENCH_LATENCY_RATES to BENCH_LATENCY_DAEMONS, then the rate at scale (unless it has no daemons). */
function latencyRuns(s: Settings): LatencyRun[] {
  const runs: LatencyRun[] = [{ daemons: s.latencyDaemons, rates: s.latencyRates, batch: s.latencyBatch, client: s.latencyClient }];
  if (s.scale.daemons > 0) runs.push({ daemons: s.scale.daemons, rates: [s.scale.rate], batch: s.scale.batch, client: 'raw' });
  return runs;
}

/** One result per rate of each run. */
export async function runLatency(ctx: BenchContext): Promise<LatencyResult[]> {
  const results: LatencyResult[] = [];
  for (const run of latencyRuns(ctx.settings)) results.push(...(await measureRun(ctx, run)));
  return results;
}

/** One result per rate, over the same connected daemons. */
async function measureRun(ctx: BenchContext, run: LatencyRun): Promise<LatencyResult[]> {
  await resetQueues(ctx.db);
  const people = ctx.fixtures.people.slice(0, run.daemons);
  const daemons = ctx.track(new WorkerProcess('daemonWorker.ts', 'latency daemons', ctx.log));
  const sender = ctx.track(new WorkerProcess('loadWorker.ts', 'latency sender', ctx.log));
  try {
    ctx.log(`latency: connecting ${people.length} daemons (${run.client} clients)…`);
    const connected = await daemons.request<ConnectResult>(
      'connect',
      {
        server: ctx.server.url,
        tokens: people.map((p) => p.token),
        kind: run.client,
        maxPending: 100,
        retries: 2,
        attemptTimeoutMs: 30_000,
        deadlineMs: 120_000,
      },
      150_000,
    );
    ctx.log(`  ${connected.established} connected in ${fmt(connected.elapsedMs / 1000)} s (${connected.failed} failed)`);
    const results: LatencyResult[] = [];
    for (const rate of run.rates) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await daemons.request('resetCounters', {}, 10_000);
      results.push(await measureRate(ctx, daemons, sender, people, connected.established, rate, run));
    }
    return results;
  } finally {
    await daemons.request('closeAll', {}, 60_000).catch(() => undefined);
    await Promise.all([daemons.stop(), sender.stop()]);
    await waitForNoConnections(ctx, 60_000);
  }
}

async function measureRate(
  ctx: BenchContext,
  daemons: WorkerProcess,
  sender: WorkerProcess,
  people: { uid: string }[],
  connected: number,
  rate: number,
  run: LatencyRun,
): Promise<LatencyResult> {
  const s = ctx.settings;
  ctx.log(`latency: sending ${rate}/s${run.batch > 1 ? ` in POSTs of ${run.batch}` : ''} for ${s.latencySeconds} s…`);
  const metricsBefore = await scrapeMetrics(ctx.server.url);
  const stopCpu = startCpuMeter({ server: ctx.server.pid, postmaster: ctx.postmasterPid, clients: ctx.clientPids });
  const paced = await sender.request<PacedResult>(
    'paced',
    {
      url: ctx.server.url,
      appid: ctx.fixtures.appid,
      key: ctx.fixtures.key,
      uids: people.map((p) => p.uid),
      rate,
      batch: run.batch,
      durationMs: s.latencySeconds * 1000,
      maxInFlight: 256,
    } satisfies PacedParams,
    s.latencySeconds * 1000 + 120_000,
  );
  const cpu = stopCpu();
  const metricsAfter = await scrapeMetrics(ctx.server.url);
  const acked = paced.ackedAt.filter((t) => !Number.isNaN(t)).length;
  // Grace period: bounded wait for the last deliveries.
  for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
    const status = await daemons.request<WorkerStatus>('status', {}, 10_000);
    if (status.liveItems >= acked) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const receipts = await daemons.request<{ tags: Float64Array; at: Float64Array }>('takeReceipts', {}, 30_000);

  // The first second (or 10 %) warms connections and JIT: not counted.
  const warm = Math.min(rate, Math.floor(paced.sentAt.length / 10));
  const ackToReceipt: number[] = [];
  const sendToReceipt: number[] = [];
  const sendToAck: number[] = [];
  const receivedAt = new Map<number, number>();
  receipts.tags.forEach((tag, i) => receivedAt.set(tag, receipts.at[i] as number));
  let missing = 0;
  let firstAck = Number.POSITIVE_INFINITY;
  let lastAck = 0;
  for (let tag = warm; tag < paced.sentAt.length; tag++) {
    const ack = paced.ackedAt[tag] as number;
    const sent = paced.sentAt[tag] as number;
    if (Number.isNaN(ack)) continue;
    firstAck = Math.min(firstAck, ack);
    lastAck = Math.max(lastAck, ack);
    sendToAck.push(ack - sent);
    const got = receivedAt.get(tag);
    if (got === undefined) {
      missing++;
      continue;
    }
    ackToReceipt.push(got - ack);
    sendToReceipt.push(got - sent);
  }
  const a = sortNumbers(ackToReceipt);
  const e = sortNumbers(sendToReceipt);
  const k = sortNumbers(sendToAck);
  const result: LatencyResult = {
    daemons: people.length,
    connected,
    rate,
    batch: run.batch,
    achievedRate: sendToAck.length > 1 ? (sendToAck.length - 1) / ((lastAck - firstAck) / 1000) : Number.NaN,
    seconds: s.latencySeconds,
    sent: paced.sentAt.filter((t) => !Number.isNaN(t)).length,
    acked,
    received: receipts.tags.length,
    missing,
    skipped: paced.skipped,
    errors: paced.errors,
    ackToReceipt: {
      p50: percentile(a, 50),
      p95: percentile(a, 95),
      p99: percentile(a, 99),
      max: percentile(a, 100),
      negative: ackToReceipt.filter((x) => x < 0).length,
    },
    sendToReceipt: { p50: percentile(e, 50), p95: percentile(e, 95), p99: percentile(e, 99) },
    sendToAck: { p50: percentile(k, 50), p99: percentile(k, 99) },
    cpu,
    client: run.client,
    server: {
      ...(({ count, text }) => ({ deliveries: count, histogram: text }))(deliveryDelta(metricsBefore, metricsAfter)),
      loopLagMaxMs: metricsAfter.loopLagMax * 1000,
      loopLagP99Ms: metricsAfter.loopLagP99 * 1000,
      gcSeconds: gcDelta(metricsBefore, metricsAfter).total,
      majorGcSeconds: gcDelta(metricsBefore, metricsAfter).major,
    },
  };
  ctx.log(
    `  ack→receipt p50 ${fmt(result.ackToReceipt.p50)} / p95 ${fmt(result.ackToReceipt.p95)} / p99 ${fmt(result.ackToReceipt.p99)} ms; ` +
      `acks at ${fmt(result.achievedRate)}/s; ${result.received}/${result.acked} received, ${missing} missing, ${paced.skipped} skipped; ${formatCpu(cpu)}`,
  );
  ctx.log(
    `  server view: stored→sent ${result.server.histogram}; event-loop lag max ${fmt(result.server.loopLagMaxMs)} ms (p99 ${fmt(result.server.loopLagP99Ms)} ms); ` +
      `GC ${fmt(result.server.gcSeconds)} s (major ${fmt(result.server.majorGcSeconds)} s)`,
  );
  return result;
}
