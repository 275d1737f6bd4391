/**
 * Reconnect storm: N daemons, each with a full queue (100 items), all connect
 * at once — what a node sees after a restart or a network blip. Each daemon
 * receives its backlog and acknowledges it, as the real daemon does, retrying
 * a failed connection with the daemon's backoff (0.5 s doubling, jitter).
 * Measured: until every daemon has its backlog, and until every queue is
 * empty again, read from PostgreSQL (items and queue sizes both 0).
 *
 * The queues are filled with SQL beforehand (same rows and sizes the push
 * transaction would leave): filling N × 100 items through the REST route
 * would take minutes and is not what this phase measures.
 */
import { WorkerProcess } from './clients/ipc.ts';
import type { ConnectParams, ConnectResult, WorkerStatus } from './clients/daemonWorker.ts';
import type { BenchContext } from './context.ts';
import { resetQueues } from './fixtures.ts';
import { formatCpu, rssBytes, startCpuMeter, tcpListenCounters, type CpuSplit } from './proc.ts';
import { scrapeMetrics } from './serverMetrics.ts';
import { fmt, fmtBytes } from './stats.ts';
import { formatWaits, startWaitSampler, type WaitProfile } from './waits.ts';

export interface StormResult {
  daemons: number;
  items: number;
  /** Seconds from the start until every daemon that made it had its backlog. */
  allConnectedSeconds: number;
  /** Seconds from the start until no item and no queue size was left, or NaN if not within the timeout. */
  drainedSeconds: number;
  remainingItems: number;
  established: number;
  failed: number;
  retried: number;
  errors: Record<string, number>;
  backlogItemsReceived: number;
  ackedItems: number;
  /** Ack calls the server failed (retried by the benchmark daemons; a real daemon would wait for its next connection). */
  ackFailures: number;
  ackFailureReasons: Record<string, number>;
  /** Connection attempts refused as UNAUTHORIZED although every token is valid (a real daemon exits on this). */
  unauthorized: number;
  waits: WaitProfile;
  /** Machine-wide accept-queue overflows (dropped SYNs) and SYN cookies during the storm. */
  listenOverflows: number;
  syncookiesSent: number;
  peakRss: number;
  cpu: CpuSplit;
  fillSeconds: number;
  client: 'trpc' | 'raw';
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Connection rows after a mass disconnect. */
export interface Leftovers {
  /** Rows left once the server had closed every socket and the rows stopped changing: closes whose write failed. */
  afterClose: number;
  /** Of those, rows still there 15 s later, i.e. after at least one heartbeat (every 10 s) of the node. */
  afterHeartbeat: number;
  /** The server's worst event-loop lag meanwhile. */
  loopLagMaxMs: number;
}

/**
 * Waits (bounded) until the previous phase is really over: the server has no
 * daemon socket left (its own metric) and the `connections` rows stopped
 * changing. Rows left then belong to no socket: devices shown online with
 * nothing connected. They are given one heartbeat period to go away, counted,
 * and removed so the next phase starts clean (the bench owns this database).
 */
export async function waitForNoConnections(ctx: BenchContext, timeoutMs: number): Promise<Leftovers> {
  const countRows = async () => (await ctx.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM connections')).rows[0]?.n ?? 0;
  let rows = -1;
  let stableSince = Date.now();
  let sockets = Number.NaN;
  // Every scrape resets the server's event-loop lag window: keep the worst seen.
  let loopLagMaxMs = 0;
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(500)) {
    const n = await countRows();
    if (n !== rows) {
      rows = n;
      stableSince = Date.now();
    }
    const metrics = await scrapeMetrics(ctx.server.url);
    sockets = metrics.connected;
    if (Number.isFinite(metrics.loopLagMax)) loopLagMaxMs = Math.max(loopLagMaxMs, metrics.loopLagMax * 1000);
    if (sockets === 0 && (rows === 0 || Date.now() - stableSince > 3_000)) break;
  }
  const afterClose = Math.max(0, rows);
  let afterHeartbeat = afterClose;
  for (const deadline = Date.now() + 15_000; afterHeartbeat > 0 && Date.now() < deadline; await sleep(1_000)) afterHeartbeat = await countRows();
  if (afterClose > 0) {
    const note =
      `${afterClose} \`connections\` rows outlived their sockets (${Number.isNaN(sockets) ? '?' : sockets} sockets open on the server); ` +
      `${afterHeartbeat} were still there 15 s later (after the node's heartbeat)`;
    ctx.log(`  warning: ${note}`);
    ctx.notes.push(note);
    if (afterHeartbeat > 0) await ctx.db.pool.query('DELETE FROM connections');
  }
  return { afterClose, afterHeartbeat, loopLagMaxMs };
}

async function fillQueues(ctx: BenchContext, uids: string[]): Promise<number> {
  const started = performance.now();
  // In slices, so no single statement runs for long.
  for (let i = 0; i < uids.length; i += 2_000) {
    const slice = uids.slice(i, i + 2_000);
    await ctx.db.pool.query(
      `INSERT INTO queue_items (uid, app_id, message, action)
       SELECT q.uid, q.app_id, 'Someone wants you to join room ' || g || ' (storm)', 'https://chat.example/#room/' || g
         FROM unnest($1::text[]) WITH ORDINALITY AS u(uid, n)
         JOIN queues q ON q.uid = u.uid
         CROSS JOIN generate_series(1, 100) AS g
        ORDER BY u.n, g`,
      [slice],
    );
    await ctx.db.pool.query('UPDATE queues SET size = 100 WHERE uid = ANY($1::text[])', [slice]);
  }
  await ctx.db.pool.query('VACUUM ANALYZE queue_items, queues');
  return (performance.now() - started) / 1000;
}

async function remaining(ctx: BenchContext): Promise<{ items: number; sizes: number }> {
  const { rows } = await ctx.db.pool.query<{ items: number; sizes: number }>(
    'SELECT (SELECT count(*) FROM queue_items)::int AS items, (SELECT coalesce(sum(size), 0) FROM queues)::int AS sizes',
  );
  return rows[0] ?? { items: -1, sizes: -1 };
}

export async function runStorm(ctx: BenchContext, daemons: number): Promise<StormResult> {
  const s = ctx.settings;
  const people = ctx.fixtures.people.slice(0, daemons);
  await waitForNoConnections(ctx, 60_000);
  await resetQueues(ctx.db);
  ctx.log(`storm: filling ${people.length} queues with 100 items each…`);
  const fillSeconds = await fillQueues(
    ctx,
    people.map((p) => p.uid),
  );
  const before = await remaining(ctx);
  ctx.log(`  ${before.items} items queued in ${fmt(fillSeconds)} s`);

  const workers = Array.from({ length: s.clientProcesses }, (_, i) => ctx.track(new WorkerProcess('daemonWorker.ts', `storm ${i + 1}`, ctx.log)));
  try {
    // Make sure every client process is loaded before the clock starts.
    await Promise.all(workers.map((w) => w.request('status', {}, 30_000)));
    await sleep(1_000);
    const timeoutMs = s.stormTimeoutSeconds * 1000;
    const stopWaits = await startWaitSampler(ctx.databaseUrl);
    const stopCpu = startCpuMeter({ server: ctx.server.pid, postmaster: ctx.postmasterPid, clients: ctx.clientPids });
    const tcpBefore = tcpListenCounters();
    const t0 = performance.timeOrigin + performance.now();
    ctx.log(`storm: ${people.length} daemons connect at once…`);
    const connecting = Promise.all(
      workers.map((w, i) =>
        w.request<ConnectResult>(
          'connect',
          {
            server: ctx.server.url,
            tokens: people.filter((_, k) => k % workers.length === i).map((p) => p.token),
            kind: s.capacityClient,
            maxPending: 0,
            retries: 8,
            attemptTimeoutMs: 60_000,
            deadlineMs: timeoutMs,
          } satisfies ConnectParams,
          timeoutMs + 60_000,
        ),
      ),
    );
    let drainedSeconds = Number.NaN;
    let peakRss = 0;
    let left = before;
    let lastLog = 0;
    // Poll until drained or timed out (bounded by the timeout).
    for (;;) {
      peakRss = Math.max(peakRss, rssBytes(ctx.server.pid) ?? 0);
      left = await remaining(ctx);
      const elapsed = (performance.timeOrigin + performance.now() - t0) / 1000;
      if (left.items === 0 && left.sizes === 0) {
        drainedSeconds = elapsed;
        break;
      }
      if (elapsed * 1000 > timeoutMs || ctx.server.exited()) break;
      if (elapsed - lastLog >= 5) {
        lastLog = elapsed;
        ctx.log(`  ${fmt(elapsed)} s: ${left.items} items left (sizes ${left.sizes}); server RSS ${fmtBytes(peakRss)}`);
      }
      await sleep(250);
    }
    const cpu = stopCpu();
    const waits = await stopWaits();
    const tcpAfter = tcpListenCounters();
    const results = await connecting;
    const statuses = await Promise.all(workers.map((w) => w.request<WorkerStatus>('status', {}, 30_000)));
    const lastReady = Math.max(...results.map((r) => r.startedAt + r.elapsedMs));
    const errors: Record<string, number> = {};
    for (const r of results) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
    const ackFailureReasons: Record<string, number> = {};
    for (const st of statuses) for (const [k, v] of Object.entries(st.ackFailureReasons)) ackFailureReasons[k] = (ackFailureReasons[k] ?? 0) + v;
    const result: StormResult = {
      daemons: people.length,
      items: before.items,
      allConnectedSeconds: (lastReady - t0) / 1000,
      drainedSeconds,
      remainingItems: left.items,
      established: results.reduce((a, r) => a + r.established, 0),
      failed: results.reduce((a, r) => a + r.failed, 0),
      retried: results.reduce((a, r) => a + r.retried, 0),
      errors,
      backlogItemsReceived: statuses.reduce((a, st) => a + st.backlogItems, 0),
      ackedItems: statuses.reduce((a, st) => a + st.ackedItems, 0),
      ackFailures: statuses.reduce((a, st) => a + st.ackFailures, 0),
      ackFailureReasons,
      unauthorized: Object.entries(errors)
        .filter(([k]) => k.startsWith('UNAUTHORIZED'))
        .reduce((a, [, v]) => a + v, 0),
      waits,
      listenOverflows: tcpAfter.listenOverflows - tcpBefore.listenOverflows,
      syncookiesSent: tcpAfter.syncookiesSent - tcpBefore.syncookiesSent,
      peakRss,
      cpu,
      fillSeconds,
      client: s.capacityClient,
    };
    ctx.log(
      `  ${result.established}/${result.daemons} connected by ${fmt(result.allConnectedSeconds)} s (${result.retried} retries, ${result.failed} failed); ` +
        `drained ${Number.isNaN(drainedSeconds) ? `NOT within ${s.stormTimeoutSeconds} s (${left.items} items left)` : `in ${fmt(drainedSeconds)} s`}; ` +
        `${result.unauthorized} refused as UNAUTHORIZED, ${result.ackFailures} failed acks; ` +
        `${result.listenOverflows} accept-queue overflows, ${result.syncookiesSent} SYN cookies (machine-wide); ${formatCpu(cpu)}; ${formatWaits(waits, 3, true)}`,
    );
    return result;
  } finally {
    // The last phase: the server is stopped next, so no need to wait for its rows to clear.
    await Promise.all(workers.map((w) => w.request('closeAll', {}, 60_000).catch(() => undefined)));
    await Promise.all(workers.map((w) => w.stop()));
  }
}
