/**
 * The benchmark's peer rows (scripts/bench/peers/) against real Mosquitto and
 * NATS JetStream, scaled down to a few seconds, so the harness cannot rot
 * between full runs: every measurement produces its row and the comparison
 * table names both peers. The relay floor (scripts/bench/clients/relayFloor.ts,
 * on the tests' PostgreSQL) runs in the latency rows only.
 */
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { WorkerProcess } from '../../scripts/bench/clients/ipc.ts';
import type { BenchContext } from '../../scripts/bench/context.ts';
import { findProgram, type PeerName } from '../../scripts/bench/peers/brokers.ts';
import { emptyPeerResults, runPeerIngest, runPeerLatency, runPeerMemory, runPeerStorm } from '../../scripts/bench/peers/peers.ts';
import { peerComparison, peerTableRows } from '../../scripts/bench/peers/report.ts';
import { loadSettings } from '../../scripts/bench/settings.ts';

const workers = new Set<WorkerProcess>();
afterAll(async () => {
  await Promise.all([...workers].map((w) => w.stop()));
});

/** What the phases need from the orchestrator, with tiny sizes. */
function tinyContext(peer: PeerName): BenchContext {
  const settings = loadSettings(
    {
      BENCH_QUICK: '1',
      BENCH_PEERS: peer,
      BENCH_UIDS: '100',
      BENCH_BATCHES: '1,100',
      BENCH_CONCURRENCY: '4',
      BENCH_LOAD_WORKERS: '1',
      BENCH_WARMUP_SECONDS: '0.3',
      BENCH_INGEST_SECONDS: '1',
      BENCH_LATENCY_RATES: '50',
      BENCH_LATENCY_DAEMONS: '20',
      BENCH_LATENCY_SECONDS: '2',
      BENCH_CAPACITY_STEPS: '30',
      BENCH_CLIENT_PROCESSES: '1',
      BENCH_SETTLE_SECONDS: '0.2',
      BENCH_STORM_TIMEOUT_SECONDS: '20',
    } as unknown as NodeJS.ProcessEnv,
    [],
  );
  const notes: string[] = [];
  return {
    settings,
    notes,
    log: () => undefined,
    track: (worker) => {
      workers.add(worker);
      worker.child.once('exit', () => workers.delete(worker));
      return worker;
    },
    clientPids: () => [...workers].map((w) => w.pid),
    databaseUrl: inject('databaseUrl'),
    postmasterPid: null,
  } as Partial<BenchContext> as BenchContext;
}

/** Every phase's peer rows for `peer`, tiny, none of them failing. */
async function allPeerRows(peer: PeerName) {
  const ctx = tinyContext(peer);
  const results = emptyPeerResults();
  await runPeerIngest(ctx, results);
  await runPeerLatency(ctx, results);
  await runPeerMemory(ctx, results);
  await runPeerStorm(ctx, results, 10);
  expect(ctx.notes).toEqual([]);
  return results;
}

describe.concurrent.each(['mosquitto', 'nats'] as const)('benchmark peer rows: %s', (peer) => {
  it('measures ingest, latency with acking subscribers, idle memory and the storm, and compares them with Presence', { timeout: 60_000 }, async () => {
    if (!findProgram(peer)) {
      throw new Error(`${peer === 'nats' ? 'nats-server' : 'mosquitto'} is not installed: apt-get install -y ${peer === 'nats' ? 'nats-server' : 'mosquitto'}`);
    }
    const results = await allPeerRows(peer);

    expect(results.ingest.map((r) => [r.batch, r.concurrency])).toEqual([
      [1, 4],
      [100, 4],
    ]);
    for (const row of results.ingest) {
      expect(row.perSecond).toBeGreaterThan(0);
      expect(row.errors).toEqual({});
    }
    const [latency] = results.latency;
    expect(latency?.subscribers).toBe(20);
    // Every acked publish reached its acking subscriber.
    expect(latency?.received).toBe(latency?.acked);
    expect(latency?.acked).toBe(100);
    expect(latency?.sendToReceipt.p99).toBeGreaterThan(0);
    // Counted in 10 ms clock ticks: 100 messages may cost Mosquitto less than one.
    expect(latency?.cpuPerDeliveredUs).toBeGreaterThanOrEqual(0);
    expect(results.memory[0]).toMatchObject({ subscribers: 30, established: 30 });
    // Ten offline devices with 100 queued each: all 1,000 arrive once they reconnect.
    expect(results.storm[0]).toMatchObject({ subscribers: 10, items: 1000, received: 1000 });
    expect(Number.isFinite(results.storm[0]?.drainedSeconds)).toBe(true);

    expect(peerTableRows(results)).toHaveLength(5);
    const table = peerComparison({ ingest: null, latency: null, capacity: null, storm: null, peers: results }).join('\n');
    expect(table).toContain(`Presence ÷ ${peer === 'nats' ? 'NATS JetStream' : 'Mosquitto'}`);
    expect(table).toContain('acked publishes/s, batches of 100 (peers: 100 pipelined), 4 concurrent');
  });
});

describe('benchmark peer rows: the relay floor', () => {
  it('delivers every acked publish to its acking subscriber in the latency rows, and runs in no other phase', { timeout: 60_000 }, async () => {
    const results = await allPeerRows('relay');

    expect(results.ingest).toEqual([]);
    expect(results.memory).toEqual([]);
    expect(results.storm).toEqual([]);
    const [latency] = results.latency;
    expect(latency).toMatchObject({ peer: 'relay', subscribers: 20, acked: 100, received: 100 });
    expect(latency?.sendToReceipt.p99).toBeGreaterThan(0);
    const table = peerComparison({ ingest: null, latency: null, capacity: null, storm: null, peers: results }).join('\n');
    expect(table).toContain('Presence ÷ relay floor (Node + PostgreSQL)');
  });
});
