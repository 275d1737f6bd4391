/**
 * Benchmark settings: defaults sized so that `npm run bench` finishes in
 * about ten minutes on a 2-core machine, `BENCH_QUICK=1` (or `--quick`) for a
 * run of a couple of minutes while iterating, and one environment variable
 * (or `--name=value` flag) per knob to scale any part up or down.
 *
 *   npm run bench -- --quick --phases=ingest,latency
 *   BENCH_CAPACITY_STEPS=2000,4000 npm run bench
 */

export type Phase = 'ingest' | 'latency' | 'capacity' | 'storm';
export const ALL_PHASES: readonly Phase[] = ['ingest', 'latency', 'capacity', 'storm'];

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
  /** Client used for the latency daemons: the real @trpc/client or the lean raw-ws one. */
  latencyClient: 'trpc' | 'raw';

  // capacity
  capacitySteps: number[];
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
}

function readArgs(argv: readonly string[]): Map<string, string> {
  const args = new Map<string, string>();
  for (const arg of argv) {
    const match = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/i.exec(arg);
    if (!match) throw new Error(`unknown argument ${arg} (use --name=value; see scripts/bench/settings.ts)`);
    // --latency-rate=800 is BENCH_LATENCY_RATE=800.
    args.set(`BENCH_${(match[1] as string).toUpperCase().replace(/-/g, '_')}`, match[2] ?? '1');
  }
  return args;
}

export function loadSettings(env: NodeJS.ProcessEnv = process.env, argv: readonly string[] = process.argv.slice(2)): Settings {
  const args = readArgs(argv);
  const raw = (name: string): string | undefined => args.get(name) ?? env[name] ?? undefined;
  const flag = (name: string, fallback: boolean): boolean => {
    const value = raw(name);
    return value === undefined || value === '' ? fallback : !/^(0|false|no|off)$/i.test(value);
  };
  const quick = flag('BENCH_QUICK', false);
  const int = (name: string, normal: number, quickValue = normal): number => {
    const value = raw(name);
    if (value === undefined || value === '') return quick ? quickValue : normal;
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed < 0) throw new Error(`${name} must be a non-negative number, not "${value}"`);
    return parsed;
  };
  const list = (name: string, normal: number[], quickValue = normal): number[] => {
    const value = raw(name);
    if (value === undefined || value === '') return quick ? quickValue : normal;
    const parsed = value.split(',').map((part) => Number(part.trim()));
    if (parsed.some((n) => !Number.isInteger(n) || n <= 0)) throw new Error(`${name} must be a comma-separated list of positive integers, not "${value}"`);
    return parsed;
  };
  const client = (name: string, fallback: 'trpc' | 'raw'): 'trpc' | 'raw' => {
    const value = raw(name) ?? fallback;
    if (value !== 'trpc' && value !== 'raw') throw new Error(`${name} must be "trpc" or "raw"`);
    return value;
  };
  const phasesRaw = raw('BENCH_PHASES');
  const phases = phasesRaw ? phasesRaw.split(',').map((p) => p.trim()) : [...ALL_PHASES];
  for (const phase of phases) {
    if (!ALL_PHASES.includes(phase as Phase)) throw new Error(`BENCH_PHASES: unknown phase "${phase}" (${ALL_PHASES.join(', ')})`);
  }

  const settings: Settings = {
    quick,
    phases: ALL_PHASES.filter((p) => phases.includes(p)),
    maxMinutes: int('BENCH_MAX_MINUTES', 20, 8),

    batches: list('BENCH_BATCHES', [1, 100]),
    concurrency: list('BENCH_CONCURRENCY', [1, 8, 32, 64], [1, 8, 32]),
    uids: int('BENCH_UIDS', 1000, 1000),
    loadWorkers: Math.max(1, Math.min(4, int('BENCH_LOAD_WORKERS', 2))),
    warmupSeconds: int('BENCH_WARMUP_SECONDS', 2, 1),
    ingestSeconds: int('BENCH_INGEST_SECONDS', 6, 3),

    latencyRates: list('BENCH_LATENCY_RATES', [100, 500], [100, 300]),
    latencyDaemons: int('BENCH_LATENCY_DAEMONS', 1000, 300),
    latencySeconds: int('BENCH_LATENCY_SECONDS', 15, 6),
    latencyClient: client('BENCH_LATENCY_CLIENT', 'trpc'),

    capacitySteps: list('BENCH_CAPACITY_STEPS', [5000, 10000, 15000, 19000], [1000, 2000]),
    clientProcesses: Math.max(1, int('BENCH_CLIENT_PROCESSES', 4, 2)),
    baselineConnections: int('BENCH_BASELINE_CONNECTIONS', 5000, 1000),
    settleSeconds: int('BENCH_SETTLE_SECONDS', 5, 2),
    capacityClient: client('BENCH_CAPACITY_CLIENT', 'raw'),

    stormDaemons: int('BENCH_STORM_DAEMONS', 10_000, 0),
    stormTimeoutSeconds: int('BENCH_STORM_TIMEOUT_SECONDS', 150, 90),

    output: raw('BENCH_OUTPUT') || 'docs/benchmarks.md',
    profile: flag('BENCH_PROFILE', false),
  };
  if (settings.uids < 100 && settings.batches.some((b) => b > settings.uids)) {
    throw new Error('BENCH_UIDS must be at least the largest batch, so a batch never repeats a UID');
  }
  const perProcess = Math.max(...settings.capacitySteps, settings.baselineConnections) / settings.clientProcesses;
  if (perProcess > 19_000) throw new Error(`${perProcess} connections per client process would hit the open-files limit; raise BENCH_CLIENT_PROCESSES`);
  return settings;
}

/** The settings as the report lists them. */
export function describeSettings(s: Settings): [string, string][] {
  return [
    ['mode', s.quick ? 'BENCH_QUICK=1 (scaled down)' : 'default'],
    ['phases', s.phases.join(', ')],
    ['ingest', `batches ${s.batches.join(' and ')}; concurrency ${s.concurrency.join(', ')}; ${s.uids} UIDs; ${s.loadWorkers} load worker process(es); ${s.warmupSeconds} s warm-up + ${s.ingestSeconds} s measured per row and side`],
    ['latency', `${s.latencyRates.join(' and ')} notifications/s (batches of 1) for ${s.latencySeconds} s to ${s.latencyDaemons} connected daemons (${s.latencyClient === 'trpc' ? 'real @trpc/client' : 'lean raw-ws'} clients)`],
    ['capacity', `steps ${s.capacitySteps.join(', ')} idle daemons over ${s.clientProcesses} client processes (${s.capacityClient === 'trpc' ? 'real @trpc/client' : 'lean raw-ws'} clients); ${s.settleSeconds} s settle per step; bare ws baseline with ${s.baselineConnections} connections`],
    ['storm', `${s.stormDaemons || 'as many daemons as capacity held'} daemons × 100 queued items; give up after ${s.stormTimeoutSeconds} s`],
    ['CPU profile', s.profile ? 'server run with --cpu-prof (BENCH_PROFILE=1); summary of the service ingest windows below' : 'off (BENCH_PROFILE=1 to take one)'],
    ['server', 'node --import tsx src/server/main.ts, HOST=127.0.0.1, LOG_LEVEL=warn, RATE_LIMIT_PER_SECOND=1000000 (every request counted in the shared rate window, as with the default limit, none refused), DATABASE_POOL_SIZE default (20)'],
  ];
}
