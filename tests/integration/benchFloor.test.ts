/**
 * The benchmark's floors for single POSTs (scripts/bench/clients/bareHttpServer.ts):
 * a real Node HTTP server that answers each POST with an ack of the
 * service's shape and stores nothing, and the same server storing each
 * body before it answers (the durable floor), so the ingest phase's
 * "service vs floor" rows compare like with like.
 */
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { WorkerProcess } from '../../scripts/bench/clients/ipc.ts';

const bare = new WorkerProcess('bareHttpServer.ts', 'bare http server', () => undefined);
const durable = new WorkerProcess('bareHttpServer.ts', 'durable floor', () => undefined);
const pool = new pg.Pool({ connectionString: inject('databaseUrl'), max: 2 });
afterAll(() => Promise.all([bare.stop(), durable.stop(), pool.end()]));

async function post(url: string, body: string) {
  const res = await fetch(`${url}/bench/notification`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
  return { status: res.status, body: (await res.json()) as unknown };
}

describe('bench floor: bare HTTP server', () => {
  it('acks a batch with the service’s shape, every UID counted, and refuses a body that is not a JSON array', async () => {
    const { url } = await bare.request<{ url: string; pid: number }>('listen', {}, 30_000);
    const item = (UID: string) => ({ UID, message: 'm', action: 'https://example.com/' });

    expect(await post(url, JSON.stringify([item('a'), item('b'), item('a')]))).toEqual({
      status: 200,
      body: { result: 'OK', queue_size: 2, queue_sizes: { a: 2, b: 1 } },
    });
    expect(await post(url, '{not json')).toEqual({ status: 400, body: { result: 'KO', errno: 102 } });
    expect(await post(url, JSON.stringify(item('a')))).toEqual({ status: 400, body: { result: 'KO', errno: 102 } });
  });
});

describe('bench floor: durable', () => {
  it('answers each body only once its items are committed, a body in one transaction, and 150 when the database refuses', async () => {
    const { url } = await durable.request<{ url: string; pid: number }>('listen', { databaseUrl: inject('databaseUrl') }, 30_000);
    const body = (n: number) => JSON.stringify(['x', 'y', 'z'].map((m) => ({ UID: `body-${n}`, message: `${m}${n}` })));
    const stored = async (n: number) =>
      (await pool.query<{ message: string; xmin: string }>('SELECT message, xmin::text FROM floor_items WHERE uid = $1 ORDER BY id', [`body-${n}`])).rows;

    // Concurrent bodies, each checked the moment its answer arrives.
    const checks = await Promise.all(
      Array.from({ length: 20 }, async (_, n) => {
        const answer = await post(url, body(n));
        return { n, answer, rows: await stored(n) };
      }),
    );
    for (const { n, answer, rows } of checks) {
      expect(answer).toEqual({ status: 200, body: { result: 'OK', queue_size: 3, queue_sizes: { [`body-${n}`]: 3 } } });
      expect(rows.map((r) => r.message)).toEqual([`x${n}`, `y${n}`, `z${n}`]);
      expect(new Set(rows.map((r) => r.xmin)).size).toBe(1);
    }

    await pool.query('DROP TABLE floor_items');
    expect(await post(url, body(99))).toEqual({ status: 503, body: { result: 'KO', errno: 150 } });
  });
});
