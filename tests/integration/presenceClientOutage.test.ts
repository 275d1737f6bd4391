/**
 * The typed client through a database outage: a node on its own embedded
 * PostgreSQL answers 503 while it is stopped, and the client's call, retried
 * under one Idempotency-Key, succeeds once it is started again.
 */
import { describe, expect, it } from 'vitest';
import { createPresenceClient, type RetryInfo } from '../../src/client/index.ts';
import { makeRecipient, queueItems } from '../support/factories.ts';
import { useNodeOnOwnPostgres } from '../support/ownPostgres.ts';

const own = useNodeOnOwnPostgres('presence-client-outage-');

describe('the client during a database outage', () => {
  it('retries 503 after Retry-After until PostgreSQL is back, then stores the call once', async () => {
    const { appid, key, uid } = await makeRecipient(own.db);
    const retries: RetryInfo[] = [];
    let firstRetry: () => void = () => undefined;
    const retried = new Promise<void>((resolve) => (firstRetry = resolve));
    const presence = createPresenceClient({
      server: own.node.url,
      appid,
      key,
      deadlineMs: 60_000,
      onRetry: (info) => {
        retries.push(info);
        firstRetry();
      },
    });

    await own.postgres.stop();
    const sending = presence.send([{ UID: uid, message: 'through the outage', action: 'https://example.com/' }]);
    await retried;
    await own.start();
    const ack = await sending;

    expect(ack).toEqual({ result: 'OK', queue_size: 1, queue_sizes: { [uid]: 1 } });
    expect(retries[0]).toMatchObject({ attempt: 1, error: { status: 503, errno: 150 } });
    // Retry-After: 5 is honoured, not cut short by the backoff.
    expect(retries[0]!.delayMs).toBeGreaterThanOrEqual(5_000);
    expect((await queueItems(own.db, uid)).map((i) => i.message)).toEqual(['through the outage']);
  }, 90_000);
});
