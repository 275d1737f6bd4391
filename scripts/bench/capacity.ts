/**
 * Capacity: how many idle daemons one node holds, stepping up until it bends
 * (a connection fails or drops, or the step does not complete in time) or the
 * top step is reached, and what each connection costs the server in memory
 * (RSS growth from /proc/<pid>/status divided by connections). A bare `ws`
 * server measured the same way, in the same run, is the baseline.
 *
 * Connections are spread over several client processes because each process
 * (the server included) has a 20,000 open-files limit; the server's limit is
 * what caps the top step below 20,000.
 */
import { WorkerProcess } from './clients/ipc.ts';
import type { ConnectParams, ConnectResult, WorkerStatus } from './clients/daemonWorker.ts';
import type { BenchContext } from './context.ts';
import { resetQueues } from './fixtures.ts';
import { formatCpu, rssBytes, startCpuMeter, type CpuSplit } from './proc.ts';
import { fmt, fmtBytes } from './stats.ts';
import { scrapeMetrics } from './serverMetrics.ts';
import { formatWaits, startWaitSampler, type WaitProfile } from './waits.ts';
import { waitForNoConnections } from './storm.ts';
import { startWriteMeter, type WriteRate } from './dbWrites.ts';

/** How long the database's writes are counted while the top step's daemons sit idle: several heartbeats (10 s each). */
const IDLE_WRITES_SECONDS = { quick: 20, normal: 30 };

export interface CapacityStep {
  target: number;
  open: number;
  failed: number;
  lost: number;
  /** Seconds to open this step's new connections (until the last backlog). */
  connectSeconds: number;
  rss: number;
  /** (RSS − RSS before the first step) / open connections. */
  perConnection: number;
  /** V8 heap in use and daemons connected, as the server's own /metrics says. */
  heapUsed: number;
  serverConnected: number;
  /** Server and PostgreSQL CPU while holding the step's connections idle. */
  idleCpu: CpuSplit;
  errors: Record<string, number>;
}

export interface CapacityResult {
  client: 'trpc' | 'raw';
  clientProcesses: number;
  rssBefore: number;
  heapBefore: number;
  steps: CapacityStep[];
  /** Most connections held with none failed or dropped. */
  held: number;
  /** Why stepping stopped early, or null when the top step held. */
  bent: string | null;
  baseline: { connections: number; open: number; rssBefore: number; rssAfter: number; perConnection: number } | null;
  /** When every daemon disconnects at once: the server's worst event-loop lag, and connection rows left behind. */
  massDisconnect: { daemons: number; loopLagMaxMs: number; rowsAfterClose: number; rowsAfterHeartbeat: number; waits: WaitProfile } | null;
  /** What holding the last step's daemons idle costs the database: transactions and rows written per second. */
  idleWrites: { daemons: number; rate: WriteRate } | null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function sumStatus(workers: WorkerProcess[]): Promise<{ open: number; lost: number; reasons: Record<string, number> }> {
  const all = await Promise.all(workers.map((w) => w.request<WorkerStatus>('status', {}, 30_000)));
  const reasons: Record<string, number> = {};
  for (const s of all) for (const [k, v] of Object.entries(s.lostReasons)) reasons[k] = (reasons[k] ?? 0) + v;
  return { open: all.reduce((a, s) => a + s.open, 0), lost: all.reduce((a, s) => a + s.lost, 0), reasons };
}

function mergeErrors(results: ConnectResult[]): Record<string, number> {
  const errors: Record<string, number> = {};
  for (const r of results) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
  return errors;
}

export async function runCapacity(ctx: BenchContext): Promise<CapacityResult> {
  const s = ctx.settings;
  await resetQueues(ctx.db);
  const workers = Array.from({ length: s.clientProcesses }, (_, i) => ctx.track(new WorkerProcess('daemonWorker.ts', `daemons ${i + 1}`, ctx.log)));
  const result: CapacityResult = {
    client: s.capacityClient,
    clientProcesses: workers.length,
    rssBefore: 0,
    heapBefore: 0,
    steps: [],
    held: 0,
    bent: null,
    baseline: null,
    massDisconnect: null,
    idleWrites: null,
  };
  try {
    result.baseline = await measureBaseline(ctx, workers);

    await sleep(2_000);
    result.rssBefore = rssBytes(ctx.server.pid) ?? Number.NaN;
    result.heapBefore = (await scrapeMetrics(ctx.server.url)).heapUsed;
    ctx.log(`capacity: server RSS before ${fmtBytes(result.rssBefore)}`);
    let connected = 0;
    for (const target of s.capacitySteps) {
      if (target > ctx.fixtures.people.length) break;
      const fresh = ctx.fixtures.people.slice(connected, target);
      ctx.log(`capacity: step to ${target} daemons (+${fresh.length})…`);
      // Paced handshakes (200 in flight per process): this phase measures holding, the storm measures rushing.
      const deadlineMs = Math.max(60_000, fresh.length * 20);
      const shares = workers.map((_, w) => fresh.filter((_, i) => i % workers.length === w).map((p) => p.token));
      const results = await Promise.all(
        workers.map((w, i) =>
          w.request<ConnectResult>(
            'connect',
            {
              server: ctx.server.url,
              tokens: shares[i] as string[],
              kind: s.capacityClient,
              maxPending: 200,
              retries: 2,
              attemptTimeoutMs: 30_000,
              deadlineMs,
            } satisfies ConnectParams,
            deadlineMs + 60_000,
          ),
        ),
      );
      const connectSeconds = Math.max(...results.map((r) => r.elapsedMs)) / 1000;
      const failed = results.reduce((a, r) => a + r.failed, 0);
      connected = target;
      // Hold them idle, measuring what holding costs.
      const stopCpu = startCpuMeter({ server: ctx.server.pid, postmaster: ctx.postmasterPid, clients: ctx.clientPids });
      await sleep(s.settleSeconds * 1000);
      const idleCpu = stopCpu();
      const status = await sumStatus(workers);
      const rss = rssBytes(ctx.server.pid) ?? Number.NaN;
      const metrics = await scrapeMetrics(ctx.server.url);
      const step: CapacityStep = {
        target,
        open: status.open,
        failed,
        lost: status.lost,
        connectSeconds,
        rss,
        perConnection: status.open > 0 ? (rss - result.rssBefore) / status.open : Number.NaN,
        heapUsed: metrics.heapUsed,
        serverConnected: metrics.connected,
        idleCpu,
        errors: { ...mergeErrors(results), ...status.reasons },
      };
      result.steps.push(step);
      ctx.log(
        `  ${status.open}/${target} open (${failed} failed, ${status.lost} dropped) in ${fmt(connectSeconds)} s; server RSS ${fmtBytes(rss)}, ` +
          `${fmtBytes(step.perConnection)}/connection (V8 heap ${fmtBytes((metrics.heapUsed - result.heapBefore) / Math.max(1, status.open))}/connection); ` +
          `server counts ${metrics.connected}; idle ${formatCpu(idleCpu)}`,
      );
      if (ctx.server.exited()) {
        result.bent = `server exited at ${target}`;
        break;
      }
      if (failed > 0 || status.lost > 0 || status.open < target) {
        result.bent = `at ${target}: ${failed} failed, ${status.lost} dropped (${Object.entries(step.errors)
          .map(([k, v]) => `${k} ×${v}`)
          .join('; ')})`;
        break;
      }
      result.held = status.open;
    }
    const idle = result.steps.at(-1)?.open ?? 0;
    if (idle > 0 && !ctx.server.exited()) {
      const seconds = s.quick ? IDLE_WRITES_SECONDS.quick : IDLE_WRITES_SECONDS.normal;
      ctx.log(`capacity: counting database writes for ${seconds} s with ${idle} idle daemons…`);
      const stopWrites = await startWriteMeter(ctx.db);
      await sleep(seconds * 1000);
      const rate = await stopWrites();
      result.idleWrites = { daemons: idle, rate };
      ctx.log(`  ${fmt(rate.rowsPerSecond)} rows written/s, ${fmt(rate.commitsPerSecond)} commits/s`);
    }
  } finally {
    ctx.log('capacity: all daemons disconnect at once…');
    const daemons = result.steps.at(-1)?.open ?? 0;
    await scrapeMetrics(ctx.server.url); // resets the event-loop lag window
    const stopWaits = await startWaitSampler(ctx.databaseUrl);
    await Promise.all(workers.map((w) => w.request('closeAll', {}, 60_000).catch(() => undefined)));
    await Promise.all(workers.map((w) => w.stop()));
    const left = await waitForNoConnections(ctx, 120_000);
    const waits = await stopWaits();
    result.massDisconnect = { daemons, loopLagMaxMs: left.loopLagMaxMs, rowsAfterClose: left.afterClose, rowsAfterHeartbeat: left.afterHeartbeat, waits };
    ctx.log(
      `  server event-loop lag max ${fmt(left.loopLagMaxMs)} ms while ${daemons} daemons disconnected; ` +
        `${left.afterClose} rows outlived their sockets, ${left.afterHeartbeat} after a heartbeat; ${formatWaits(waits, 3, true)}`,
    );
  }
  return result;
}

/** The same measurement against a bare `ws` server, with the same client processes. */
async function measureBaseline(ctx: BenchContext, workers: WorkerProcess[]): Promise<CapacityResult['baseline']> {
  const count = ctx.settings.baselineConnections;
  if (count === 0) return null;
  const bare = ctx.track(new WorkerProcess('bareWsServer.ts', 'bare ws server', ctx.log));
  try {
    const { url, pid } = await bare.request<{ url: string; pid: number }>('listen', {}, 30_000);
    await sleep(2_000);
    const rssBefore = rssBytes(pid) ?? Number.NaN;
    ctx.log(`baseline: ${count} connections to a bare ws server (RSS before ${fmtBytes(rssBefore)})…`);
    const tokens = Array.from({ length: count }, () => '');
    const shares = workers.map((_, w) => tokens.filter((_, i) => i % workers.length === w));
    await Promise.all(
      workers.map((w, i) =>
        w.request<ConnectResult>(
          'connect',
          {
            server: url,
            tokens: shares[i] as string[],
            kind: 'bare',
            maxPending: 200,
            retries: 2,
            attemptTimeoutMs: 30_000,
            deadlineMs: 120_000,
          } satisfies ConnectParams,
          180_000,
        ),
      ),
    );
    await sleep(ctx.settings.settleSeconds * 1000);
    const open = (await bare.request<{ count: number }>('connections', {}, 10_000)).count;
    const rssAfter = rssBytes(pid) ?? Number.NaN;
    const perConnection = open > 0 ? (rssAfter - rssBefore) / open : Number.NaN;
    ctx.log(`  ${open} open; RSS ${fmtBytes(rssAfter)}, ${fmtBytes(perConnection)}/connection`);
    await Promise.all(workers.map((w) => w.request('closeAll', {}, 60_000)));
    await Promise.all(workers.map((w) => w.request('resetCounters', {}, 10_000)));
    return { connections: count, open, rssBefore, rssAfter, perConnection };
  } finally {
    await bare.stop();
  }
}
