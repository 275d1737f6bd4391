/** What every phase gets from the orchestrator. */
import type { Database } from '../../src/server/platform/db/client.ts';
import type { WorkerProcess } from './clients/ipc.ts';
import type { Fixtures } from './fixtures.ts';
import type { BenchServer } from './server.ts';
import type { Settings } from './settings.ts';

export interface BenchContext {
  settings: Settings;
  /** The server now running (replaced by restartServer). */
  server: BenchServer;
  /** Stops the server and starts a fresh one on the same database: a clean baseline for memory, a node restart for the storm. */
  restartServer(why: string): Promise<void>;
  /** Starts one more node on the same database (stopped by the phase, or at the end of the run at the latest). */
  startNode(env: Record<string, string>): Promise<BenchServer>;
  databaseUrl: string;
  /** The orchestrator's own pool on the bench database (resets, checks, sampling). */
  db: Database;
  fixtures: Fixtures;
  postmasterPid: number | null;
  /** Client processes alive now, for CPU accounting. */
  clientPids(): number[];
  /** Registers a forked client process so that it is counted and stopped at the end. */
  track(worker: WorkerProcess): WorkerProcess;
  log(line: string): void;
  /** Windows (ms since the server was spawned) in which the service was under ingest load: the CPU profile is summarised over them. */
  profileWindows: [number, number][];
  /** Observations for the report's diagnostics (ghost rows, …). */
  notes: string[];
}
