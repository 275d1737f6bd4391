/**
 * Wake-ups for the daemons connected to this node. A wake-up carries no
 * data: it tells a connection to look again for pending items it has not
 * sent, so wake-ups that arrive while it is busy collapse into one look.
 */

/**
 * One connection's doorbell. It is itself the abort listener of the wait in
 * progress (`handleEvent`): an idle connection keeps no closure of its own
 * here (a closure per wait costs more than the rest of the doorbell).
 */
export class Doorbell {
  private rung = false;
  /** The wait in progress: its promise's resolve and the signal that also ends it. */
  private resolveWait: (() => void) | null = null;
  private signal: AbortSignal | null = null;

  constructor(readonly key: string) {}

  ring(): void {
    this.rung = true;
    this.wake();
  }

  /** Resolves at the next ring (at once if rung since the last wait), or when `signal` aborts. */
  wait(signal: AbortSignal): Promise<void> {
    // Not an async function: an idle connection waits here, and a plain promise is the smaller thing to keep.
    if (this.rung || signal.aborted) {
      this.rung = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      this.resolveWait = resolve;
      this.signal = signal;
      signal.addEventListener('abort', this);
    });
  }

  /** The wait's signal aborted. */
  handleEvent(): void {
    this.wake();
  }

  private wake(): void {
    const resolve = this.resolveWait;
    if (!resolve) return;
    this.signal?.removeEventListener('abort', this);
    this.resolveWait = null;
    this.signal = null;
    this.rung = false;
    resolve();
  }
}

/** The doorbell key of an activity topic (user ids are UUIDs, so they never collide). */
export function topicKey(topic: string): string {
  return `#${topic}`;
}

/**
 * The doorbells of this node's subscriptions, by what they wait for: a user
 * id (a daemon waits for its user's items) or an activity topic (the
 * dashboard waits for "queues", "acks" or "devices").
 */
export class Doorbells {
  /** One doorbell or, when several subscriptions wait for the same key, a set (most keys have one). */
  private readonly byKey = new Map<string, Doorbell | Set<Doorbell>>();

  /** A doorbell for one subscription to `key`; pass it to `remove` when the subscription ends. */
  add(key: string): Doorbell {
    const doorbell = new Doorbell(key);
    const present = this.byKey.get(key);
    if (present === undefined) this.byKey.set(key, doorbell);
    else if (present instanceof Set) present.add(doorbell);
    else this.byKey.set(key, new Set([present, doorbell]));
    return doorbell;
  }

  remove(doorbell: Doorbell): void {
    const present = this.byKey.get(doorbell.key);
    if (present === doorbell) this.byKey.delete(doorbell.key);
    else if (present instanceof Set) {
      present.delete(doorbell);
      if (present.size === 0) this.byKey.delete(doorbell.key);
    }
  }

  ring(keys: Iterable<string>): void {
    for (const key of keys) ringEach(this.byKey.get(key));
  }

  /** Rings the subscriptions waiting for activity on `topic`. */
  ringTopic(topic: string): void {
    this.ring([topicKey(topic)]);
  }

  ringAll(): void {
    for (const present of this.byKey.values()) ringEach(present);
  }
}

function ringEach(present: Doorbell | Set<Doorbell> | undefined): void {
  if (present instanceof Set) present.forEach((doorbell) => doorbell.ring());
  else present?.ring();
}
