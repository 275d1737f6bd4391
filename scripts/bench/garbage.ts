/**
 * A full garbage collection on request, so that memory is read as what is
 * live rather than what the last collection happened to leave: the young
 * generation alone can hold tens of MiB of garbage, which over 19,000
 * connections moves the V8 heap per connection by more than a KiB between
 * runs. (RSS still moves with the young generation's size, which grows
 * with the rate of allocation and which no collection gives back.)
 *
 * Called by the bare `ws` server when asked, and in the bench's servers by
 * collectOnSignal.ts.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

/** What a server that collectOnSignal.ts is preloaded into prints after each collection. */
export const COLLECTED = 'bench: garbage collected';

let gc: (() => void) | undefined;

export function collectGarbage(): void {
  if (!gc) {
    // The flag exposes `gc` to contexts made after it is set, without starting Node with --expose-gc.
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc') as () => void;
  }
  gc();
}
