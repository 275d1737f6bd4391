/** Starts a Presence node in this process, on the test database and a free port. */
import { afterAll, beforeAll, inject } from 'vitest';
import type { Database } from '../../src/server/platform/db/client.ts';
import { loadConfig } from '../../src/server/platform/config.ts';
import { startPresence, type PresenceNode } from '../../src/server/server.ts';
import { testDatabase } from './factories.ts';

export async function startTestNode(env: Record<string, string> = {}): Promise<PresenceNode> {
  const config = loadConfig({ DATABASE_URL: inject('databaseUrl'), PORT: '0', HOST: '127.0.0.1', NODE_ENV: 'test', LOG_LEVEL: 'silent', ...env });
  return startPresence(config, { web: false });
}

/** POSTs JSON (or a raw string) to /<appid>/notification with a key. */
export async function postNotifications(
  baseUrl: string,
  appid: string,
  key: string | null,
  body: unknown,
  init: { headers?: Record<string, string>; raw?: boolean } = {},
) {
  const response = await fetch(`${baseUrl}/${appid}/notification`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      ...(key === null ? {} : { Authorization: `Bearer ${key}` }),
      ...init.headers,
    },
    body: init.raw ? (body as string) : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, any> };
}

/**
 * For a test file: starts a node and opens a database handle before its tests
 * (handing both to `receive`), and closes them after. `env` may be a function,
 * read when the node starts (after the `beforeAll`s registered before).
 */
export function useTestNode(
  receive: (started: { node: PresenceNode; db: Database }) => void,
  env: Record<string, string> | (() => Record<string, string>) = {},
): void {
  let started: { node: PresenceNode; db: Database } | undefined;
  beforeAll(async () => {
    started = { node: await startTestNode(typeof env === 'function' ? env() : env), db: testDatabase() };
    receive(started);
  });
  afterAll(async () => {
    await started?.db.close();
    await started?.node.close();
  });
}
