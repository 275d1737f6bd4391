/**
 * A client process that holds many daemon connections (forked by the
 * orchestrator; several of them share the connections, each under its own
 * 20,000 open-files limit). Daemons behave like the real one: they
 * subscribe, and acknowledge every item they receive.
 */
import { backoffDelay } from '../../../src/shared/backoff.ts';
import { openConn, type ClientKind, type DaemonConn } from './daemonConn.ts';
import { progress, serve } from './ipc.ts';

const now = () => performance.timeOrigin + performance.now();

export interface ConnectParams {
  server: string;
  tokens: string[];
  kind: ClientKind;
  /** Handshakes in flight at once; 0 = all at once (a reconnect storm). */
  maxPending: number;
  /** Attempts per daemon after the first, with the daemon's backoff (0.5 s doubling, with jitter). */
  retries: number;
  /** Per attempt: until the backlog arrives. */
  attemptTimeoutMs: number;
  /** Give up on everything not connected by then (ms from the call). */
  deadlineMs: number;
}

export interface ConnectResult {
  established: number;
  failed: number;
  retried: number;
  /** Failure reasons of attempts, by kind. */
  errors: Record<string, number>;
  /** From the call to the last backlog received. */
  elapsedMs: number;
  startedAt: number;
}

export interface WorkerStatus {
  open: number;
  lost: number;
  lostReasons: Record<string, number>;
  backlogItems: number;
  liveItems: number;
  ackedItems: number;
  /** Ack calls that failed (each is retried with backoff, up to 8 times). */
  ackFailures: number;
  ackFailureReasons: Record<string, number>;
  /** Wall-clock time of the last backlog event and of the last ack answer (NaN if none). */
  lastBacklogAt: number;
  lastAckAt: number;
}

const conns: DaemonConn[] = [];
const state = {
  lost: 0,
  lostReasons: {} as Record<string, number>,
  backlogItems: 0,
  liveItems: 0,
  ackedItems: 0,
  ackFailures: 0,
  ackFailureReasons: {} as Record<string, number>,
  lastBacklogAt: Number.NaN,
  lastAckAt: Number.NaN,
};
/** Latency phase: tag → receipt time of the first delivery of "latency <tag> <sentAt>". */
let receipts = new Map<number, number>();
const latencyMessage = /^latency (\d+) /;

function count(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

function shortReason(message: string): string {
  return message.replace(/\d{3,}/g, 'N').slice(0, 60);
}

async function connect(p: ConnectParams): Promise<ConnectResult> {
  const startedAt = now();
  const deadline = startedAt + p.deadlineMs;
  const errors: Record<string, number> = {};
  let established = 0;
  let failed = 0;
  let retried = 0;
  let lastReady = startedAt;
  let next = 0;
  let lastReport = startedAt;

  const attempt = (token: string): DaemonConn => {
    let conn: DaemonConn | null = null;
    conn = openConn(
      p.kind,
      p.server,
      token,
      {
        onEvent(kind, items, receivedAt) {
          if (kind === 'backlog') {
            state.backlogItems += items.length;
            state.lastBacklogAt = receivedAt;
          } else {
            state.liveItems += items.length;
            for (const item of items) {
              const tag = latencyMessage.exec(item.message);
              if (tag && !receipts.has(Number(tag[1]))) receipts.set(Number(tag[1]), receivedAt);
            }
          }
          // Purge after receipt, as the daemon does.
          if (items.length > 0) conn?.ack(items.map((i) => i.id));
        },
        onAcked(n) {
          state.ackedItems += n;
          state.lastAckAt = now();
        },
        onAckFailed(ids, reason, attempt) {
          // The real daemon leaves such items for its next connection; a benchmark daemon retries
          // (counted), so that "drained" measures the server rather than waiting for a reconnect.
          state.ackFailures++;
          count(state.ackFailureReasons, shortReason(reason));
          if (attempt >= 8) return;
          const backoff = backoffDelay(attempt, 500, 8_000);
          setTimeout(() => conn?.ack(ids, attempt + 1), backoff);
        },
        onLost(reason) {
          state.lost++;
          count(state.lostReasons, shortReason(reason));
        },
      },
      Math.max(1, Math.min(p.attemptTimeoutMs, deadline - now())),
    );
    return conn;
  };

  const runner = async () => {
    // Bounded: each runner takes tokens until none is left; each token gets 1 + retries attempts before the deadline.
    while (next < p.tokens.length) {
      const token = p.tokens[next++] as string;
      for (let tries = 0; ; tries++) {
        const conn = attempt(token);
        try {
          await conn.ready;
          conns.push(conn);
          established++;
          lastReady = now();
          break;
        } catch (error) {
          count(errors, shortReason((error as Error).message));
          await conn.close().catch(() => undefined);
          const backoff = backoffDelay(tries, 500, 8_000);
          if (tries >= p.retries || now() + backoff >= deadline) {
            failed++;
            break;
          }
          retried++;
          await new Promise((resolve) => setTimeout(resolve, backoff));
        }
      }
      if (now() - lastReport > 5_000) {
        lastReport = now();
        progress(`${established} connected, ${failed} failed, ${p.tokens.length - next} to go`);
      }
    }
  };
  const runners = p.maxPending > 0 ? Math.min(p.maxPending, p.tokens.length) : p.tokens.length;
  await Promise.all(Array.from({ length: runners }, runner));
  return { established, failed, retried, errors, elapsedMs: lastReady - startedAt, startedAt };
}

async function status(): Promise<WorkerStatus> {
  return { open: conns.length - state.lost, ...state, lostReasons: { ...state.lostReasons }, ackFailureReasons: { ...state.ackFailureReasons } };
}

async function takeReceipts(): Promise<{ tags: Float64Array; at: Float64Array }> {
  const tags = Float64Array.from(receipts.keys());
  const at = Float64Array.from(receipts.values());
  receipts = new Map();
  return { tags, at };
}

async function closeAll(): Promise<{ closed: number }> {
  const closing = conns.splice(0, conns.length);
  const all = Promise.all(closing.map((c) => c.close().catch(() => undefined)));
  await Promise.race([all, new Promise((resolve) => setTimeout(resolve, 30_000))]);
  state.lost = 0;
  state.lostReasons = {};
  return { closed: closing.length };
}

async function resetCounters(): Promise<{ ok: true }> {
  Object.assign(state, {
    backlogItems: 0,
    liveItems: 0,
    ackedItems: 0,
    ackFailures: 0,
    ackFailureReasons: {},
    lastBacklogAt: Number.NaN,
    lastAckAt: Number.NaN,
  });
  return { ok: true };
}

serve({ connect, status, takeReceipts, closeAll, resetCounters });
