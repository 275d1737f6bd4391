/**
 * The typed client through a database outage: a node on its own embedded
 * PostgreSQL answers 503 while it is stopped, and the client's call, retried
 * under one Idempotency-Key, succeeds once it is started again.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPresenceClient, type RetryInfo } from '../../src/client/index.ts';
import { loadConfig } from '../../src/server/platform/config.ts';
import { connectDatabase, type Database } from '../../src/server/platform/db/client.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/server/platform/db/embeddedPostgres.ts';
import { startPresence, type PresenceNode } from '../../src/server/server.ts';
import { makeRecipient, queueItems } from '../support/factories.ts';

let dataDir: string;
let port: number;
let postgres: EmbeddedPostgres;
let node: PresenceNode;
let db: Database;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port: chosen } = server.address() as net.AddressInfo;
      server.close(() => resolve(chosen));
    });
  });
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'presence-client-outage-'));
  await chmod(dataDir, 0o755);
  port = await freePort();
  postgres = await startEmbeddedPostgres({ dataDir, port });
  node = await startPresence(
    loadConfig({ DATABASE_URL: postgres.url, PORT: '0', HOST: '127.0.0.1', NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_CONNECT_TIMEOUT_MS: '1000' }),
    { web: false },
  );
  db = connectDatabase({ url: postgres.url, poolSize: 2 });
});

afterAll(async () => {
  await db?.close().catch(() => undefined);
  await node?.close();
  await postgres?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('the client during a database outage', () => {
  it('retries 503 after Retry-After until PostgreSQL is back, then stores the call once', async () => {
    const { appid, key, uid } = await makeRecipient(db);
    const retries: RetryInfo[] = [];
    let firstRetry: () => void = () => undefined;
    const retried = new Promise<void>((resolve) => (firstRetry = resolve));
    const presence = createPresenceClient({
      server: node.url,
      appid,
      key,
      deadlineMs: 60_000,
      onRetry: (info) => {
        retries.push(info);
        firstRetry();
      },
    });

    await postgres.stop();
    const sending = presence.send([{ UID: uid, message: 'through the outage', action: 'https://example.com/' }]);
    await retried;
    postgres = await startEmbeddedPostgres({ dataDir, port });
    const ack = await sending;

    expect(ack).toEqual({ result: 'OK', queue_size: 1, queue_sizes: { [uid]: 1 } });
    expect(retries[0]).toMatchObject({ attempt: 1, error: { status: 503, errno: 150 } });
    // Retry-After: 5 is honoured, not cut short by the backoff.
    expect(retries[0]!.delayMs).toBeGreaterThanOrEqual(5_000);
    expect((await queueItems(db, uid)).map((i) => i.message)).toEqual(['through the outage']);
  }, 90_000);
});
