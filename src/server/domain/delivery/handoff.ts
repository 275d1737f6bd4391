/**
 * The handoff: the node that stores a group of pushes gives the new items to
 * its own daemons' subscriptions once COMMIT has returned, as the store
 * statement returned them, instead of waking those subscriptions to read
 * them back (a read per wake-up was the largest cost of a delivery after
 * the store itself: docs/benchmarks.md). Daemons on other nodes are woken
 * and read, as before. The group's wake-up carries the storing node's
 * origin, so that node does not read again for its own pushes.
 *
 * The items are made only after COMMIT, and only for users with a
 * subscription here. A commit whose outcome is unknown (an error after its
 * statements ran) hands nothing: the users it may have stored for are woken
 * here to read (every subscription here, when the group was one statement
 * that failed before naming its users).
 */
import type { DeliveredItem } from '../../../shared/delivery.ts';

/** One item a group stored, and the user whose daemons receive it. */
export interface StoredItem {
  userId: string;
  item: DeliveredItem;
}

/** What a node's channel offers the committer of the same process. */
export interface LocalDelivery {
  /** Marks this node's wake-ups: a random id per channel, never shown. */
  origin: string;
  /** Whether a subscription of `userId` runs on this node. */
  holds(userId: string): boolean;
  /** After COMMIT: each item to the subscriptions of its user on this node (in the order stored). */
  hand(stored: readonly StoredItem[]): void;
  /** These users' subscriptions on this node look in the database. */
  ring(userIds: Iterable<string>): void;
  /** Every subscription on this node looks in the database. */
  ringAll(): void;
}

const attached = new WeakMap<object, LocalDelivery>();

/** Pushes committed through `db` are handed to `delivery` (the latest channel opened on it). */
export function attachLocalDelivery(db: object, delivery: LocalDelivery): void {
  attached.set(db, delivery);
}

/** A closing channel stops taking handoffs (unless another channel took its place). */
export function detachLocalDelivery(db: object, delivery: LocalDelivery): void {
  if (attached.get(db) === delivery) attached.delete(db);
}

/** Where the pushes committed through `db` are handed, if a channel runs on it. */
export function localDeliveryOf(db: object): LocalDelivery | undefined {
  return attached.get(db);
}
