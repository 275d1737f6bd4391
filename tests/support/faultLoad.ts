/**
 * Load for the fault tests: concurrent POSTs of small batches, each spread
 * over distinct UIDs, through one or more nodes, remembering which
 * notifications were acknowledged (200) and which were only attempted.
 *
 * No queue can reach the 100-item cap (which would legitimately drop items):
 * every batch goes to the UIDs with the fewest items that may have been
 * stored, and a UID never gets more than `maxPerUid` of them, whether or not
 * daemons acknowledge anything. A POST refused at connect (ECONNREFUSED)
 * certainly stored nothing and is not counted; any other failure may have
 * committed before the server died, so it is.
 */
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { rawRequest } from './faultTools.ts';

export interface LoadOptions {
  /** Node base URLs; POSTs go to them in turn. */
  targets: readonly string[];
  appid: string;
  key: string;
  /** The UIDs to spread items over; item messages are `n=<counter>`. */
  uids: readonly string[];
  /** Items per POST, each on a different UID (default 10). */
  batch?: number;
  /** POSTs in flight (default 6). */
  concurrency?: number;
  /** Most items that may be stored per UID over the whole run (default 90, under the cap of 100). */
  maxPerUid?: number;
  /** Pause after a failed POST, in ms (default 50). */
  pauseAfterErrorMs?: number;
  /**
   * Most items sent a second, over all the POSTs in flight (default: as fast
   * as the answers come). The items a run may send are bounded (`maxPerUid`
   * per UID), so a test that waits for something under load, for however
   * long that takes, spends them at this rate rather than at the service's.
   */
  itemsPerSecond?: number;
}

export interface Refusal {
  target: string;
  status: number;
  body: string;
  /** When the answer came (Date.now()). */
  at: number;
  retryAfter: string | undefined;
}

export class FaultLoad {
  /** message → index of its UID, for every item of a POST answered 200. */
  readonly acked = new Map<string, number>();
  /** message → index of its UID, for every item ever sent. */
  readonly sent = new Map<string, number>();
  /** POSTs that got no answer (connection refused, reset, …). */
  connectionErrors = 0;
  /** POSTs refused with ECONNREFUSED. */
  refusedConnections = 0;
  /** POSTs answered with something other than 200. */
  readonly refusals: Refusal[] = [];
  /** Answers per target URL that were 200. */
  readonly okByTarget = new Map<string, number>();
  /** When each 200 came (Date.now()), in order. */
  readonly okAt: number[] = [];
  /** Set when a worker stopped because every UID reached `maxPerUid`. */
  saturated = false;

  private counter = 0;
  private posts = 0;
  /** When the next POST may go, with itemsPerSecond (Date.now()). */
  private nextPostAt = 0;
  private running = false;
  private workers: Promise<void>[] = [];
  private readonly mayBeStored: number[];
  private readonly agents: Map<string, http.Agent>;
  private readonly batch: number;
  private readonly maxPerUid: number;

  constructor(private readonly options: LoadOptions) {
    this.batch = options.batch ?? 10;
    this.maxPerUid = options.maxPerUid ?? 90;
    if (this.batch > options.uids.length) throw new Error('a batch spreads over distinct UIDs: batch must not exceed the number of UIDs');
    this.mayBeStored = options.uids.map(() => 0);
    this.agents = new Map(options.targets.map((target) => [target, new http.Agent({ keepAlive: true, maxSockets: options.concurrency ?? 6 })]));
  }

  start(): void {
    this.running = true;
    this.workers = Array.from({ length: this.options.concurrency ?? 6 }, () => this.work());
  }

  /** Stops sending and waits for the POSTs in flight. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
    for (const agent of this.agents.values()) agent.destroy();
  }

  /** The acked messages of one UID. */
  ackedFor(uidIndex: number): string[] {
    return [...this.acked].filter(([, index]) => index === uidIndex).map(([message]) => message);
  }

  /** The most items any UID may hold. */
  maxMayBeStored(): number {
    return Math.max(...this.mayBeStored);
  }

  /** Waits for this POST's turn under itemsPerSecond. */
  private async pace(): Promise<void> {
    const rate = this.options.itemsPerSecond;
    if (!rate) return;
    const now = Date.now();
    const at = Math.max(now, this.nextPostAt);
    this.nextPostAt = at + (this.batch * 1000) / rate;
    if (at > now) await sleep(at - now);
  }

  private count(uidIndex: number, delta: number): void {
    this.mayBeStored[uidIndex] = (this.mayBeStored[uidIndex] ?? 0) + delta;
  }

  private pickUids(): number[] | null {
    const order = this.mayBeStored.map((count, index) => ({ count, index })).sort((a, b) => a.count - b.count || a.index - b.index);
    const chosen = order.slice(0, this.batch);
    if (chosen.some((c) => c.count + 1 > this.maxPerUid)) return null;
    return chosen.map((c) => c.index);
  }

  private async work(): Promise<void> {
    const { targets, appid, key, uids } = this.options;
    while (this.running) {
      await this.pace();
      if (!this.running) return;
      const chosen = this.pickUids();
      if (!chosen) {
        this.saturated = true;
        return;
      }
      const items = chosen.map((uidIndex) => ({ uidIndex, message: `n=${this.counter++}` }));
      for (const { uidIndex, message } of items) {
        this.count(uidIndex, +1);
        this.sent.set(message, uidIndex);
      }
      const target = targets[this.posts++ % targets.length] as string;
      const body = JSON.stringify(items.map(({ uidIndex, message }) => ({ UID: uids[uidIndex], message, action: 'https://example.com/fault' })));
      try {
        const res = await rawRequest(`${target}/${appid}/notification`, {
          headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
          body,
          agent: this.agents.get(target),
          timeoutMs: 20_000,
        });
        if (res.status === 200) {
          for (const { uidIndex, message } of items) this.acked.set(message, uidIndex);
          this.okByTarget.set(target, (this.okByTarget.get(target) ?? 0) + 1);
          this.okAt.push(Date.now());
        } else {
          // An answer other than 200 stored nothing (all or nothing).
          for (const { uidIndex } of items) this.count(uidIndex, -1);
          this.refusals.push({ target, status: res.status, body: res.text.slice(0, 300), at: Date.now(), retryAfter: res.headers['retry-after'] });
        }
      } catch (error) {
        this.connectionErrors++;
        if ((error as NodeJS.ErrnoException).code === 'ECONNREFUSED') {
          this.refusedConnections++;
          for (const { uidIndex } of items) this.count(uidIndex, -1);
        }
        await sleep(this.options.pauseAfterErrorMs ?? 50);
      }
    }
  }
}
