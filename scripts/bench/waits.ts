/**
 * Where PostgreSQL's busy backends wait, sampled from pg_stat_activity every
 * 100 ms during a measurement: the evidence for "what limits this row"
 * (CPU, WAL flush, a row lock, the NOTIFY commit lock…).
 */
import pg from 'pg';

export interface WaitProfile {
  /** Mean number of active backends (excluding the sampler). */
  meanActive: number;
  /** Share of active-backend samples per wait ("CPU" when not waiting), largest first. */
  shares: [string, number][];
  /** Share of all active samples per lock/IO wait and the statement that waited, largest first. */
  byStatement: [string, number][];
}

/** "WITH c AS (DELETE FROM connections …" → "DELETE FROM connections": enough to name the statement. */
function statementHead(query: string): string {
  const text = query.replace(/\s+/g, ' ').trim();
  const verb = /\b(INSERT INTO \w+|UPDATE \w+|DELETE FROM \w+|SELECT pg_notify|FOR UPDATE|COMMIT|BEGIN)/i.exec(text);
  return verb ? (verb[1] as string) : text.slice(0, 40);
}

export async function startWaitSampler(databaseUrl: string): Promise<() => Promise<WaitProfile>> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'bench-sampler' });
  client.on('error', () => undefined);
  await client.connect();
  const tally = new Map<string, number>();
  const byStatement = new Map<string, number>();
  let samples = 0;
  let active = 0;
  let stopped = false;
  const loop = (async () => {
    // Bounded by the caller: it stops the sampler at the end of the measurement.
    while (!stopped) {
      const { rows } = await client.query<{ wait: string; query: string }>(
        `SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS wait, query
           FROM pg_stat_activity
          WHERE backend_type = 'client backend' AND state = 'active' AND pid <> pg_backend_pid()`,
      );
      samples++;
      active += rows.length;
      for (const row of rows) {
        tally.set(row.wait, (tally.get(row.wait) ?? 0) + 1);
        if (row.wait !== 'CPU') {
          const key = `${row.wait} in ${statementHead(row.query)}`;
          byStatement.set(key, (byStatement.get(key) ?? 0) + 1);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })().catch(() => undefined);
  return async () => {
    stopped = true;
    await loop;
    await client.end().catch(() => undefined);
    const total = [...tally.values()].reduce((a, b) => a + b, 0);
    const rank = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]): [string, number] => [k, total ? v / total : 0]);
    return { meanActive: samples ? active / samples : 0, shares: rank(tally), byStatement: rank(byStatement).slice(0, 5) };
  };
}

export function formatWaits(profile: WaitProfile, top = 3, statements = false): string {
  const parts = profile.shares.slice(0, top).map(([k, v]) => `${k} ${Math.round(v * 100)}%`);
  const where =
    statements && profile.byStatement.length
      ? ` [${profile.byStatement
          .slice(0, top)
          .map(([k, v]) => `${k} ${Math.round(v * 100)}%`)
          .join(', ')}]`
      : '';
  return `pg active ${profile.meanActive.toFixed(1)}: ${parts.join(', ') || 'idle'}${where}`;
}
