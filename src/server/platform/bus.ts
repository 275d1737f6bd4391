/**
 * The wake-up bus (`PRESENCE_BUS=nats://…`), an option beside PostgreSQL
 * NOTIFY: a NOTIFY reaches every node, while on the bus each woken user is a
 * subject of its own (`presence.wakeup.<user id>`) that only the nodes
 * holding that user's daemons subscribe to. Only wake-ups travel here; the
 * signals every node must hear (revocations, dismissals, retractions,
 * operator activity) stay on NOTIFY (`signals.ts`).
 *
 * The guarantees are NOTIFY's: a wake-up is published only after its commit
 * (by the committer, `push.ts`); one the bus may have lost is made good
 * either way round. A publisher that is not connected, or whose publish the
 * server does not confirm in time, sends the wake-up as a NOTIFY instead
 * (every node still LISTENs); a subscriber that lost its connection
 * re-checks every held user once it is back (`resumed`), as after a lost
 * LISTEN connection.
 */
import { EventEmitter } from 'node:events';
import { connect, Events, type NatsConnection, type Subscription } from 'nats';

const WAKEUP_PREFIX = 'presence.wakeup.';
/** "A group of pushes committed": the dashboards' queue and ack views look again. Heard only by nodes with a dashboard open. */
const PUSHED_SUBJECT = 'presence.pushed';
/** How long a publisher waits for the server to confirm a group's wake-ups before it sends them as a NOTIFY too. */
const CONFIRM_WITHIN_MS = 1_000;

export interface BusEvents {
  /** `origin`: the publishing node's mark, when it handed the items to its own daemons (the wake-up's payload). */
  wakeup: [userIds: string[], origin: string | null];
  pushed: [];
  /** The connection came back after a loss, with this node's subscriptions in place: anything may have been missed. */
  resumed: [];
  lost: [error: Error];
}

export interface BusOptions {
  url: string;
  /** Shown by the server (`connz`), to tell the nodes apart. */
  name: string;
  /** Sends wake-ups that the bus could not take as a NOTIFY (after the commit, like the publish). */
  notifyInstead: (userIds: string[], origin: string | null) => Promise<void>;
}

/** A promise that rejects after `ms`. */
function deadline(ms: number): { promise: Promise<never>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from the bus within ${ms} ms`)), ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

/** One node's connection to the bus: the subjects of the users it holds, and the publishing of wake-ups. */
export class WakeupBus extends EventEmitter<BusEvents> {
  /** Subscriptions by user id, with how many of this node's sockets hold the user. */
  private readonly held = new Map<string, { subscription: Subscription; sockets: number }>();
  private pushed: Subscription | null = null;
  private connected = true;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly options: BusOptions,
  ) {
    super();
    void this.watchStatus();
  }

  /** Connects (waiting for the server if it is not up yet); later losses are retried in the background. */
  static async connect(options: BusOptions): Promise<WakeupBus> {
    const nc = await connect({
      servers: options.url.split(','),
      name: options.name,
      waitOnFirstConnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      reconnectJitter: 100,
      pingInterval: 10_000,
    });
    return new WakeupBus(nc, options);
  }

  private async watchStatus(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === Events.Disconnect) {
        this.connected = false;
        this.emit('lost', new Error(`bus connection lost (${String(status.data)})`));
      } else if (status.type === Events.Reconnect) {
        // The client has sent this node's subscriptions again; a round trip makes sure the server has them before anyone re-checks.
        await this.confirm().catch(() => undefined);
        this.connected = true;
        this.emit('resumed');
      }
    }
  }

  private async confirm(): Promise<void> {
    const timeout = deadline(CONFIRM_WITHIN_MS);
    try {
      await Promise.race([this.nc.flush(), timeout.promise]);
    } finally {
      timeout.cancel();
    }
  }

  /**
   * A socket of `userId` opened on this node: subscribes to the user's
   * wake-ups (once per user), and resolves when the server has the
   * subscription, so that a wake-up published after the socket's first
   * look at its queue reaches it. If the bus is away, the reconnect's
   * `resumed` covers it.
   */
  async hold(userId: string): Promise<void> {
    const present = this.held.get(userId);
    if (present) {
      present.sockets++;
      return;
    }
    const subscription = this.nc.subscribe(WAKEUP_PREFIX + userId, {
      // An error comes without a message: a wake-up all the same (a look too many costs a read).
      callback: (error, message) => this.emit('wakeup', [userId], !error && message.data.length > 0 ? message.string() : null),
    });
    this.held.set(userId, { subscription, sockets: 1 });
    await this.confirm().catch(() => undefined);
  }

  /** A socket of `userId` closed: the last one unsubscribes. */
  release(userId: string): void {
    const present = this.held.get(userId);
    if (!present) return;
    if (--present.sockets > 0) return;
    this.held.delete(userId);
    present.subscription.unsubscribe();
  }

  /** Whether this node hears of every committed group of pushes (while a dashboard is open here); on resolves once the server has it. */
  async watchPushes(on: boolean): Promise<void> {
    if (on && !this.pushed) {
      this.pushed = this.nc.subscribe(PUSHED_SUBJECT, { callback: () => this.emit('pushed') });
      await this.confirm().catch(() => undefined);
    } else if (!on && this.pushed) {
      this.pushed.unsubscribe();
      this.pushed = null;
    }
  }

  /**
   * Publishes the wake-ups of a committed group (call only after COMMIT),
   * with the publishing node's origin when it handed the items to its own
   * daemons. Whatever the server does not confirm goes as a NOTIFY as well;
   * a wake-up twice costs a look at the queue, one lost would leave items waiting.
   */
  async wake(userIds: readonly string[], origin: string | null = null): Promise<void> {
    if (userIds.length === 0) return;
    if (this.connected && !this.nc.isClosed()) {
      try {
        for (const userId of userIds) this.nc.publish(WAKEUP_PREFIX + userId, origin ?? undefined);
        this.nc.publish(PUSHED_SUBJECT);
        await this.confirm();
        return;
      } catch {
        // Not confirmed: the NOTIFY below.
      }
    }
    await this.options.notifyInstead([...userIds], origin);
  }

  /** The users this node holds (for tests and metrics). */
  heldUsers(): number {
    return this.held.size;
  }

  async close(): Promise<void> {
    this.held.clear();
    this.pushed = null;
    await this.nc.drain().catch(() => this.nc.close());
  }
}

const buses = new WeakMap<object, WakeupBus>();

/** Routes the wake-ups of pushes committed through `db` over `bus`. */
export function attachBus(db: object, bus: WakeupBus): void {
  buses.set(db, bus);
}

/** The bus that wake-ups of `db`'s pushes take, or undefined for NOTIFY. */
export function busOf(db: object): WakeupBus | undefined {
  return buses.get(db);
}
