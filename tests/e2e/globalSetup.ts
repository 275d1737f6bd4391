/**
 * Starts the real server for the browser tests, on its embedded default in a
 * temporary data folder, and stops it (and its PostgreSQL) afterwards.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startServerProcess, stopClusterPostgres } from '../support/serverProcess.ts';

export default async function globalSetup() {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'presence-e2e-'));
  await chmod(dataDir, 0o755); // as root, PostgreSQL runs as another user
  const server = await startServerProcess({
    PRESENCE_DATA_DIR: dataDir,
    PORT: process.env.PRESENCE_E2E_PORT,
    HOST: '127.0.0.1',
    ADMIN_TOKEN: process.env.PRESENCE_E2E_ADMIN_TOKEN,
  });
  return async () => {
    server.kill('SIGTERM');
    await server.exited;
    await stopClusterPostgres(dataDir);
    await rm(dataDir, { recursive: true, force: true });
  };
}
