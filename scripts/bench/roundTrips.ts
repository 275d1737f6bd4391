/**
 * The profile of a delivered notification: how many statements (round trips to
 * PostgreSQL) the node sends per item delivered and acked, by statement, under
 * the latency workload (single POSTs at a steady rate to connected daemons
 * that ack every item), with the node's CPU and PostgreSQL's per item, the
 * latter by process (the pool's connections, the LISTEN connection, the
 * background processes). Not part of `npm run bench`; run it on its own:
 *
 *   node --import tsx scripts/bench/roundTrips.ts            # 300/s for 10 s to 300 daemons
 *   BENCH_LATENCY_RATES=500 BENCH_LATENCY_DAEMONS=1000 node --import tsx scripts/bench/roundTrips.ts
 *
 * Uses the benchmark's settings (scripts/bench/settings.ts): the first rate of
 * BENCH_LATENCY_RATES, BENCH_LATENCY_SECONDS, BENCH_LATENCY_DAEMONS,
 * BENCH_LATENCY_BATCH (notifications per POST, 1 by default).
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectDatabase, type Database } from '../../src/server/platform/db/client.ts';
import { WorkerProcess } from './clients/ipc.ts';
import type { ConnectResult, WorkerStatus } from './clients/daemonWorker.ts';
import type { PacedParams, PacedResult } from './clients/loadWorker.ts';
import { seed } from './fixtures.ts';
import { startBenchPostgres } from './postgres.ts';
import { clusterCpuByProcess, postmasterPid, startCpuMeter } from './proc.ts';
import { formatProfile, summariseProfile } from './profile.ts';
import { startBenchServer } from './server.ts';
import { loadSettings } from './settings.ts';
import { fmt } from './stats.ts';

const log = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const settings = loadSettings({ BENCH_LATENCY_RATES: '300', BENCH_LATENCY_DAEMONS: '300', BENCH_LATENCY_SECONDS: '10', ...process.env }, []);
  const rate = settings.latencyRates[0] as number;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'presence-roundtrips-'));
  const countFile = path.join(dir, 'counts.json');
  const postgres = await startBenchPostgres(log);
  const db = connectDatabase({ url: postgres.url, poolSize: 10 });
  const workers: WorkerProcess[] = [];
  // Only the server gets the counter, through its arguments: in NODE_OPTIONS a `next build` would inherit it,
  // and tsx, imported twice, kept a server with a cold transform cache from starting.
  // BENCH_PROFILE=1: a CPU profile of the node, summarised over the sending window.
  const server = await startBenchServer({
    databaseUrl: postgres.url,
    log,
    preload: [fileURLToPath(new URL('queryCounter.ts', import.meta.url))],
    env: { BENCH_QUERY_COUNT_FILE: countFile },
    ...(settings.profile ? { cpuProfDir: dir } : {}),
  });
  const snapshot = async (): Promise<Map<string, number>> => {
    await rm(countFile, { force: true });
    process.kill(server.pid, 'SIGUSR2');
    for (;;) {
      try {
        return new Map(Object.entries(JSON.parse(await readFile(countFile, 'utf8')) as Record<string, number>));
      } catch {
        await sleep(50);
      }
    }
  };
  try {
    const fixtures = await seed(db, settings.latencyDaemons, 16, log);
    const daemons = new WorkerProcess('daemonWorker.ts', 'daemons', log);
    const sender = new WorkerProcess('loadWorker.ts', 'sender', log);
    workers.push(daemons, sender);
    const connected = await daemons.request<ConnectResult>(
      'connect',
      {
        server: server.url,
        tokens: fixtures.people.map((p) => p.token),
        kind: settings.latencyClient,
        maxPending: 100,
        retries: 2,
        attemptTimeoutMs: 30_000,
        deadlineMs: 120_000,
      },
      150_000,
    );
    log(`${connected.established} daemons connected; sending ${rate}/s for ${settings.latencySeconds} s…`);
    await sleep(2_000);
    const postmaster = postmasterPid(postgres.clusterDir) as number;
    const pgBefore = clusterCpuByProcess(postmaster);
    const start = await snapshot();
    const windowStart = performance.now() - server.spawnedAt;
    const stopCpu = startCpuMeter({ server: server.pid, postmaster: null, clients: () => [] });
    const paced = await sender.request<PacedResult>(
      'paced',
      {
        url: server.url,
        appid: fixtures.appid,
        key: fixtures.key,
        uids: fixtures.people.map((p) => p.uid),
        rate,
        batch: settings.latencyBatch,
        durationMs: settings.latencySeconds * 1000,
        maxInFlight: 256,
      } satisfies PacedParams,
      settings.latencySeconds * 1000 + 120_000,
    );
    const acked = paced.ackedAt.filter((t) => !Number.isNaN(t)).length;
    for (const deadline = Date.now() + 15_000; Date.now() < deadline; await sleep(250)) {
      if ((await daemons.request<WorkerStatus>('status', {}, 10_000)).liveItems >= acked) break;
    }
    await sleep(1_000); // the daemons' last acks
    const cpu = stopCpu();
    const pgRoles = await postgresCpuByRole(db, postmaster, pgBefore);
    const window: [number, number] = [windowStart, performance.now() - server.spawnedAt];
    const end = await snapshot();
    const received = (await daemons.request<{ tags: Float64Array }>('takeReceipts', {}, 30_000)).tags.length;
    const rows = [...end].map(([k, v]) => [k, v - (start.get(k) ?? 0)] as const).filter(([, n]) => n > 0);
    rows.sort((a, b) => b[1] - a[1]);
    const total = rows.reduce((a, [, n]) => a + n, 0);
    const lines = [
      `${acked} notifications acked to the sender, ${received} received by daemons, at ${rate}/s to ${connected.established} daemons`,
      `node CPU ${fmt(((cpu.server / 100) * cpu.seconds * 1e6) / Math.max(1, received))} µs per delivered item`,
      `statements (round trips to PostgreSQL) per delivered item: ${fmt(total / Math.max(1, received))}`,
      '',
      '| per item | count | statement |',
      '| ---: | ---: | --- |',
      ...rows.map(([k, n]) => `| ${fmt(n / Math.max(1, received))} | ${n} | \`${k.replace(/\|/g, '\\|')}\` |`),
      '',
      `PostgreSQL CPU ${fmt((sumOf(pgRoles.values()) * 1e6) / Math.max(1, received))} µs per delivered item, by process:`,
      '',
      '| µs per item | process |',
      '| ---: | --- |',
      ...[...pgRoles].sort((a, b) => b[1] - a[1]).map(([role, seconds]) => `| ${fmt((seconds * 1e6) / Math.max(1, received))} | ${role} |`),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    if (settings.profile) {
      await server.stop(); // the profile is written when the node exits
      const file = (await readdir(dir)).find((f) => f.endsWith('.cpuprofile'));
      if (file) process.stdout.write(`\n${formatProfile(summariseProfile(path.join(dir, file), [window], 40), 40, 'sending window').join('\n')}\n`);
    }
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await server.stop();
    await db.close();
    await postgres.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

const sumOf = (values: Iterable<number>) => [...values].reduce((a, b) => a + b, 0);

/**
 * PostgreSQL's CPU since `before`, by what each process is: the node's pool
 * connections, its LISTEN connection (which forwards every NOTIFY), and the
 * background processes; processes that exited meanwhile (an idle pool
 * connection closed, an autovacuum worker) under "exited".
 */
async function postgresCpuByRole(db: Database, postmaster: number, before: Map<number, number>): Promise<Map<string, number>> {
  const after = clusterCpuByProcess(postmaster);
  const { rows } = await db.pool.query<{ pid: number; role: string }>(
    `SELECT pid, CASE WHEN backend_type <> 'client backend' THEN backend_type
                      WHEN query ILIKE 'LISTEN%' THEN 'the LISTEN connection'
                      WHEN pid = pg_backend_pid() THEN 'this script'
                      ELSE 'pool connections' END AS role
       FROM pg_stat_activity`,
  );
  const roleOf = new Map(rows.map((r) => [r.pid, r.role]));
  const byRole = new Map<string, number>();
  for (const [pid, seconds] of after) {
    const role = pid === -1 ? 'exited' : pid === postmaster ? 'postmaster' : (roleOf.get(pid) ?? 'other');
    byRole.set(role, (byRole.get(role) ?? 0) + seconds - (before.get(pid) ?? 0));
  }
  // A process that exited is counted whole among the reaped: less what it had used before.
  for (const [pid, seconds] of before) if (!after.has(pid)) byRole.set('exited', (byRole.get('exited') ?? 0) - seconds);
  return byRole;
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    log(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
