/**
 * Statements that the delivery path sends many times a second carry a name,
 * so `pg` prepares each one once per pooled connection and PostgreSQL parses
 * and plans it there once rather than on every call. In the benchmark's
 * latency row (500 notifications/s to 1,000 acking daemons) this took a
 * fifth or more off PostgreSQL's CPU (docs/benchmarks.md, "Second step").
 *
 *   const { rows } = await client.query({ ...LOCK_QUEUES, values: [uids] });
 *
 * A name must stand for one text on a connection: give every statement its own.
 */
export interface PreparedStatement {
  readonly name: string;
  readonly text: string;
}

export function prepared(name: string, text: string): PreparedStatement {
  return { name, text };
}
