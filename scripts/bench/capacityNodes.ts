/**
 * The capacity phase over several nodes (BENCH_CAPACITY_NODES): more idle
 * daemons than one process's 20,000 open files allow. The other nodes run on
 * the same PostgreSQL with a small pool each, and the daemons' devices are
 * seeded in bulk, since the domain functions take ~5 ms a person and 100,000
 * of them would take minutes.
 */
import { randomUUID } from 'node:crypto';
import { digestSecret, newSecret } from '../../src/server/domain/secrets.ts';
import type { Database } from '../../src/server/platform/db/client.ts';
import type { BenchContext } from './context.ts';
import { cpuSeconds, startCpuMeter, type CpuSplit } from './proc.ts';
import type { BenchServer } from './server.ts';

/** Pool of each node after the first: 12 nodes, the bench's own 40 and a LISTEN connection per node stay under PostgreSQL's 200. */
export const EXTRA_NODE_POOL_SIZE = 10;

/** People per seeding statement. */
const SEED_CHUNK = 10_000;

/** A user and one device per token, stored as createDevice stores them (the token's SHA-256); returns the tokens. */
export async function seedDevices(db: Database, count: number, log: (line: string) => void): Promise<string[]> {
  const started = performance.now();
  const tokens = Array.from({ length: count }, () => newSecret('dev'));
  for (let i = 0; i < count; i += SEED_CHUNK) {
    const slice = tokens.slice(i, i + SEED_CHUNK);
    await db.pool.query(
      `WITH input AS (SELECT * FROM unnest($1::uuid[], $2::text[]) AS t(user_id, digest)),
            users AS (INSERT INTO users (id, name) SELECT user_id, 'capacity user' FROM input)
       INSERT INTO devices (id, user_id, name, token_digest)
       SELECT gen_random_uuid(), user_id, 'capacity device', decode(digest, 'hex') FROM input`,
      [slice.map(() => randomUUID()), slice.map((token) => Buffer.from(digestSecret(token)).toString('hex'))],
    );
  }
  log(`capacity: seeded ${count} users with a device each in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return tokens;
}

/** The bench's server and `count - 1` more nodes started beside it. */
export async function startNodes(ctx: BenchContext, count: number): Promise<BenchServer[]> {
  const nodes = [ctx.server];
  while (nodes.length < count) {
    const node = await ctx.startNode({ DATABASE_POOL_SIZE: String(EXTRA_NODE_POOL_SIZE) });
    ctx.log(`  node ${nodes.length + 1}: pid ${node.pid} at ${node.url}`);
    nodes.push(node);
  }
  return nodes;
}

/** CPU over a window, the nodes' summed as the server's share and each node's apart (% of one core). */
export function startNodesCpuMeter(ctx: BenchContext, nodes: BenchServer[]): () => { cpu: CpuSplit; perNode: number[] } {
  const stop = startCpuMeter({ server: null, postmaster: ctx.postmasterPid, clients: ctx.clientPids });
  const before = nodes.map((node) => cpuSeconds(node.pid));
  return () => {
    const split = stop();
    const perNode = nodes.map((node, i) => (split.seconds > 0 ? (100 * (cpuSeconds(node.pid) - (before[i] as number))) / split.seconds : 0));
    const server = perNode.reduce((a, b) => a + b, 0);
    return { cpu: { ...split, server, other: Math.max(0, split.other - server) }, perNode };
  };
}
