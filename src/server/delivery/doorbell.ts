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

/** The doorbells of this node's connections, by user. */
export class Doorbells {
  private readonly byUser = new Map<string, Set<Doorbell>>();

  /** A doorbell for one connection of `userId`; call the returned function when it closes. */
  add(userId: string): { doorbell: Doorbell; remove: () => void } {
    const doorbell = new Doorbell();
    let set = this.byUser.get(userId);
    if (!set) this.byUser.set(userId, (set = new Set()));
    set.add(doorbell);
    return {
      doorbell,
      remove: () => {
        set.delete(doorbell);
        if (set.size === 0 && this.byUser.get(userId) === set) this.byUser.delete(userId);
      },
    };
  }

  ringUsers(userIds: Iterable<string>): void {
    for (const userId of userIds) this.byUser.get(userId)?.forEach((doorbell) => doorbell.ring());
  }

  ringAll(): void {
    for (const set of this.byUser.values()) set.forEach((doorbell) => doorbell.ring());
  }
}
