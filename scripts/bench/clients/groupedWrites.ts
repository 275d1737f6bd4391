/**
 * Group commit for the benchmark's floors (bareHttpServer.ts, relayFloor.ts):
 * what was submitted while a group ran goes together in the next, with a
 * fixed number of groups in flight, as the service's coalescer
 * (src/server/platform/db/coalescer.ts; not imported, so the floors load
 * nothing of the service). Each submit settles with its group.
 */
export class GroupedWrites<T> {
  private waiting: { item: T; resolve(): void; reject(error: unknown): void }[] = [];
  private running = 0;
  private scheduled = false;

  /** `gatherMs`: how long a write that finds no group starting waits for others (0: the end of the I/O turn). */
  constructor(
    private readonly write: (items: T[]) => Promise<unknown>,
    private readonly options: { inFlight?: number; gatherMs?: number } = {},
  ) {}

  submit(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      // What arrives in one I/O turn (or within gatherMs) starts together.
      if (!this.scheduled) {
        this.scheduled = true;
        const start = () => {
          this.scheduled = false;
          this.start();
        };
        if (this.options.gatherMs) setTimeout(start, this.options.gatherMs);
        else setImmediate(start);
      }
    });
  }

  private start(): void {
    while (this.running < (this.options.inFlight ?? 2) && this.waiting.length > 0) {
      const group = this.waiting;
      this.waiting = [];
      this.running++;
      this.write(group.map((w) => w.item))
        .then(
          () => group.forEach((w) => w.resolve()),
          (error: unknown) => group.forEach((w) => w.reject(error)),
        )
        .finally(() => {
          this.running--;
          this.start();
        });
    }
  }
}
