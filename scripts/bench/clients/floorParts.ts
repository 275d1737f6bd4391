/**
 * What the benchmark's floors (bareHttpServer.ts, relayFloor.ts) share:
 * group commit by the service's own coalescer
 * (src/server/platform/db/coalescer.ts, which imports nothing), so a floor
 * groups its writes as Presence does. Their bodies are read by the service's
 * own reader too (src/server/http/body.ts, which imports nothing either).
 */
import { Coalescer, type CoalescerOptions } from '../../../src/server/platform/db/coalescer.ts';

/**
 * Writes what was submitted while a group ran together in the next (two groups
 * in flight): `write` stores a group and returns one value per item, in order;
 * if it throws, every submit of the group rejects.
 */
export function groupCommit<T, R>(write: (items: T[]) => Promise<R[]>, options: Pick<CoalescerOptions<T>, 'gatherMs'> = {}): Coalescer<T, R> {
  return new Coalescer<T, R>(async (items) => (await write(items)).map((value) => ({ ok: true, value })), { maxWeight: 10_000, ...options });
}
