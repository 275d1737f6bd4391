/**
 * Fan-out: what a wake-up costs as nodes are added. For 1, 4 and 16 node
 * processes on one database, with the same daemons spread over them and the
 * same fixed rate of single-item POSTs, once with wake-ups over PostgreSQL
 * NOTIFY (every node hears every wake-up) and once over the NATS bus
 * (PRESENCE_BUS: only the node holding the user hears it). Measured: CPU
 * seconds of all node processes per 1,000 notifications, less what the same
 * nodes use idle, and the time from a POST being sent to its item reaching
 * the daemon (p50, p99).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openConn, type DaemonConn } from './clients/daemonConn.ts';
import type { BenchContext } from './context.ts';
import { resetQueues } from './fixtures.ts';
import { natsServerInstalled, startNatsProcess, type NatsProcess } from './fanout/natsProcess.ts';
import { cpuSeconds } from './proc.ts';
import { projectRoot } from './server.ts';
import { fmt, percentile, sortNumbers } from './stats.ts';

export type FanoutMode = 'notify' | 'nats';

export interface FanoutRow {
  mode: FanoutMode;
  nodes: number;
  daemons: number;
  /** POSTs answered 200 in the window, and how many of their items reached a daemon. */
  sent: number;
  received: number;
  /** POSTs not answered 200 (by status, or "error"). */
  refused: Record<string, number>;
  ratePerSecond: number;
  /** CPU seconds of all node processes per 1,000 notifications. */
  nodeCpuPerThousand: number;
  /** Of the nats-server, in the bus mode. */
  busCpuPerThousand: number;
  p50Ms: number;
  p99Ms: number;
}

export interface FanoutResult {
  rows: FanoutRow[];
  /** Why a mode did not run (nats-server missing). */
  skipped: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface NodeProcess {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

function startNode(ctx: BenchContext, index: number, bus: NatsProcess | null): Promise<NodeProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench/fanout/fanoutNode.ts'], {
    cwd: projectRoot,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      DATABASE_URL: ctx.databaseUrl,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      NODE_ID: `fanout-${index}`,
      RATE_LIMIT_PER_SECOND: '0',
      DATABASE_POOL_SIZE: '10',
      ...(bus ? { PRESENCE_BUS: bus.url } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fan-out node ${index} did not start within 120 s:\n${output}`)), 120_000);
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
      const match = /listening (\S+)/.exec(output);
      if (!match) return;
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      resolve({
        url: match[1] as string,
        pid: child.pid as number,
        stop: async () => {
          if (child.exitCode === null) child.kill('SIGTERM');
          const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
          await exited;
          clearTimeout(kill);
        },
      });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`fan-out node ${index} exited during start-up:\n${output}`));
    });
  });
}

async function measure(ctx: BenchContext, mode: FanoutMode, nodeCount: number): Promise<FanoutRow> {
  const s = ctx.settings;
  const quick = s.quick;
  // Low enough that one node of this small machine keeps up: the row measures the cost, not the ceiling.
  const rate = 50;
  const seconds = quick ? 6 : 12;
  const people = ctx.fixtures.people.slice(0, Math.min(ctx.fixtures.people.length, 128));
  await resetQueues(ctx.db);
  const bus = mode === 'nats' ? await startNatsProcess() : null;
  const nodes: NodeProcess[] = [];
  const daemons: DaemonConn[] = [];
  try {
    // Two at a time: sixteen cold starts at once on two cores only time out.
    for (let i = 0; i < nodeCount; i += 2) {
      const batch = await Promise.all([i, i + 1].filter((n) => n < nodeCount).map((n) => startNode(ctx, n, bus)));
      nodes.push(...batch);
    }
    const sentAt = new Map<number, number>();
    const latencies: number[] = [];
    for (const [i, person] of people.entries()) {
      const node = nodes[i % nodes.length] as NodeProcess;
      const conn: DaemonConn = openConn(
        'raw',
        node.url,
        person.token,
        {
          onEvent: (kind, items, receivedAt) => {
            if (kind !== 'live') return;
            for (const item of items) {
              const sent = sentAt.get(Number(item.message.slice('fanout '.length)));
              if (sent !== undefined) latencies.push(receivedAt - sent);
            }
            if (items.length) conn.ack(items.map((item) => item.id));
          },
          onAcked: () => undefined,
          onAckFailed: () => undefined,
          onLost: () => undefined,
        },
        30_000,
      );
      daemons.push(conn);
    }
    await Promise.all(daemons.map((d) => d.ready));
    await sleep(1_000);

    const cpuOf = (pids: number[]) => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
    const nodePids = nodes.map((n) => n.pid);
    // What the idle nodes burn anyway (timers, heartbeats) is measured first and taken off: the row is the wake-ups' cost.
    const idleStart = cpuOf(nodePids);
    const idleStarted = performance.now();
    await sleep(seconds * 1000);
    const idlePerSecond = (cpuOf(nodePids) - idleStart) / ((performance.now() - idleStarted) / 1000);
    const cpuBefore = cpuOf(nodePids);
    const busBefore = bus ? cpuSeconds(bus.pid) : 0;
    let sent = 0;
    let seq = 0;
    const refused: Record<string, number> = {};
    const posts: Promise<void>[] = [];
    const started = performance.now();
    const tickMs = 20;
    for (let tick = 0; performance.now() - started < seconds * 1000; tick++) {
      // By the clock, not the tick count: a late tick on a busy machine sends what is due.
      const due = Math.min(rate * seconds, Math.round(((performance.now() - started + tickMs) * rate) / 1000)) - seq;
      for (let k = 0; k < due; k++) {
        const n = seq++;
        const person = people[n % people.length] as (typeof people)[number];
        const node = nodes[n % nodes.length] as NodeProcess;
        sentAt.set(n, performance.timeOrigin + performance.now());
        posts.push(
          fetch(`${node.url}/${ctx.fixtures.appid}/notification`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${ctx.fixtures.key}` },
            body: JSON.stringify([{ UID: person.uid, message: `fanout ${n}`, action: 'https://chat.example/' }]),
          }).then(
            async (response) => {
              await response.arrayBuffer();
              if (response.status === 200) sent++;
              else refused[response.status] = (refused[response.status] ?? 0) + 1;
            },
            () => void (refused.error = (refused.error ?? 0) + 1),
          ),
        );
      }
      const next = started + (tick + 1) * tickMs;
      await sleep(Math.max(0, next - performance.now()));
    }
    await Promise.all(posts);
    // Every item in, or 10 s more.
    for (const deadline = Date.now() + 10_000; latencies.length < sent && Date.now() < deadline;) await sleep(100);
    const nodeCpu = Math.max(0, cpuOf(nodePids) - cpuBefore - idlePerSecond * ((performance.now() - started) / 1000));
    const busCpu = bus ? cpuSeconds(bus.pid) - busBefore : 0;
    const sorted = sortNumbers(latencies);
    const row: FanoutRow = {
      mode,
      nodes: nodeCount,
      daemons: people.length,
      sent,
      received: latencies.length,
      refused,
      ratePerSecond: rate,
      nodeCpuPerThousand: (nodeCpu * 1000) / Math.max(1, sent),
      busCpuPerThousand: (busCpu * 1000) / Math.max(1, sent),
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
    };
    const refusals = Object.entries(refused).map(([k, v]) => `${k} ×${v}`);
    ctx.log(
      `  ${mode}, ${nodeCount} nodes: ${row.received}/${sent} received${refusals.length ? ` (POSTs refused: ${refusals.join(', ')})` : ''}; nodes ${fmt(row.nodeCpuPerThousand)} CPU s per 1,000` +
        `${bus ? ` (nats-server ${fmt(row.busCpuPerThousand)})` : ''}; POST→receipt p50 ${fmt(row.p50Ms)} ms, p99 ${fmt(row.p99Ms)} ms`,
    );
    return row;
  } finally {
    await Promise.all(daemons.map((d) => d.close().catch(() => undefined)));
    await Promise.all(nodes.map((n) => n.stop()));
    await bus?.stop();
  }
}

export async function runFanout(ctx: BenchContext): Promise<FanoutResult> {
  const result: FanoutResult = { rows: [], skipped: [] };
  const nodeCounts = ctx.settings.quick ? [1, 4] : [1, 4, 16];
  const modes: FanoutMode[] = ['notify'];
  if (natsServerInstalled()) modes.push('nats');
  else result.skipped.push('nats: nats-server is not installed (apt-get install -y nats-server)');
  for (const nodes of nodeCounts) {
    for (const mode of modes) result.rows.push(await measure(ctx, mode, nodes));
  }
  return result;
}
