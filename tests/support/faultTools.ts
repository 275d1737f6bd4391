/**
 * Small tools for the fault suite (tests/faults): free ports, raw HTTP
 * requests whose bytes and headers the test controls, and polling.
 */
import http from 'node:http';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServerProcess, type ServerEnv, type ServerProcess } from './serverProcess.ts';

/** Linux's default range of ephemeral ports starts here: a port below it is never given to an outgoing connection. */
const EPHEMERAL_PORTS_START = 32_768;

/**
 * A port that was free a moment ago on 127.0.0.1, for a server that must
 * come back at the same address: below the ephemeral range, so that no
 * outgoing connection of a test running beside it can take the port between
 * a stop and the restart (a port the system chose did once, and the restart
 * failed with EADDRINUSE).
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * (EPHEMERAL_PORTS_START - 20_000));
    if (await canListen(port)) return port;
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body as UTF-8 text. */
  text: string;
}

/**
 * One HTTP request with exactly these headers and body bytes (no default
 * Content-Type, no re-encoding). Rejects on connection errors.
 */
export function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: Uint8Array | string; agent?: http.Agent; timeoutMs?: number } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const body = options.body === undefined ? undefined : typeof options.body === 'string' ? Buffer.from(options.body, 'utf8') : options.body;
    const req = http.request(
      url,
      {
        method: options.method ?? 'POST',
        headers: { ...(body === undefined ? {} : { 'Content-Length': String(body.byteLength) }), ...options.headers },
        agent: options.agent,
        timeout: options.timeoutMs ?? 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.once('error', reject);
      },
    );
    req.once('timeout', () => req.destroy(new Error(`no answer from ${url} within ${options.timeoutMs ?? 30_000} ms`)));
    req.once('error', reject);
    req.end(body);
  });
}

/**
 * Polls `check` until it returns true, or throws after `timeoutMs` with
 * `describe()` in the message (what was still missing).
 */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  options: { timeoutMs: number; intervalMs?: number; describe: () => string },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`still not done after ${options.timeoutMs / 1000} s: ${options.describe()}`);
    await sleep(options.intervalMs ?? 100);
  }
}

/** Runs `body`; on failure prints the property's seed so the run can be repeated. */
export async function withSeed<T>(name: string, seed: number, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    console.error(`[fault suite] property "${name}" failed with seed ${seed} (fc.assert(..., { seed: ${seed} }) reproduces it)`);
    throw error;
  }
}

/**
 * startServerProcess, retried twice when the start fails for a reason another
 * engineer's concurrent `next build` can cause (a missing or half-written
 * `.next`), so a rebuild in progress does not fail the suite.
 */
export async function startServerWithRetry(env: ServerEnv): Promise<ServerProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startServerProcess(env);
    } catch (error) {
      const transient = /production build|\.next|BUILD_ID|ENOENT/i.test(String(error));
      if (!transient || attempt >= 3) throw error;
      await sleep(5_000);
    }
  }
}
