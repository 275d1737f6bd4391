/**
 * Throttles failed operator sign-ins per client address: a token bucket per
 * address (an IPv6 client counts by its /64, which one host usually holds
 * whole). Kept in memory, per node, for a bounded number of addresses.
 */
import { isIPv6 } from 'node:net';

export interface SignInThrottleOptions {
  /** Failures an address may make in a row before it has to wait. */
  burst: number;
  /** One more failure is allowed after each this many milliseconds. */
  refillMs: number;
  /** Addresses remembered at most; past that the least recently failing are forgotten. */
  maxAddresses: number;
}

const SIGN_IN_THROTTLE_DEFAULTS: SignInThrottleOptions = { burst: 10, refillMs: 6_000, maxAddresses: 10_000 };

interface Bucket {
  /** Failures still allowed, as of `at`. */
  tokens: number;
  at: number;
}

/** The key an address is counted under: IPv4 as is (also when IPv4-mapped), IPv6 by its /64. */
export function throttleKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1] as string;
  if (!isIPv6(address)) return address;
  const [head = '', tail = ''] = address.split('%', 1)[0]!.split('::', 2) as [string?, string?];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = address.includes('::') ? (tail ? tail.split(':') : []) : [];
  const groups = [...headGroups, ...Array<string>(Math.max(0, 8 - headGroups.length - tailGroups.length)).fill('0'), ...tailGroups];
  return `${groups
    .slice(0, 4)
    .map((group) => Number.parseInt(group, 16).toString(16))
    .join(':')}::/64`;
}

export class SignInThrottle {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly options: SignInThrottleOptions = SIGN_IN_THROTTLE_DEFAULTS) {}

  /** Seconds this address must wait before it may try again, or 0 when it may try now. */
  retryAfterSeconds(address: string, now = Date.now()): number {
    const bucket = this.current(throttleKey(address), now);
    if (!bucket || bucket.tokens >= 1) return 0;
    return Math.max(1, Math.ceil(((1 - bucket.tokens) * this.options.refillMs) / 1000));
  }

  /** Counts a failed sign-in from this address. */
  recordFailure(address: string, now = Date.now()): void {
    const key = throttleKey(address);
    const bucket = this.current(key, now) ?? { tokens: this.options.burst, at: now };
    bucket.tokens = Math.max(0, bucket.tokens - 1);
    // Re-inserting keeps the map ordered by last failure, oldest first.
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    while (this.buckets.size > this.options.maxAddresses) {
      const oldest = this.buckets.keys().next().value as string;
      this.buckets.delete(oldest);
    }
  }

  /** How many addresses are remembered (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  /** The bucket refilled to `now`; a full one is forgotten, as it holds nothing a new one would not. */
  private current(key: string, now: number): Bucket | undefined {
    const bucket = this.buckets.get(key);
    if (!bucket) return undefined;
    bucket.tokens = Math.min(this.options.burst, bucket.tokens + Math.max(0, now - bucket.at) / this.options.refillMs);
    bucket.at = now;
    if (bucket.tokens >= this.options.burst) {
      this.buckets.delete(key);
      return undefined;
    }
    return bucket;
  }
}
