/**
 * Wake-ups for the daemons connected to this node. A wake-up carries no
 * data: it tells a connection to look again for pending items it has not
 * sent, so wake-ups that arrive while it is busy collapse into one look.
 */

/** One connection's doorbell. */
export class Doorbell {
  private rung = false;
  private waiter: (() => void) | null = null;

  ring(): void {
    this.rung = true;
    this.waiter?.();
  }

  /** Resolves at the next ring (at once if rung since the last wait), or when `signal` aborts. */
  async wait(signal: AbortSignal): Promise<void> {
    if (!this.rung && !signal.aborted) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.waiter = null;
          signal.removeEventListener('abort', done);
          resolve();
        };
        this.waiter = done;
        signal.addEventListener('abort', done, { once: true });
      });
    }
    this.rung = false;
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
  private readonly byKey = new Map<string, Set<Doorbell>>();

  /** A doorbell for one subscription to `key`; call the returned function when it ends. */
  add(key: string): { doorbell: Doorbell; remove: () => void } {
    const doorbell = new Doorbell();
    let set = this.byKey.get(key);
    if (!set) this.byKey.set(key, (set = new Set()));
    set.add(doorbell);
    return {
      doorbell,
      remove: () => {
        set.delete(doorbell);
        if (set.size === 0 && this.byKey.get(key) === set) this.byKey.delete(key);
      },
    };
  }

  ring(keys: Iterable<string>): void {
    for (const key of keys) this.byKey.get(key)?.forEach((doorbell) => doorbell.ring());
  }

  /** Rings the subscriptions waiting for activity on `topic`. */
  ringTopic(topic: string): void {
    this.ring([topicKey(topic)]);
  }

  ringAll(): void {
    for (const set of this.byKey.values()) set.forEach((doorbell) => doorbell.ring());
  }
}
