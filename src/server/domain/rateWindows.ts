/**
 * The per-second rate windows of apps whose keys a node knows
 * (`KnownApps` in apps.ts). The first request of an app in each second is
 * counted in the database, as every request was before, which tells the
 * node the window's count so far; the node counts the rest of that second
 * itself and adds its counts to the shared rows of `rate_windows` in the
 * background, one statement for every app at most every
 * {@link FLUSH_EVERY_MS}, instead of one round trip per request (a third of
 * a delivered item's statements: docs/benchmarks.md). A request's place in
 * its window is the count the database last gave, plus what this node
 * counted since: exact on one node (a request still being counted in the
 * database is placed before those counted here meanwhile, so their counts
 * wait for its answer before they are added); with several, a node hears
 * of the others' requests up to that much later, and together they may
 * admit a little more than the limit in that time.
 */
import type { Database } from '../platform/db/client.ts';
import { prepared } from '../platform/db/prepared.ts';

/** How long a node's counts wait before they are added to the shared windows. */
export const FLUSH_EVERY_MS = 100;

/** $1 appids, $2 window starts (epoch seconds), $3 counts, aligned: adds them, and returns each window's count now. */
const ADD_COUNTS = prepared(
  'add-rate-counts',
  `
  INSERT INTO rate_windows (app_id, window_start, count)
  SELECT app_id, to_timestamp(second), n FROM unnest($1::text[], $2::bigint[], $3::int[]) AS c(app_id, second, n)
  ON CONFLICT (app_id, window_start) DO UPDATE SET count = rate_windows.count + EXCLUDED.count
  RETURNING app_id, count`,
);

/** A request's place in its app's window, and the window's second (epoch seconds, by the database's clock). */
export interface WindowPlace {
  place: number;
  second: number;
}

/** One app's current window, as this node sees it. */
interface Window {
  /** Epoch second the window is for. */
  second: number;
  /** The window's count in the database when last seen (this node's counts added so far included). */
  shared: number;
  /** Counted here, not added to the database yet. */
  unsent: number;
  /** Counted here, being added to the database now: still places taken until its answer includes them in `shared`. */
  sending: number;
}

export class RateWindows {
  private readonly windows = new Map<string, Window>();
  /** Requests of each app being counted in the database now: their places are not known yet, so a place counted here comes after them. */
  private readonly asking = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly db: Database) {}

  /**
   * Counts one request of `appid` now: its place in the current second's
   * window; null when this node has not seen that window yet ({@link saw}):
   * the request is to be counted in the database.
   */
  count(appid: string, now = Date.now()): number | null {
    const window = this.windows.get(appid);
    if (window?.second !== Math.floor(now / 1_000)) return null;
    window.unsent++;
    this.flushSoon();
    return window.shared + window.sending + (this.asking.get(appid) ?? 0) + window.unsent;
  }

  /** Counts `appid`'s request in the database through `ask`, and learns the window's count and second from its answer (null: not counted). */
  async countThere<T>(appid: string, ask: () => Promise<T>, placeOf: (answer: T) => WindowPlace | null): Promise<T> {
    this.asking.set(appid, (this.asking.get(appid) ?? 0) + 1);
    let answer: T;
    try {
      answer = await ask();
    } finally {
      const left = (this.asking.get(appid) ?? 1) - 1;
      if (left === 0) this.asking.delete(appid);
      else this.asking.set(appid, left);
    }
    const counted = placeOf(answer);
    if (counted !== null) this.saw(appid, counted);
    if (!this.asking.has(appid) && (this.windows.get(appid)?.unsent ?? 0) > 0) this.flushSoon();
    return answer;
  }

  /** The database counted a request of `appid` itself, and gave its window's count then. */
  private saw(appid: string, { place: shared, second }: WindowPlace): void {
    const window = this.windows.get(appid);
    if (window?.second === second) window.shared = Math.max(window.shared, shared);
    // A window that ended while the answer came back tells nothing of the current one.
    else if (!window || window.second < second) this.windows.set(appid, { second, shared, unsent: 0, sending: 0 });
  }

  private flushSoon(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => void this.flush().catch(() => undefined), FLUSH_EVERY_MS);
    this.timer.unref();
  }

  /**
   * Adds what this node counted to the shared windows, and learns what the
   * other nodes counted. An app with requests still being counted in the
   * database waits: they were placed before its counts here, and adding
   * these first would place them after, past the limit (countThere flushes
   * once they are answered).
   */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const sent = new Map<string, { window: Window; n: number }>();
    for (const [appid, window] of this.windows) {
      if (window.unsent === 0 || this.asking.has(appid)) continue;
      sent.set(appid, { window, n: window.unsent });
      window.sending += window.unsent;
      window.unsent = 0;
    }
    if (sent.size === 0) return;
    try {
      const { rows } = await this.db.pool.query<{ app_id: string; count: number }>({
        ...ADD_COUNTS,
        values: [[...sent.keys()], [...sent.values()].map((s) => s.window.second), [...sent.values()].map((s) => s.n)],
      });
      for (const row of rows) {
        const window = sent.get(row.app_id)?.window;
        if (window) window.shared = Math.max(window.shared, row.count);
      }
    } catch (error) {
      // Not added: counted again with the next flush (a window of a second gone by is no longer flushed).
      for (const { window, n } of sent.values()) window.unsent += n;
      throw error;
    } finally {
      for (const { window, n } of sent.values()) window.sending -= n;
    }
  }
}
