/**
 * Wake-ups for the subscriptions on this node. A ring carries no data: it
 * tells a subscription to look again in the database, so rings that arrive
 * while it is busy collapse into one look. A handoff (handoff.ts in
 * domain/delivery) carries the items this node just stored for the user:
 * the subscription sends them without a look, unless a ring came too.
 */
import type { DeliveredItem } from '../../shared/delivery.ts';
import type { StoredItem } from '../domain/delivery/handoff.ts';

/** Items a subscription keeps from handoffs between two of its turns; past this it looks in the database instead. */
const HANDED_AT_MOST = 100;

/** What a subscription's turn is about: the items handed to it, or null to look in the database. */
export type Handed = readonly DeliveredItem[] | null;

/**
 * One connection's doorbell. It is itself the abort listener of the wait in
 * progress (`handleEvent`): an idle connection keeps no closure of its own
 * here (a closure per wait costs more than the rest of the doorbell).
 */
export class Doorbell {
  /** Rung since the last turn: the next one looks in the database. */
  private rung = false;
  /** Handed since the last turn (arrays shared between subscriptions: never written to). */
  private handed: readonly DeliveredItem[] | null = null;
  /** The wait in progress: its promise's resolve and the signal that also ends it. */
  private resolveWait: ((handed: Handed) => void) | null = null;
  private signal: AbortSignal | null = null;

  constructor(readonly key: string) {}

  ring(): void {
    this.rung = true;
    this.wake();
  }

  /** Items stored for this subscription's user, already committed. */
  hand(items: readonly DeliveredItem[]): void {
    // After a ring the look finds these too.
    if (!this.rung) {
      const handed = this.handed ? this.handed.concat(items) : items;
      if (handed.length > HANDED_AT_MOST) this.rung = true;
      this.handed = this.rung ? null : handed;
    }
    this.wake();
  }

  /**
   * Resolves at the next ring or handoff (at once if one came since the last
   * wait), or when `signal` aborts: with the items handed, or null when the
   * subscription is to look in the database.
   */
  wait(signal: AbortSignal): Promise<Handed> {
    // Not an async function: an idle connection waits here, and a plain promise is the smaller thing to keep.
    if (this.rung || this.handed || signal.aborted) return Promise.resolve(this.take());
    return new Promise<Handed>((resolve) => {
      this.resolveWait = resolve;
      this.signal = signal;
      signal.addEventListener('abort', this);
    });
  }

  /** The wait's signal aborted. */
  handleEvent(): void {
    this.wake();
  }

  private take(): Handed {
    const handed = this.rung ? null : this.handed;
    this.rung = false;
    this.handed = null;
    return handed;
  }

  private wake(): void {
    const resolve = this.resolveWait;
    if (!resolve) return;
    this.signal?.removeEventListener('abort', this);
    this.resolveWait = null;
    this.signal = null;
    resolve(this.take());
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
    for (const key of keys) forEachDoorbell(this.byKey.get(key), ring);
  }

  /** Rings the subscriptions waiting for activity on `topic`. */
  ringTopic(topic: string): void {
    this.ring([topicKey(topic)]);
  }

  /** Whether a subscription here waits for `key`. */
  has(key: string): boolean {
    return this.byKey.has(key);
  }

  /** Gives each stored item to the subscriptions of its user here, one handoff per user. */
  hand(stored: readonly StoredItem[]): void {
    const byUser = new Map<string, DeliveredItem[]>();
    for (const { userId, item } of stored) {
      const items = byUser.get(userId);
      if (items) items.push(item);
      else byUser.set(userId, [item]);
    }
    for (const [userId, items] of byUser) forEachDoorbell(this.byKey.get(userId), (doorbell) => doorbell.hand(items));
  }

  ringAll(): void {
    for (const present of this.byKey.values()) forEachDoorbell(present, ring);
  }
}

function forEachDoorbell(present: Doorbell | Set<Doorbell> | undefined, visit: (doorbell: Doorbell) => void): void {
  if (present instanceof Set) present.forEach(visit);
  else if (present) visit(present);
}

function ring(doorbell: Doorbell): void {
  doorbell.ring();
}
