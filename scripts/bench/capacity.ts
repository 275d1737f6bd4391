/**
 * Capacity: how many idle daemons one node holds, stepping up until it bends
 * (a connection fails or drops, or the step does not complete in time) or the
 * top step is reached, and what each connection costs the server in memory
 * (RSS growth from /proc/<pid>/status divided by connections, each RSS read
 * right after a full garbage collection). A bare `ws` server measured the
 * same way, in the same run, is the baseline.
 *
 * Connections are spread over several client processes because each process
 * (the server included) has a 20,000 open-files limit; the server's limit is
 * what caps the top step below 20,000. With BENCH_CAPACITY_NODES > 1 the
 * daemons are spread over that many nodes on the same PostgreSQL
 * (capacityNodes.ts), and the figures are summed over them, each node's apart.
 */
import { WorkerProcess } from './clients/ipc.ts';
import type { ConnectParams, ConnectResult, WorkerStatus } from './clients/daemonWorker.ts';
import type { BenchContext } from './context.ts';
import { resetQueues } from './fixtures.ts';
import { formatCpu, rssBytes, type CpuSplit } from './proc.ts';
import { seedDevices, startNodes, startNodesCpuMeter } from './capacityNodes.ts';
import type { BenchServer } from './server.ts';
import { fmt, fmtBytes } from './stats.ts';
import { scrapeMetrics, type ServerMetrics } from './serverMetrics.ts';
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
  /** Summed over the nodes. */
  rss: number;
  /** (RSS − RSS before the first step) / open connections, over all nodes. */
  perConnection: number;
  /** V8 heap in use and daemons connected, as the servers' own /metrics say (summed). */
  heapUsed: number;
  /** (heap in use − heap before the first step) / open connections, over all nodes. */
  heapPerConnection: number;
  serverConnected: number;
  /** Server (all nodes) and PostgreSQL CPU while holding the step's connections idle. */
  idleCpu: CpuSplit;
  /** Each node's figures when there are several. */
  nodes: NodeFigures[];
  errors: Record<string, number>;
}

export interface NodeFigures {
  /** Daemons it counts (its /metrics). */
  connected: number;
  rss: number;
  perConnection: number;
  heapPerConnection: number;
  /** % of one core while idle. */
  cpu: number;
}

export interface CapacityResult {
  client: 'trpc' | 'raw';
  clientProcesses: number;
  nodes: number;
  /** Summed over the nodes. */
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
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

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
    nodes: s.capacityNodes,
    rssBefore: 0,
    heapBefore: 0,
    steps: [],
    held: 0,
    bent: null,
    baseline: null,
    massDisconnect: null,
    idleWrites: null,
  };
  let nodes: BenchServer[] = [ctx.server];
  try {
    result.baseline = await measureBaseline(ctx, workers);
    let tokens = ctx.fixtures.people.map((p) => p.token);
    if (s.capacityNodes > 1) {
      tokens = await seedDevices(ctx.db, Math.max(...s.capacitySteps), ctx.log);
      nodes = await startNodes(ctx, s.capacityNodes);
    }

    await sleep(2_000);
    await Promise.all(nodes.map((node) => node.collectGarbage()));
    const rssBefore = nodes.map((node) => rssBytes(node.pid) ?? Number.NaN);
    const heapBefore = (await Promise.all(nodes.map((node) => scrapeMetrics(node.url)))).map((m) => m.heapUsed);
    result.rssBefore = sum(rssBefore);
    result.heapBefore = sum(heapBefore);
    ctx.log(`capacity: server RSS before ${fmtBytes(result.rssBefore)}${nodes.length > 1 ? ` (${nodes.length} nodes)` : ''}`);
    let connected = 0;
    for (const target of s.capacitySteps) {
      if (target > tokens.length) break;
      ctx.log(`capacity: step to ${target} daemons (+${target - connected})…`);
      // Daemon i goes to node i mod nodes, from client process i mod processes. Paced handshakes (200 in
      // flight per process): this phase measures holding, the storm measures rushing.
      const deadlineMs = Math.max(60_000, (target - connected) * 20);
      const shares = workers.map(() => nodes.map((): string[] => []));
      for (let i = connected; i < target; i++) shares[i % workers.length]?.[i % nodes.length]?.push(tokens[i] as string);
      const results = await Promise.all(
        workers.flatMap((w, wi) =>
          nodes.map((node, ni) =>
            w.request<ConnectResult>(
              'connect',
              {
                server: node.url,
                tokens: shares[wi]?.[ni] ?? [],
                kind: s.capacityClient,
                maxPending: Math.ceil(200 / nodes.length),
                retries: 2,
                attemptTimeoutMs: 30_000,
                deadlineMs,
              } satisfies ConnectParams,
              deadlineMs + 60_000,
            ),
          ),
        ),
      );
      const connectSeconds = Math.max(...results.map((r) => r.elapsedMs)) / 1000;
      const failed = results.reduce((a, r) => a + r.failed, 0);
      connected = target;
      // Hold them idle, measuring what holding costs.
      const stopCpu = startNodesCpuMeter(ctx, nodes);
      await sleep(s.settleSeconds * 1000);
      const idle = stopCpu();
      const status = await sumStatus(workers);
      await Promise.all(nodes.map((node) => node.collectGarbage()));
      const rss = nodes.map((node) => rssBytes(node.pid) ?? Number.NaN);
      const metrics = await Promise.all(nodes.map((node) => scrapeMetrics(node.url)));
      const heapUsed = sum(metrics.map((m) => m.heapUsed));
      const step: CapacityStep = {
        target,
        open: status.open,
        failed,
        lost: status.lost,
        connectSeconds,
        rss: sum(rss),
        perConnection: status.open > 0 ? (sum(rss) - result.rssBefore) / status.open : Number.NaN,
        heapUsed,
        heapPerConnection: status.open > 0 ? (heapUsed - result.heapBefore) / status.open : Number.NaN,
        serverConnected: sum(metrics.map((m) => m.connected)),
        idleCpu: idle.cpu,
        nodes:
          nodes.length > 1
            ? nodes.map((_, i) => {
                const m = metrics[i] as ServerMetrics;
                const per = (grown: number) => (m.connected > 0 ? grown / m.connected : Number.NaN);
                return {
                  connected: m.connected,
                  rss: rss[i] as number,
                  perConnection: per((rss[i] as number) - (rssBefore[i] as number)),
                  heapPerConnection: per(m.heapUsed - (heapBefore[i] as number)),
                  cpu: idle.perNode[i] as number,
                };
              })
            : [],
        errors: { ...mergeErrors(results), ...status.reasons },
      };
      result.steps.push(step);
      ctx.log(
        `  ${status.open}/${target} open (${failed} failed, ${status.lost} dropped) in ${fmt(connectSeconds)} s; server RSS ${fmtBytes(step.rss)}, ` +
          `${fmtBytes(step.perConnection)}/connection (V8 heap ${fmtBytes(step.heapPerConnection)}/connection); ` +
          `server counts ${step.serverConnected}; idle ${formatCpu(idle.cpu)}`,
      );
      for (const [i, n] of step.nodes.entries())
        ctx.log(
          `    node ${i + 1}: ${n.connected} daemons, RSS ${fmtBytes(n.rss)}, ${fmtBytes(n.perConnection)}/connection ` +
            `(V8 heap ${fmtBytes(n.heapPerConnection)}), CPU ${n.cpu.toFixed(0)}%`,
        );
      const gone = nodes.findIndex((node) => node.exited());
      if (gone >= 0) {
        result.bent = `node ${gone + 1} exited at ${target}`;
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
    if (idle > 0 && !nodes.some((node) => node.exited())) {
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
    await Promise.all(nodes.slice(1).map((node) => node.stop()));
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
    await bare.request('collectGarbage', {}, 30_000);
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
    await bare.request('collectGarbage', {}, 30_000);
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
