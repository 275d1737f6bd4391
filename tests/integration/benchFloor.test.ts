/**
 * The benchmark's floor for single POSTs (scripts/bench/clients/bareHttpServer.ts):
 * a real Node HTTP server that answers each POST with an ack of the
 * service's shape and stores nothing, so the ingest phase's "service vs
 * bare HTTP" rows compare like with like.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { WorkerProcess } from '../../scripts/bench/clients/ipc.ts';

const bare = new WorkerProcess('bareHttpServer.ts', 'bare http server', () => undefined);
afterAll(() => bare.stop());

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
