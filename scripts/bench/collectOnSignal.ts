/**
 * Preloaded into the bench's servers (`node --import`, scripts/bench/run.ts):
 * SIGUSR2 asks for a full garbage collection, and a line on stdout says it
 * is done (BenchServer.collectGarbage waits for it). The statement counter
 * of roundTrips.ts listens to SIGUSR2 too; the two are never preloaded
 * together.
 */
import { COLLECTED, collectGarbage } from './garbage.ts';

process.on('SIGUSR2', () => {
  collectGarbage();
  process.stdout.write(`${COLLECTED}\n`);
});
