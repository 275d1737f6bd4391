/**
 * Benchmark settings: defaults sized so that `npm run bench` finishes in
 * about ten minutes on a 2-core machine, `BENCH_QUICK=1` (or `--quick`) for a
 * run of a couple of minutes while iterating, and one environment variable
 * (or `--name=value` flag) per knob to scale any part up or down.
 *
 *   npm run bench -- --quick --phases=ingest,latency
 *   BENCH_CAPACITY_STEPS=2000,4000 npm run bench
 *
 * More idle daemons than one node holds (each process has 20,000 open files):
 * BENCH_CAPACITY_NODES starts that many node processes on the same PostgreSQL
 * for the capacity phase, and its steps count daemons over all of them (each
 * its own seeded device, one statement per 10,000), e.g.
 *
 *   BENCH_PHASES=capacity BENCH_PEERS=none BENCH_CAPACITY_NODES=6 \
 *     BENCH_CAPACITY_STEPS=50000,100000 BENCH_CLIENT_PROCESSES=8 npm run bench -- --output=none
 *
 * Fan-out: the latency phase ends with one rate at scale, by default 5,000
 * notifications a second in POSTs of 100 (each item for another daemon) to
 * 10,000 daemons (BENCH_SCALE_RATE, BENCH_SCALE_BATCH, BENCH_SCALE_DAEMONS;
 * 0 daemons leaves it out). Its daemons are the lean raw-ws clients: 10,000
 * real @trpc/client clients took three quarters of a core, which the node
 * needs on a 2-core machine. BENCH_LATENCY_BATCH does the same for the
 * phase's other rates, e.g. to look at several rates at scale:
 *
 *   BENCH_PHASES=latency BENCH_PEERS=none BENCH_SCALE_DAEMONS=0 BENCH_LATENCY_DAEMONS=10000 \
 *     BENCH_LATENCY_RATES=1000,5000 BENCH_LATENCY_BATCH=100 BENCH_LATENCY_CLIENT=raw npm run bench -- --output=none
 */
import { z } from 'zod';
import { MAX_ITEMS_PER_BATCH } from '../../src/shared/limits.ts';
import { PEERS, type PeerName } from './peers/brokers.ts';

/** Nodes the capacity phase may start: their pools, the bench's own and the LISTEN connections stay under PostgreSQL's 200. */
export const MAX_CAPACITY_NODES = 12;

export const ALL_PHASES = ['ingest', 'latency', 'capacity', 'storm', 'fanout'] as const;
export type Phase = (typeof ALL_PHASES)[number];

export interface Settings {
  quick: boolean;
  phases: Phase[];
  /** Hard stop for the whole run: past it everything is torn down and the run fails. */
  maxMinutes: number;

  // ingest
  batches: number[];
  concurrency: number[];
  /** Distinct UIDs the ingest batches are spread over (also the latency daemons' pool). */
  uids: number;
  /** Processes that generate HTTP / pg load (1–2, so the client does not starve the server). */
  loadWorkers: number;
  warmupSeconds: number;
  ingestSeconds: number;

  // latency
  /** Steady rates to measure at: one the node sustains comfortably, and the target load. */
  latencyRates: number[];
  latencyDaemons: number;
  latencySeconds: number;
  /** Notifications per POST in the latency phase, each to another daemon (fan-out); the peers' rows always send one per publish. */
  latencyBatch: number;
  /** Client used for the latency daemons: the real @trpc/client or the lean raw-ws one. */
  latencyClient: 'trpc' | 'raw';
  /** The rate at scale that ends the latency phase, with lean raw-ws daemons (0 daemons: none). */
  scale: { daemons: number; rate: number; batch: number };

  // capacity
  /** Steps of idle daemons, counted over all the capacity phase's nodes. */
  capacitySteps: number[];
  /** Node processes the capacity phase spreads its daemons over (1 = the bench's one server). */
  capacityNodes: number;
  /** Processes holding daemon connections (each process has its own 20,000-file limit). */
  clientProcesses: number;
  /** Connections opened against the bare `ws` server for the per-connection baseline. */
  baselineConnections: number;
  /** Seconds to wait after each capacity step before reading RSS and CPU. */
  settleSeconds: number;
  capacityClient: 'trpc' | 'raw';

  // storm
  /** 0 = as many daemons as the capacity phase held (or the top step when capacity did not run). */
  stormDaemons: number;
  stormTimeoutSeconds: number;

  /** Where the report goes (relative to the checkout); "none" to only print the table (for side runs). */
  output: string;
  /** Run the server with --cpu-prof and summarise the profile at the end. */
  profile: boolean;
  /** Peer brokers measured beside Presence (scripts/bench/peers/); none = no peer rows. */
  peers: PeerName[];
}

/** `--latency-rate=800` is BENCH_LATENCY_RATE=800; a bare `--quick` is BENCH_QUICK=1. */
function readArgs(argv: readonly string[]): Map<string, string> {
  const args = new Map<string, string>();
  for (const arg of argv) {
    const match = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/i.exec(arg);
    if (!match) throw new Error(`unknown argument ${arg} (use --name=value; see scripts/bench/settings.ts)`);
    args.set(`BENCH_${(match[1] as string).toUpperCase().replace(/-/g, '_')}`, match[2] ?? '1');
  }
  return args;
}

/** Every BENCH_* value given, flags over the environment; an empty one counts as not given. */
function givenValues(env: NodeJS.ProcessEnv, argv: readonly string[]): Record<string, string> {
  const values: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(env)) if (name.startsWith('BENCH_')) values[name] = value;
  for (const [name, value] of readArgs(argv)) values[name] = value;
  return Object.fromEntries(Object.entries(values).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== ''));
}

const flag = z.string().transform((value) => !/^(0|false|no|off)$/i.test(value));
const amount = z.coerce.number({ error: 'must be a non-negative number' }).nonnegative({ error: 'must be a non-negative number' });
const listError = 'must be a comma-separated list of positive integers';
const positiveList = z
  .string()
  .transform((value) => value.split(',').map((part) => Number(part.trim())))
  .pipe(z.array(z.number({ error: listError }).int({ error: listError }).positive({ error: listError })));
/** Notifications in one POST. */
const postBatch = z.coerce
  .number({ error: 'must be a whole number' })
  .int({ error: 'must be a whole number' })
  .min(1, { error: 'must be at least 1' })
  .max(MAX_ITEMS_PER_BATCH, { error: `at most ${MAX_ITEMS_PER_BATCH}, the most one POST carries` });
const rate = z.coerce.number({ error: 'must be a positive number' }).positive({ error: 'must be a positive number' });
const client = z.enum(['trpc', 'raw'], { error: 'must be "trpc" or "raw"' });
const phaseList = z
  .string()
  .transform((value) => value.split(',').map((part) => part.trim()))
  .pipe(z.array(z.enum(ALL_PHASES, { error: `unknown phase (${ALL_PHASES.join(', ')})` })));

const peerList = z
  .string()
  .transform((value) => (/^\s*none\s*$/i.test(value) ? [] : value.split(',').map((part) => part.trim())))
  .pipe(z.array(z.enum(PEERS, { error: `unknown peer (${PEERS.join(', ')}, or none)` })));

/** The settings schema; a quick run (BENCH_QUICK) has smaller defaults. */
function schemaFor(quick: boolean) {
  const sized = (normal: number, quickValue = normal) => (quick ? quickValue : normal);
  return z.object({
    BENCH_QUICK: flag.default(false),
    BENCH_PHASES: phaseList.default([...ALL_PHASES]),
    BENCH_MAX_MINUTES: amount.default(sized(20, 8)),

    BENCH_BATCHES: positiveList.default([1, 100]),
    BENCH_CONCURRENCY: positiveList.default(quick ? [1, 8, 32] : [1, 8, 32, 64]),
    BENCH_UIDS: amount.default(1000),
    BENCH_LOAD_WORKERS: amount.default(2),
    BENCH_WARMUP_SECONDS: amount.default(sized(2, 1)),
    BENCH_INGEST_SECONDS: amount.default(sized(6, 3)),

    BENCH_LATENCY_RATES: positiveList.default(quick ? [100, 300] : [100, 500]),
    BENCH_LATENCY_DAEMONS: amount.default(sized(1000, 300)),
    BENCH_LATENCY_SECONDS: amount.default(sized(15, 6)),
    BENCH_LATENCY_CLIENT: client.default('trpc'),
    BENCH_LATENCY_BATCH: postBatch.default(1),
    BENCH_SCALE_DAEMONS: amount.default(sized(10_000, 2_000)),
    BENCH_SCALE_RATE: rate.default(sized(5_000, 1_000)),
    BENCH_SCALE_BATCH: postBatch.default(100),

    BENCH_CAPACITY_STEPS: positiveList.default(quick ? [1000, 2000] : [5000, 10000, 15000, 19000]),
    BENCH_CAPACITY_NODES: amount.default(1),
    BENCH_CLIENT_PROCESSES: amount.default(sized(4, 2)),
    BENCH_BASELINE_CONNECTIONS: amount.default(sized(5000, 1000)),
    BENCH_SETTLE_SECONDS: amount.default(sized(5, 2)),
    BENCH_CAPACITY_CLIENT: client.default('raw'),

    BENCH_STORM_DAEMONS: amount.default(sized(10_000, 0)),
    BENCH_STORM_TIMEOUT_SECONDS: amount.default(sized(150, 90)),

    BENCH_OUTPUT: z.string().default('docs/benchmarks.md'),
    BENCH_PROFILE: flag.default(false),
    BENCH_PEERS: peerList.default([...PEERS]),
  });
}

/** Reads the settings from the environment and the command line; throws one readable error listing every bad setting. */
export function loadSettings(env: NodeJS.ProcessEnv = process.env, argv: readonly string[] = process.argv.slice(2)): Settings {
  const given = givenValues(env, argv);
  const quick = flag.default(false).parse(given.BENCH_QUICK);
  const parsed = schemaFor(quick).safeParse(given);
  if (!parsed.success) {
    // One line per setting, however many parts of a list are wrong.
    const lines = [...new Map(parsed.error.issues.map((issue) => [String(issue.path[0]), issue.message]))].map(
      ([name, message]) => `  ${name}: ${message}, not "${given[name]}"`,
    );
    throw new Error(`Invalid benchmark settings (see scripts/bench/settings.ts):\n${lines.join('\n')}`);
  }
  const v = parsed.data;
  const settings: Settings = {
    quick,
    // In the order they run, whatever order they were named in.
    phases: ALL_PHASES.filter((phase) => v.BENCH_PHASES.includes(phase)),
    // The peers' rows take about 15 more minutes (5 in a quick run): mostly filling and draining their storm queues.
    maxMinutes: v.BENCH_MAX_MINUTES + (given.BENCH_MAX_MINUTES === undefined && v.BENCH_PEERS.length ? (quick ? 5 : 15) : 0),

    batches: v.BENCH_BATCHES,
    concurrency: v.BENCH_CONCURRENCY,
    uids: v.BENCH_UIDS,
    loadWorkers: Math.max(1, Math.min(4, v.BENCH_LOAD_WORKERS)),
    warmupSeconds: v.BENCH_WARMUP_SECONDS,
    ingestSeconds: v.BENCH_INGEST_SECONDS,

    latencyRates: v.BENCH_LATENCY_RATES,
    latencyDaemons: v.BENCH_LATENCY_DAEMONS,
    latencySeconds: v.BENCH_LATENCY_SECONDS,
    latencyClient: v.BENCH_LATENCY_CLIENT,
    latencyBatch: v.BENCH_LATENCY_BATCH,
    scale: { daemons: v.BENCH_SCALE_DAEMONS, rate: v.BENCH_SCALE_RATE, batch: v.BENCH_SCALE_BATCH },

    capacitySteps: v.BENCH_CAPACITY_STEPS,
    capacityNodes: Math.max(1, Math.floor(v.BENCH_CAPACITY_NODES)),
    clientProcesses: Math.max(1, v.BENCH_CLIENT_PROCESSES),
    baselineConnections: v.BENCH_BASELINE_CONNECTIONS,
    settleSeconds: v.BENCH_SETTLE_SECONDS,
    capacityClient: v.BENCH_CAPACITY_CLIENT,

    stormDaemons: v.BENCH_STORM_DAEMONS,
    stormTimeoutSeconds: v.BENCH_STORM_TIMEOUT_SECONDS,

    output: v.BENCH_OUTPUT,
    profile: v.BENCH_PROFILE,
    peers: PEERS.filter((peer) => v.BENCH_PEERS.includes(peer)),
  };
  if (settings.uids < 100 && settings.batches.some((b) => b > settings.uids)) {
    throw new Error('BENCH_UIDS must be at least the largest batch, so a batch never repeats a UID');
  }
  const perProcess = Math.max(...settings.capacitySteps, settings.baselineConnections) / settings.clientProcesses;
  if (perProcess > 19_000) throw new Error(`${perProcess} connections per client process would hit the open-files limit; raise BENCH_CLIENT_PROCESSES`);
  const perNode = Math.max(...settings.capacitySteps) / settings.capacityNodes;
  if (perNode > 19_000) throw new Error(`${perNode} daemons per node would hit its open-files limit; raise BENCH_CAPACITY_NODES`);
  if (settings.capacityNodes > MAX_CAPACITY_NODES) throw new Error(`BENCH_CAPACITY_NODES is at most ${MAX_CAPACITY_NODES} (PostgreSQL's connections)`);
  return settings;
}

/** The settings as the report lists them. */
export function describeSettings(s: Settings): [string, string][] {
  const clients = (client: 'trpc' | 'raw') => (client === 'trpc' ? 'real @trpc/client' : 'lean raw-ws');
  return [
    ['mode', s.quick ? 'BENCH_QUICK=1 (scaled down)' : 'default'],
    ['phases', s.phases.join(', ')],
    [
      'ingest',
      `batches ${s.batches.join(' and ')}; concurrency ${s.concurrency.join(', ')}; ${s.uids} UIDs; ${s.loadWorkers} load worker process(es); ` +
        `${s.warmupSeconds} s warm-up + ${s.ingestSeconds} s measured per row and side`,
    ],
    [
      'latency',
      `${s.latencyRates.join(' and ')} notifications/s (batches of ${s.latencyBatch}) for ${s.latencySeconds} s to ${s.latencyDaemons} connected daemons ` +
        `(${clients(s.latencyClient)} clients)` +
        (s.scale.daemons > 0 ? `; at scale ${s.scale.rate}/s in POSTs of ${s.scale.batch} to ${s.scale.daemons} daemons (${clients('raw')} clients)` : ''),
    ],
    [
      'capacity',
      `steps ${s.capacitySteps.join(', ')} idle daemons${s.capacityNodes > 1 ? ` spread over ${s.capacityNodes} nodes (BENCH_CAPACITY_NODES)` : ''} ` +
        `over ${s.clientProcesses} client processes (${clients(s.capacityClient)} clients); ` +
        `${s.settleSeconds} s settle per step; bare ws baseline with ${s.baselineConnections} connections`,
    ],
    ['storm', `${s.stormDaemons || 'as many daemons as capacity held'} daemons × 100 queued items; give up after ${s.stormTimeoutSeconds} s`],
    [
      'CPU profile',
      s.profile ? 'server run with --cpu-prof (BENCH_PROFILE=1); summary of the service ingest windows below' : 'off (BENCH_PROFILE=1 to take one)',
    ],
    ['peers', s.peers.length ? `${s.peers.join(', ')} (BENCH_PEERS; none to leave them out)` : 'none (BENCH_PEERS)'],
    [
      'server',
      'node --import tsx src/server/main.ts, HOST=127.0.0.1, LOG_LEVEL=warn, RATE_LIMIT_PER_SECOND=1000000 ' +
        '(every request counted in the shared rate window, as with the default limit, none refused), DATABASE_POOL_SIZE default (20)' +
        (s.capacityNodes > 1 ? `; the capacity phase's ${s.capacityNodes - 1} other nodes DATABASE_POOL_SIZE=10` : ''),
    ],
  ];
}
