/** The benchmark's settings (scripts/bench/settings.ts), parsed by a schema as the server's configuration is. */
import { describe, expect, it } from 'vitest';
import { loadSettings as loadFrom } from '../../scripts/bench/settings.ts';

const loadSettings = (env: Record<string, string>, argv: string[]) => loadFrom(env as NodeJS.ProcessEnv, argv);

describe('benchmark settings', () => {
  it('quick defaults, flags over the environment, empty values as unset, phases in the order they run', () => {
    const settings = loadSettings({ BENCH_QUICK: '1', BENCH_UIDS: '', BENCH_OUTPUT: 'none', BENCH_LOAD_WORKERS: '9' }, [
      '--phases=storm,ingest',
      '--latency-rates=800',
      '--output=elsewhere.txt',
    ]);
    expect(settings).toMatchObject({
      quick: true,
      phases: ['ingest', 'storm'],
      concurrency: [1, 8, 32],
      latencyRates: [800],
      uids: 1000,
      loadWorkers: 4,
      stormDaemons: 0,
      output: 'elsewhere.txt',
      profile: false,
      latencyBatch: 1,
    });
    expect(loadSettings({ BENCH_QUICK: 'off', BENCH_PEERS: 'none' }, []).maxMinutes).toBe(20);
  });

  it('names every bad setting in one error, with the value it was given', () => {
    const load = () => loadSettings({ BENCH_UIDS: '-1', BENCH_BATCHES: '1,x,0', BENCH_PHASES: 'ingest,nope', BENCH_CAPACITY_CLIENT: 'x' }, []);
    expect(load).toThrow(
      [
        'Invalid benchmark settings (see scripts/bench/settings.ts):',
        '  BENCH_PHASES: unknown phase (ingest, latency, capacity, storm, fanout), not "ingest,nope"',
        '  BENCH_BATCHES: must be a comma-separated list of positive integers, not "1,x,0"',
        '  BENCH_UIDS: must be a non-negative number, not "-1"',
        '  BENCH_CAPACITY_CLIENT: must be "trpc" or "raw", not "x"',
      ].join('\n'),
    );
  });

  it('sends fan-out POSTs of up to the most one POST carries', () => {
    expect(loadSettings({ BENCH_LATENCY_BATCH: '100' }, []).latencyBatch).toBe(100);
    expect(() => loadSettings({ BENCH_LATENCY_BATCH: '1001' }, [])).toThrow('BENCH_LATENCY_BATCH: at most 1000, the most one POST carries, not "1001"');
    expect(() => loadSettings({ BENCH_LATENCY_BATCH: '0' }, [])).toThrow('BENCH_LATENCY_BATCH');
    // The latency phase ends at scale: issue 15's fan-out, 5,000/s in POSTs of 100 to 10,000 daemons.
    expect(loadSettings({}, []).scale).toEqual({ daemons: 10_000, rate: 5_000, batch: 100 });
    expect(loadSettings({ BENCH_QUICK: '1', BENCH_SCALE_DAEMONS: '0' }, []).scale).toEqual({ daemons: 0, rate: 1_000, batch: 100 });
    expect(() => loadSettings({ BENCH_SCALE_RATE: '0', BENCH_SCALE_BATCH: '1001' }, [])).toThrow(
      /BENCH_SCALE_RATE: must be a positive number, not "0"\n.*BENCH_SCALE_BATCH: at most 1000/,
    );
  });

  it('spreads capacity over several nodes only as far as open files and PostgreSQL connections allow', () => {
    expect(loadSettings({}, []).capacityNodes).toBe(1);
    const settings = loadSettings({ BENCH_CAPACITY_NODES: '6', BENCH_CAPACITY_STEPS: '50000,100000', BENCH_CLIENT_PROCESSES: '8' }, []);
    expect(settings).toMatchObject({ capacityNodes: 6, capacitySteps: [50000, 100000], clientProcesses: 8 });
    expect(() => loadSettings({ BENCH_CAPACITY_NODES: '4', BENCH_CAPACITY_STEPS: '100000', BENCH_CLIENT_PROCESSES: '8' }, [])).toThrow(
      'raise BENCH_CAPACITY_NODES',
    );
    expect(() => loadSettings({ BENCH_CAPACITY_NODES: '6', BENCH_CAPACITY_STEPS: '100000' }, [])).toThrow('raise BENCH_CLIENT_PROCESSES');
    expect(() => loadSettings({ BENCH_CAPACITY_NODES: '13', BENCH_CAPACITY_STEPS: '100000', BENCH_CLIENT_PROCESSES: '8' }, [])).toThrow('at most 12');
  });

  it('measures every peer by default, BENCH_PEERS=none leaves them out, an unknown peer is refused', () => {
    expect(loadSettings({}, []).peers).toEqual(['mosquitto', 'nats', 'relay']);
    expect(loadSettings({ BENCH_PEERS: 'none' }, []).peers).toEqual([]);
    // Their rows add time to the run's limit, unless the limit is given.
    expect(loadSettings({}, []).maxMinutes).toBe(35);
    expect(loadSettings({ BENCH_QUICK: '1' }, []).maxMinutes).toBe(13);
    expect(loadSettings({ BENCH_MAX_MINUTES: '20' }, []).maxMinutes).toBe(20);
    expect(loadSettings({}, ['--peers=nats']).peers).toEqual(['nats']);
    expect(() => loadSettings({ BENCH_PEERS: 'kafka' }, [])).toThrow('BENCH_PEERS: unknown peer (mosquitto, nats, relay, or none), not "kafka"');
  });
});
