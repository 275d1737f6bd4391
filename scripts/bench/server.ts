/**
 * The real server, as `npm start` runs it, in a child process of its own:
 * its CPU and memory are read from /proc by pid, apart from the clients'.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { COLLECTED } from './garbage.ts';

export const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface BenchServer {
  url: string;
  pid: number;
  /** performance.now() when the process was spawned (to place windows in its CPU profile). */
  spawnedAt: number;
  /** The last lines it printed (for error messages). */
  tail(): string;
  /** SIGTERM (the server closes cleanly, so a --cpu-prof profile gets written), SIGKILL after 20 s. */
  stop(): Promise<void>;
  exited(): boolean;
  /** A full garbage collection, done when this resolves (only with the `collectsGarbage` option). */
  collectGarbage(): Promise<void>;
}

const buildId = () => existsSync(`${projectRoot}/.next/BUILD_ID`);

/**
 * The server serves Next.js pages too and refuses to start without a
 * production build. A `.next` folder without BUILD_ID usually means someone
 * else's `next build` (e.g. `npm test`) is running right now: wait for it
 * (bounded) rather than racing it with a second build in the same folder.
 */
async function ensureNextBuild(log: (line: string) => void): Promise<void> {
  if (buildId()) return;
  if (existsSync(`${projectRoot}/.next`)) {
    log('.next has no BUILD_ID: waiting up to 3 min for a `next build` in progress…');
    for (const deadline = Date.now() + 180_000; Date.now() < deadline && !buildId();) await new Promise((resolve) => setTimeout(resolve, 2_000));
    if (buildId()) return;
  }
  log('no .next build: running `npx next build` first…');
  await new Promise<void>((resolve, reject) => {
    const build = spawn('npx', ['next', 'build'], { cwd: projectRoot, stdio: ['ignore', 'inherit', 'inherit'] });
    build.once('error', reject);
    build.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`next build failed (exit ${code})`))));
  });
}

export async function startBenchServer(options: {
  databaseUrl: string;
  cpuProfDir?: string;
  log: (line: string) => void;
  /** Settings on top of the bench's own (e.g. a smaller DATABASE_POOL_SIZE for extra nodes). */
  env?: Record<string, string>;
  /** Modules the server imports before its own, after tsx (e.g. scripts/bench/queryCounter.ts). */
  preload?: string[];
  /** Preloads scripts/bench/collectOnSignal.ts, for collectGarbage(). */
  collectsGarbage?: boolean;
}): Promise<BenchServer> {
  await ensureNextBuild(options.log);
  const preload = [...(options.preload ?? []), ...(options.collectsGarbage ? [fileURLToPath(new URL('collectOnSignal.ts', import.meta.url))] : [])];
  const args = ['--import', 'tsx', ...preload.flatMap((module) => ['--import', module])];
  if (options.cpuProfDir) args.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`);
  args.push('src/server/main.ts');
  const spawnedAt = performance.now();
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: projectRoot,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      DATABASE_URL: options.databaseUrl,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      // Counted like a limited app (the default), but too high to refuse: one app here sends thousands a second.
      RATE_LIMIT_PER_SECOND: '1000000',
      // The dashboard is not benchmarked; a fixed token only keeps the start-up warning away.
      ADMIN_TOKEN: 'bench-operator-token-not-secret',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let collections = 0;
  const keep = (chunk: string) => {
    const added = chunk.split('\n').filter(Boolean);
    collections += added.filter((line) => line === COLLECTED).length;
    lines.push(...added);
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  child.stdout?.setEncoding('utf8').on('data', keep);
  child.stderr?.setEncoding('utf8').on('data', keep);
  let hasExited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((hasExited = true), resolve())));

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within 90 s:\n${lines.join('\n')}`)), 90_000);
    const check = () => {
      const match = /Presence is running at (\S+)/.exec(lines.join('\n'));
      if (match) {
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    };
    child.stdout?.on('data', check);
    void exit.then(() => {
      clearTimeout(timer);
      reject(new Error(`server exited during start-up:\n${lines.join('\n')}`));
    });
  }).catch(async (error: unknown) => {
    if (!hasExited) child.kill('SIGKILL');
    await exit;
    throw error;
  });

  return {
    url,
    pid: child.pid as number,
    spawnedAt,
    tail: () => lines.slice(-30).join('\n'),
    exited: () => hasExited,
    async collectGarbage() {
      if (!options.collectsGarbage) throw new Error('this server was started without collectsGarbage');
      const done = collections + 1;
      child.kill('SIGUSR2');
      const deadline = Date.now() + 30_000;
      while (collections < done) {
        if (hasExited || Date.now() > deadline) throw new Error(`the server did not collect its garbage within 30 s:\n${lines.slice(-30).join('\n')}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async stop() {
      if (hasExited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exit;
      clearTimeout(timer);
    },
  };
}
