/**
 * Ingest: notifications per second through `POST /<appid>/notification`
 * (the service) against the same insert-then-prune transaction sent straight
 * to PostgreSQL (the ceiling), at the same concurrency, for each batch size.
 * Both sides run from the same client processes with the same batches, each
 * after a reset of the queues, with a warm-up that is not measured. Single
 * POSTs are also sent to a bare Node HTTP server that stores nothing (the
 * floor, clients/bareHttpServer.ts): what HTTP alone allows here; and to the
 * same server storing each group of bodies with one INSERT and its fsync'd
 * commit (the durable floor): what Node and PostgreSQL allow here.
 */
import { WorkerProcess } from './clients/ipc.ts';
import type { IngestParams, IngestResult } from './clients/loadWorker.ts';
import type { BenchContext } from './context.ts';
import { resetQueues } from './fixtures.ts';
import { formatCpu, startCpuMeter, type CpuSplit } from './proc.ts';
import { fmt, percentile, sortNumbers } from './stats.ts';
import { formatWaits, startWaitSampler, type WaitProfile } from './waits.ts';
import { splitClients } from './workload.ts';

export interface SideResult {
  notificationsPerSecond: number;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  errors: Record<string, number>;
  cpu: CpuSplit;
  waits: WaitProfile;
}

export interface IngestRow {
  batch: number;
  concurrency: number;
  service: SideResult;
  ceiling: SideResult;
  /** Batch 1 only: the same load against the bare HTTP server. */
  floor: SideResult | null;
  /** Batch 1 only: the same load against the bare HTTP server storing with one INSERT per group. */
  durableFloor: SideResult | null;
}

export interface IngestOutcome {
  rows: IngestRow[];
  loadWorkers: number;
}

export async function runIngest(ctx: BenchContext): Promise<IngestOutcome> {
  const s = ctx.settings;
  const uids = ctx.fixtures.people.slice(0, s.uids).map((p) => p.uid);
  const workers = Array.from({ length: s.loadWorkers }, (_, i) => ctx.track(new WorkerProcess('loadWorker.ts', `load ${i + 1}`, ctx.log)));
  const service: Target = { url: ctx.server.url, pid: ctx.server.pid };
  const floors = s.batches.includes(1)
    ? [
        ctx.track(new WorkerProcess('bareHttpServer.ts', 'bare http server', ctx.log)),
        ctx.track(new WorkerProcess('bareHttpServer.ts', 'durable floor', ctx.log)),
      ]
    : [];
  const rows: IngestRow[] = [];
  const warmupMs = s.warmupSeconds * 1000;
  try {
    const [floorTarget, durableTarget] = await Promise.all([
      floors[0]?.request<Target>('listen', {}, 30_000),
      floors[1]?.request<Target>('listen', { databaseUrl: ctx.databaseUrl }, 30_000),
    ]);
    for (const batch of s.batches) {
      for (const concurrency of s.concurrency) {
        const base = { uids, batch, concurrency };
        ctx.log(`ingest: batch ${batch}, concurrency ${concurrency}: service…`);
        // A fresh server spends its first seconds compiling (V8's optimising compiler): measured
        // first, single POSTs at one client ran at half their rate of a minute later.
        const serviceWarmupMs = rows.length === 0 ? warmupMs * COLD_START_WARMUPS : warmupMs;
        const measured = await side(ctx, workers, { ...base, mode: 'http' }, service, serviceWarmupMs);
        ctx.log(`  service ${sideLine(measured)}`);
        ctx.log(`ingest: batch ${batch}, concurrency ${concurrency}: ceiling…`);
        const ceiling = await side(ctx, workers, { ...base, mode: 'pg' }, service, warmupMs);
        ctx.log(`  ceiling ${sideLine(ceiling)}`);
        let floor: SideResult | null = null;
        let durableFloor: SideResult | null = null;
        if (batch === 1 && floorTarget && durableTarget) {
          ctx.log(`ingest: batch ${batch}, concurrency ${concurrency}: floor (bare HTTP)…`);
          floor = await side(ctx, workers, { ...base, mode: 'http' }, floorTarget, warmupMs);
          ctx.log(`  floor ${sideLine(floor)}`);
          ctx.log(`ingest: batch ${batch}, concurrency ${concurrency}: durable floor (bare HTTP, one INSERT per group)…`);
          durableFloor = await side(ctx, workers, { ...base, mode: 'http' }, durableTarget, warmupMs);
          ctx.log(`  durable floor ${sideLine(durableFloor)}`);
        }
        rows.push({ batch, concurrency, service: measured, ceiling, floor, durableFloor });
      }
    }
  } finally {
    await Promise.all([...workers, ...floors].map((w) => w.stop()));
  }
  return { rows, loadWorkers: s.loadWorkers };
}

/** How many warm-ups long the phase's first measurement (the service's) warms up. */
const COLD_START_WARMUPS = 5;

type SideRun = { uids: string[]; batch: number; concurrency: number; mode: 'http' | 'pg' };

/** Where a side's HTTP load goes, and whose CPU is the server's. */
interface Target {
  url: string;
  pid: number;
}

function sideLine(side: SideResult): string {
  return `${fmt(side.notificationsPerSecond)} notifications/s (p50 ${fmt(side.p50)} ms, p99 ${fmt(side.p99)} ms); ${formatCpu(side.cpu)}; ${formatWaits(side.waits)}`;
}

async function side(ctx: BenchContext, workers: WorkerProcess[], run: SideRun, target: Target, warmupMs: number): Promise<SideResult> {
  const s = ctx.settings;
  await resetQueues(ctx.db);
  const shares = splitClients(run.concurrency, workers.length);
  const durationMs = s.ingestSeconds * 1000;
  const used = shares.map(([firstClient, clients], i) => {
    const params: IngestParams = {
      mode: run.mode,
      url: target.url,
      appid: ctx.fixtures.appid,
      key: ctx.fixtures.key,
      databaseUrl: ctx.databaseUrl,
      uids: run.uids,
      batch: run.batch,
      concurrency: run.concurrency,
      firstClient,
      clients,
      warmupMs,
      durationMs,
    };
    return { worker: workers[i] as WorkerProcess, params };
  });
  await Promise.all(used.map(({ worker, params }) => worker.request('prepare', params, 60_000)));
  // Measure CPU and waits over the measured window only, not the warm-up.
  const meters = new Promise<{ cpu: CpuSplit; waits: WaitProfile }>((resolve, reject) => {
    setTimeout(() => {
      void (async () => {
        const windowStart = performance.now() - ctx.server.spawnedAt;
        const stopCpu = startCpuMeter({ server: target.pid, postmaster: ctx.postmasterPid, clients: ctx.clientPids });
        const stopWaits = await startWaitSampler(ctx.databaseUrl);
        await new Promise((r) => setTimeout(r, Math.max(0, durationMs - 300)));
        const cpu = stopCpu();
        if (run.mode === 'http' && target.pid === ctx.server.pid) ctx.profileWindows.push([windowStart, performance.now() - ctx.server.spawnedAt]);
        resolve({ cpu, waits: await stopWaits() });
      })().catch(reject);
    }, warmupMs + 100);
  });
  let results: IngestResult[];
  try {
    results = await Promise.all(used.map(({ worker }) => worker.request<IngestResult>('run', {}, warmupMs + durationMs + 90_000)));
  } finally {
    await Promise.all(used.map(({ worker }) => worker.request('close', {}, 30_000).catch(() => undefined)));
  }
  const { cpu, waits } = await meters;
  const seconds = durationMs / 1000;
  const latencies = sortNumbers(results.flatMap((r) => [...r.latencies]));
  const errors: Record<string, number> = {};
  for (const r of results) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
  return {
    notificationsPerSecond: results.reduce((a, r) => a + r.notifications, 0) / seconds,
    requestsPerSecond: results.reduce((a, r) => a + r.requests, 0) / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    errors,
    cpu,
    waits,
  };
}
