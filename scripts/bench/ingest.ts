/**
 * Ingest: notifications per second through `POST /<appid>/notification`
 * (the service) against the same insert-then-prune transaction sent straight
 * to PostgreSQL (the ceiling), at the same concurrency, for each batch size.
 * Both sides run from the same client processes with the same batches, each
 * after a reset of the queues, with a warm-up that is not measured.
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
}

export interface IngestOutcome {
  rows: IngestRow[];
  loadWorkers: number;
}

export async function runIngest(ctx: BenchContext): Promise<IngestOutcome> {
  const s = ctx.settings;
  const uids = ctx.fixtures.people.slice(0, s.uids).map((p) => p.uid);
  const workers = Array.from({ length: s.loadWorkers }, (_, i) => ctx.track(new WorkerProcess('loadWorker.ts', `load ${i + 1}`, ctx.log)));
  const rows: IngestRow[] = [];
  try {
    for (const batch of s.batches) {
      for (const concurrency of s.concurrency) {
        const base = { uids, batch, concurrency };
        ctx.log(`ingest: batch ${batch}, concurrency ${concurrency}: service…`);
        const service = await side(ctx, workers, { ...base, mode: 'http' });
        ctx.log(
          `  service ${fmt(service.notificationsPerSecond)} notifications/s (p50 ${fmt(service.p50)} ms, p99 ${fmt(service.p99)} ms); ${formatCpu(service.cpu)}; ${formatWaits(service.waits)}`,
        );
        ctx.log(`ingest: batch ${batch}, concurrency ${concurrency}: ceiling…`);
        const ceiling = await side(ctx, workers, { ...base, mode: 'pg' });
        ctx.log(
          `  ceiling ${fmt(ceiling.notificationsPerSecond)} notifications/s (p50 ${fmt(ceiling.p50)} ms, p99 ${fmt(ceiling.p99)} ms); ${formatCpu(ceiling.cpu)}; ${formatWaits(ceiling.waits)}`,
        );
        rows.push({ batch, concurrency, service, ceiling });
      }
    }
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
  return { rows, loadWorkers: s.loadWorkers };
}

async function side(
  ctx: BenchContext,
  workers: WorkerProcess[],
  run: { uids: string[]; batch: number; concurrency: number; mode: 'http' | 'pg' },
): Promise<SideResult> {
  const s = ctx.settings;
  await resetQueues(ctx.db);
  const shares = splitClients(run.concurrency, workers.length);
  const warmupMs = s.warmupSeconds * 1000;
  const durationMs = s.ingestSeconds * 1000;
  const used = shares.map(([firstClient, clients], i) => {
    const params: IngestParams = {
      mode: run.mode,
      url: ctx.server.url,
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
        const stopCpu = startCpuMeter({ server: ctx.server.pid, postmaster: ctx.postmasterPid, clients: ctx.clientPids });
        const stopWaits = await startWaitSampler(ctx.databaseUrl);
        await new Promise((r) => setTimeout(r, Math.max(0, durationMs - 300)));
        const cpu = stopCpu();
        if (run.mode === 'http') ctx.profileWindows.push([windowStart, performance.now() - ctx.server.spawnedAt]);
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
