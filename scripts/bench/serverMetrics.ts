/**
 * The server's own view of itself, from GET /metrics (Prometheus text): used
 * as evidence next to the client-side figures (connections the server counts,
 * V8 heap, its own delivery-latency histogram, event-loop lag, GC time).
 */

export interface ServerMetrics {
  /** V8 heap in use (presence_nodejs_heap_size_used_bytes). */
  heapUsed: number;
  /** Daemon sockets open on this node (presence_connected_daemons). */
  connected: number;
  /** presence_delivery_latency_seconds: cumulative count per upper bound (seconds; Infinity for +Inf). */
  delivery: Map<number, number>;
  /** GC seconds so far, by kind (minor, major, incremental, weakcb). */
  gcSeconds: Record<string, number>;
  /** Event-loop delay since the previous scrape (prom-client resets it on every scrape), seconds. */
  loopLagMax: number;
  loopLagP99: number;
}

export async function scrapeMetrics(server: string): Promise<ServerMetrics> {
  const empty: ServerMetrics = {
    heapUsed: Number.NaN,
    connected: Number.NaN,
    delivery: new Map(),
    gcSeconds: {},
    loopLagMax: Number.NaN,
    loopLagP99: Number.NaN,
  };
  let text: string;
  try {
    text = await (await fetch(`${server}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  } catch {
    return empty;
  }
  const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(text)?.[1] ?? Number.NaN);
  const delivery = new Map<number, number>();
  for (const m of text.matchAll(/^presence_delivery_latency_seconds_bucket\{le="([^"]+)"\} (\S+)/gm)) {
    delivery.set(m[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[1]), Number(m[2]));
  }
  const gcSeconds: Record<string, number> = {};
  for (const m of text.matchAll(/^presence_nodejs_gc_duration_seconds_sum\{kind="([^"]+)"\} (\S+)/gm)) gcSeconds[m[1] as string] = Number(m[2]);
  return {
    heapUsed: value('presence_nodejs_heap_size_used_bytes'),
    connected: value('presence_connected_daemons'),
    delivery,
    gcSeconds,
    loopLagMax: value('presence_nodejs_eventloop_lag_max_seconds'),
    loopLagP99: value('presence_nodejs_eventloop_lag_p99_seconds'),
  };
}

/** The server-side delivery histogram between two scrapes, as "≤ 1 ms: 40 %, ≤ 250 ms: 95 %, …" (cumulative shares). */
export function deliveryDelta(before: ServerMetrics, after: ServerMetrics): { count: number; text: string } {
  const rows = [...after.delivery.entries()].sort((a, b) => a[0] - b[0]).map(([le, n]): [number, number] => [le, n - (before.delivery.get(le) ?? 0)]);
  const count = rows.at(-1)?.[1] ?? 0;
  if (count <= 0) return { count: 0, text: 'no live deliveries counted' };
  const text = rows
    .filter(([le]) => Number.isFinite(le))
    .map(([le, n]) => `≤${le >= 1 ? `${le} s` : `${le * 1000} ms`} ${Math.round((100 * n) / count)}%`)
    .join(', ');
  return { count, text };
}

/** GC seconds spent between two scrapes, all kinds, and the major (mark-compact) part. */
export function gcDelta(before: ServerMetrics, after: ServerMetrics): { total: number; major: number } {
  let total = 0;
  for (const [kind, s] of Object.entries(after.gcSeconds)) total += s - (before.gcSeconds[kind] ?? 0);
  return { total, major: (after.gcSeconds.major ?? 0) - (before.gcSeconds.major ?? 0) };
}
