/**
 * Preloaded into the server by scripts/bench/roundTrips.ts (node --import):
 * counts every statement the node sends to PostgreSQL — each one a round trip,
 * since `pg` does not pipeline — by its normalised text, and writes the counts
 * to a file when the process receives SIGUSR2.
 */
import { writeFileSync } from 'node:fs';
import pg from 'pg';

const counts = new Map<string, number>();
const file = process.env.BENCH_QUERY_COUNT_FILE;

/** The statement's text with literals and whitespace folded, short enough to group by. */
function shape(text: string): string {
  return text
    .replace(/\s+/g, ' ')
    .replace(/\$\d+/g, '$')
    .replace(/'[^']*'/g, "'…'")
    .trim()
    .slice(0, 90);
}

type Query = (this: pg.Client, ...args: unknown[]) => unknown;
const original = pg.Client.prototype.query as unknown as Query;
(pg.Client.prototype as unknown as { query: Query }).query = function countedQuery(this: pg.Client, ...args: unknown[]) {
  const first = args[0] as string | { text?: string } | undefined;
  const text = typeof first === 'string' ? first : (first?.text ?? '?');
  const key = shape(text);
  counts.set(key, (counts.get(key) ?? 0) + 1);
  return original.apply(this, args);
};

if (file) process.on('SIGUSR2', () => writeFileSync(file, JSON.stringify(Object.fromEntries(counts))));
