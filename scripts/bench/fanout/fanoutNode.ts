/**
 * One node for the fan-out phase: the real server without the Next.js pages
 * (start-up in a second, not ten), configured by the environment like
 * `npm start`. Prints `listening <url>` once ready; stops on SIGTERM.
 */
import { loadConfig } from '../../../src/server/platform/config.ts';
import { startPresence } from '../../../src/server/server.ts';

async function main(): Promise<void> {
  const node = await startPresence(loadConfig(), { web: false });
  console.log(`listening ${node.url}`);
  process.once('SIGTERM', () => {
    void node.close().finally(() => process.exit(0));
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
