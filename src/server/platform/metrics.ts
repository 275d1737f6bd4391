/**
 * Prometheus metrics of one node (`GET /metrics`). Each node has its own
 * registry; queue totals are read from the database when scraped.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Database } from './db/client.ts';

interface QueueTotals {
  queues: number;
  items: number;
  largest: number;
}

export class Metrics {
  readonly registry = new Registry();

  /** POST /<appid>/notification answers, by app ("-" before authentication), result and errno. */
  readonly requests = new Counter({
    name: 'presence_notification_requests_total',
    help: 'Answers to POST /<appid>/notification, by app, result (OK/KO) and errno',
    labelNames: ['app', 'result', 'errno'] as const,
    registers: [this.registry],
  });

  readonly stored = new Counter({
    name: 'presence_notifications_stored_total',
    help: 'Notifications stored, by app',
    labelNames: ['app'] as const,
    registers: [this.registry],
  });

  readonly droppedByCap = new Counter({
    name: 'presence_notifications_dropped_total',
    help: 'Notifications dropped from full queues to make room (the 100-item cap), by app',
    labelNames: ['app'] as const,
    registers: [this.registry],
  });

  readonly connectedDaemons = new Gauge({
    name: 'presence_connected_daemons',
    help: 'Daemon connections open on this node',
    registers: [this.registry],
  });

  readonly deliveryLatency = new Histogram({
    name: 'presence_delivery_latency_seconds',
    help: 'From a notification being stored to its being sent to a connected daemon (live deliveries)',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  constructor(db: Database) {
    // prom-client already names these process_* and nodejs_*: one prefix of ours is enough.
    collectDefaultMetrics({ register: this.registry, prefix: 'presence_' });
    // These three are gauges named like counters (promtool refuses them); each is the
    // sum of its labelled twin (`presence_nodejs_active_handles` and so on).
    for (const name of ['active_handles_total', 'active_requests_total', 'active_resources_total']) {
      this.registry.removeSingleMetric(`presence_nodejs_${name}`);
    }
    // One query per scrape, shared by the three gauges.
    let reading: Promise<QueueTotals> | null = null;
    const read = () =>
      (reading ??= db.pool
        .query<QueueTotals>('SELECT count(*)::int AS queues, coalesce(sum(size), 0)::int AS items, coalesce(max(size), 0)::int AS largest FROM queues')
        .then((result) => result.rows[0] as QueueTotals)
        .finally(() => setTimeout(() => (reading = null), 0)));
    const totals: [string, string, keyof QueueTotals][] = [
      ['presence_queues', 'Queues (one per UID)', 'queues'],
      ['presence_queued_items', 'Items waiting in all queues', 'items'],
      ['presence_queue_size_max', 'Size of the fullest queue', 'largest'],
    ];
    for (const [name, help, field] of totals) {
      new Gauge({
        name,
        help,
        registers: [this.registry],
        async collect() {
          this.set((await read())[field]);
        },
      });
    }
  }
}
