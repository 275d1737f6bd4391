/**
 * A fresh PostgreSQL for one benchmark run, in a temporary folder, with the
 * same embedded binaries and start-up the service uses; removed at the end.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/server/platform/db/embeddedPostgres.ts';

export interface BenchPostgres extends EmbeddedPostgres {
  dataDir: string;
  /** Stops the cluster and removes the folder. Idempotent. */
  destroy(): Promise<void>;
}

export async function startBenchPostgres(log: (line: string) => void): Promise<BenchPostgres> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'presence-bench-'));
  // mkdtemp makes it owner-only; as root, PostgreSQL runs as the postgres account, which must reach it.
  await chmod(dataDir, 0o755);
  let postgres: EmbeddedPostgres;
  try {
    postgres = await startEmbeddedPostgres({ dataDir, database: 'presence_bench', log });
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  let destroyed: Promise<void> | undefined;
  return {
    ...postgres,
    dataDir,
    destroy: () =>
      (destroyed ??= (async () => {
        await postgres.stop();
        await rm(dataDir, { recursive: true, force: true });
        // Outside dataDir only when running as root with an unreachable dataDir (not the case for os.tmpdir()).
        if (!postgres.clusterDir.startsWith(dataDir)) await rm(path.dirname(postgres.clusterDir), { recursive: true, force: true });
      })()),
  };
}
