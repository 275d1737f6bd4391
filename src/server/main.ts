/**
 * `npm start`: runs one Presence node until SIGINT or SIGTERM (or, when npm
 * started it, until npm goes away), and stops within a bound whatever
 * connections are still open.
 */
import { startupBanner } from './banner.ts';
import { loadConfig } from './platform/config.ts';
import { startPresence } from './server.ts';

/** Longest a graceful stop may take before every connection is dropped and PostgreSQL stopped anyway. */
const STOP_TIMEOUT_MS = 10_000;

/** Calls `onGone` once the parent process has exited (this process is then adopted by another). */
function watchParent(onGone: () => void): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onGone();
  }, 500);
  timer.unref();
}

async function main(): Promise<void> {
  const config = loadConfig();
  const node = await startPresence(config, { dev: process.argv.includes('--dev') });
  console.log(
    startupBanner({
      node,
      dataDir: config.PRESENCE_DATA_DIR,
      interactive: process.stdout.isTTY === true,
      operatorTokenFromEnvironment: config.ADMIN_TOKEN !== undefined,
    }),
  );

  // Whatever happens to the graceful close, the embedded PostgreSQL is stopped before exiting.
  const exit = async (code: number) => {
    await node.embedded?.stop().catch((error: unknown) => console.error('error while stopping PostgreSQL', error));
    process.exit(code);
  };
  let stopping = false;
  const stop = (reason: string) => {
    if (stopping) {
      console.log(`${reason}: stopping now`);
      void exit(1);
      return;
    }
    stopping = true;
    console.log(`${reason}: stopping`);
    // Not unref'd: an emptied event loop must not end the process before PostgreSQL is stopped.
    setTimeout(() => {
      console.error(`not stopped within ${STOP_TIMEOUT_MS / 1000} s: dropping every connection and stopping now`);
      void exit(1);
    }, STOP_TIMEOUT_MS);
    node.close().then(
      () => exit(0),
      (error: unknown) => {
        console.error('error while stopping', error);
        return exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // npm passes signals on, but a killed npm cannot: its node would run on, unseen.
  if (config.npm_lifecycle_event !== undefined) watchParent(() => stop('npm exited'));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
