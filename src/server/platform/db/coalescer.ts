/**
 * Coalescing: requests that arrive while the database is busy with earlier
 * ones wait, and go together in the next round trip. For writes this is
 * group commit: a burst of small pushes or acks costs one commit (one WAL
 * flush, one NOTIFY) instead of one each; for reads, one query instead of
 * thousands when a reconnect storm arrives. A lone request starts at once:
 * nothing waits for company, unless the coalescer is told to gather (for
 * writes nobody waits on, where a group is cheaper than its parts).
 */

/** What one job of a group came to: its value, or its own refusal. */
export type JobOutcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

export interface CoalescerOptions<J> {
  /** Groups running at once (each on its own connection); 2 by default: one runs while the next gathers. */
  concurrency?: number;
  /** The most weight one group takes; a heavier job goes alone. */
  maxWeight: number;
  /** A job's weight (e.g. its notifications); 1 by default. */
  weight?(job: J): number;
  /** Jobs with the same key never share a group (the later one goes in a later group). */
  exclusiveKey?(job: J): string | null;
  /** How long a job that finds no group about to start waits for others to join it (a group that ends starts the next at once); 0 by default. */
  gatherMs?: number;
}

interface Waiting<J, R> {
  job: J;
  resolve(value: R): void;
  reject(error: unknown): void;
}

/**
 * Runs jobs in groups through `run`, which answers each job of a group in
 * order, or throws to fail the whole group. `submit` resolves or rejects
 * with its own job's outcome once its group is done.
 */
export class Coalescer<J, R> {
  private waiting: Waiting<J, R>[] = [];
  private running = 0;
  private scheduled = false;

  constructor(
    private readonly run: (jobs: J[]) => Promise<JobOutcome<R>[]>,
    private readonly options: CoalescerOptions<J>,
  ) {}

  submit(job: J): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ job, resolve, reject });
      // Jobs submitted by handlers of the same I/O turn (or within gatherMs) start together.
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
    while (this.running < (this.options.concurrency ?? 2) && this.waiting.length > 0) {
      const group = this.takeGroup();
      this.running++;
      void this.runGroup(group).finally(() => {
        this.running--;
        this.start();
      });
    }
  }

  /** The oldest waiting jobs up to the weight limit (at least one), skipping those whose key is already in. */
  private takeGroup(): Waiting<J, R>[] {
    const { maxWeight, weight, exclusiveKey } = this.options;
    const group: Waiting<J, R>[] = [];
    const left: Waiting<J, R>[] = [];
    const keys = new Set<string>();
    let total = 0;
    for (const waiting of this.waiting) {
      const w = weight?.(waiting.job) ?? 1;
      const key = exclusiveKey?.(waiting.job) ?? null;
      const fits = group.length === 0 || total + w <= maxWeight;
      if (fits && (key === null || !keys.has(key))) {
        group.push(waiting);
        total += w;
        if (key !== null) keys.add(key);
      } else {
        left.push(waiting);
      }
    }
    this.waiting = left;
    return group;
  }

  private async runGroup(group: Waiting<J, R>[]): Promise<void> {
    try {
      const outcomes = await this.run(group.map((w) => w.job));
      group.forEach((waiting, i) => {
        const outcome = outcomes[i];
        if (outcome?.ok) waiting.resolve(outcome.value);
        else waiting.reject(outcome ? outcome.error : new Error('coalescer: no outcome for a job'));
      });
    } catch (error) {
      for (const waiting of group) waiting.reject(error);
    }
  }
}
