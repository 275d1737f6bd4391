/**
 * For a test file that takes PostgreSQL away under a running node: an
 * embedded PostgreSQL of its own (not the shared test database), a node on it
 * and a database handle, made before the file's tests and removed after.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { loadConfig } from '../../src/server/platform/config.ts';
import { connectDatabase, type Database } from '../../src/server/platform/db/client.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/server/platform/db/embeddedPostgres.ts';
import { startPresence, type PresenceNode } from '../../src/server/server.ts';
import { freePort } from './faultTools.ts';

export interface OwnPostgres {
  node: PresenceNode;
  db: Database;
  /** The running PostgreSQL (replaced by `start`). */
  postgres: EmbeddedPostgres;
  /** The folder its cluster lives in, and the port it always takes: a restart comes back where the node looks. */
  dataDir: string;
  port: number;
  /** Starts PostgreSQL again on the same folder and port (after a stop or a kill). */
  start(): Promise<void>;
}

/** Its fields are set once the file's `beforeAll` has run. */
export function useNodeOnOwnPostgres(folderPrefix: string): OwnPostgres {
  const own = {
    async start() {
      own.postgres = await startEmbeddedPostgres({ dataDir: own.dataDir, port: own.port });
    },
  } as OwnPostgres;
  beforeAll(async () => {
    own.dataDir = await mkdtemp(path.join(os.tmpdir(), folderPrefix));
    // mkdtemp makes it owner-only; as root, PostgreSQL runs as another user that must reach it.
    await chmod(own.dataDir, 0o755);
    own.port = await freePort();
    await own.start();
    own.node = await startPresence(
      loadConfig({ DATABASE_URL: own.postgres.url, PORT: '0', HOST: '127.0.0.1', NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_CONNECT_TIMEOUT_MS: '1000' }),
      { web: false },
    );
    own.db = connectDatabase({ url: own.postgres.url, poolSize: 2 });
  });
  afterAll(async () => {
    await own.db?.close().catch(() => undefined);
    await own.node?.close();
    await own.postgres?.stop();
    if (own.dataDir) await rm(own.dataDir, { recursive: true, force: true });
  });
  return own;
}
