/**
 * What the benchmark's floors (bareHttpServer.ts, relayFloor.ts) share: a
 * request body read up to a limit, and group commit by the service's own
 * coalescer (src/server/platform/db/coalescer.ts, which imports nothing), so
 * a floor groups its writes as Presence does.
 */
import type { IncomingMessage } from 'node:http';
import { Coalescer, type CoalescerOptions } from '../../../src/server/platform/db/coalescer.ts';

/** The body as text, or null when it is longer than `maxBytes` (read to its end either way) or the request broke off. */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<string | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= maxBytes) chunks.push(chunk);
    });
    req.on('end', () => resolve(bytes <= maxBytes ? Buffer.concat(chunks).toString('utf8') : null));
    req.on('error', () => resolve(null));
  });
}

/**
 * Writes what was submitted while a group ran together in the next (two groups
 * in flight): `write` stores a group and returns one value per item, in order;
 * if it throws, every submit of the group rejects.
 */
export function groupCommit<T, R>(write: (items: T[]) => Promise<R[]>, options: Pick<CoalescerOptions<T>, 'gatherMs'> = {}): Coalescer<T, R> {
  return new Coalescer<T, R>(async (items) => (await write(items)).map((value) => ({ ok: true, value })), { maxWeight: 10_000, ...options });
}
