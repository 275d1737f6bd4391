/**
 * A tiny request/response protocol over Node's IPC channel, between the
 * orchestrator and the client processes it forks. Load is generated in
 * separate processes so that the client's CPU is not taken from the server's
 * event loop, and can be measured on its own.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

interface Request {
  id: number;
  method: string;
  params: unknown;
}

type Reply = { id: number; result: unknown } | { id: number; error: string };

interface Progress {
  progress: string;
}

/** A forked client process that answers requests. */
export class WorkerProcess {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exitError: Error | null = null;
  readonly child: ChildProcess;

  /** `module` is relative to this folder (e.g. "loadWorker.ts"); progress lines go to `log`. */
  constructor(
    module: string,
    readonly name: string,
    log: (line: string) => void,
    extraExecArgv: string[] = [],
  ) {
    const path = fileURLToPath(new URL(module, import.meta.url));
    this.child = fork(path, [], {
      execArgv: ['--import', 'tsx', ...extraExecArgv],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // The large result arrays (latency samples) cross the channel faster this way.
      serialization: 'advanced',
    });
    this.child.on('message', (message: Reply | Progress) => {
      if ('progress' in message) return log(`  [${name}] ${message.progress}`);
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if ('error' in message) waiter.reject(new Error(`${name}: ${message.error}`));
      else waiter.resolve(message.result);
    });
    this.child.once('exit', (code, signal) => {
      this.exitError = new Error(`${name} exited (${signal ?? `code ${code}`})`);
      for (const waiter of this.pending.values()) waiter.reject(this.exitError);
      this.pending.clear();
    });
  }

  get pid(): number {
    return this.child.pid as number;
  }

  /** Sends a request; rejects after `timeoutMs` so that no phase can hang forever. */
  request<T>(method: string, params: unknown, timeoutMs: number): Promise<T> {
    if (this.exitError) return Promise.reject(this.exitError);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: ${method} did not answer within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.send({ id, method, params } satisfies Request);
    });
  }

  /** Asks it to exit, then kills it (this process's own child, by its pid) if it does not. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    if (this.child.connected) this.child.disconnect();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * The worker side: answers requests with `handlers`, and exits when the
 * orchestrator goes away (the IPC channel closes), so a crashed run leaves no
 * client behind.
 */
export function serve(handlers: Record<string, (params: never) => Promise<unknown>>): void {
  if (!process.send) throw new Error('this module runs as a forked worker of scripts/bench/run.ts');
  process.on('message', (message: Request) => {
    const handler = handlers[message.method];
    const answer = (reply: Reply) => process.send?.(reply);
    if (!handler) return answer({ id: message.id, error: `unknown method ${message.method}` });
    handler(message.params as never).then(
      (result) => answer({ id: message.id, result }),
      (error: unknown) => answer({ id: message.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}

/** Progress for the orchestrator's stderr. */
export function progress(line: string): void {
  process.send?.({ progress: line } satisfies Progress);
}
