import { describe, expect, it } from 'vitest';
import { SignInThrottle, throttleKey } from '../../src/server/http/signInThrottle.ts';

describe('SignInThrottle', () => {
  it('lets an address fail `burst` times, then makes it wait one refill per further try', () => {
    const throttle = new SignInThrottle({ burst: 3, refillMs: 5_000, maxAddresses: 100 });
    for (let i = 0; i < 3; i++) {
      expect(throttle.retryAfterSeconds('203.0.113.9', 0)).toBe(0);
      throttle.recordFailure('203.0.113.9', 0);
    }
    expect(throttle.retryAfterSeconds('203.0.113.9', 0)).toBe(5);
    expect(throttle.retryAfterSeconds('203.0.113.9', 4_000)).toBe(1);
    expect(throttle.retryAfterSeconds('203.0.113.9', 5_000)).toBe(0);
    expect(throttle.retryAfterSeconds('203.0.113.10', 0)).toBe(0);
  });

  it('counts an IPv6 client by its /64 and an IPv4-mapped one as IPv4', () => {
    expect(throttleKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(throttleKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(throttleKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(throttleKey('::1')).toBe('0:0:0:0::/64');
    expect(throttleKey('::ffff:198.51.100.7')).toBe('198.51.100.7');
    const throttle = new SignInThrottle({ burst: 1, refillMs: 60_000, maxAddresses: 100 });
    throttle.recordFailure('2001:db8:1:2::1', 0);
    expect(throttle.retryAfterSeconds('2001:db8:1:2::ffff', 0)).toBe(60);
  });

  it('remembers at most maxAddresses, whatever clients send, and forgets refilled ones', () => {
    const throttle = new SignInThrottle({ burst: 2, refillMs: 1_000, maxAddresses: 500 });
    for (let i = 0; i < 20_000; i++) throttle.recordFailure(`2001:db8:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}::1`, 0);
    expect(throttle.size).toBe(500);
    // The most recent failures are the ones kept.
    throttle.recordFailure('2001:db8:0:4e1f::1', 0);
    expect(throttle.retryAfterSeconds('2001:db8:0:4e1f::1', 0)).toBe(1);
    for (let i = 0; i < 600; i++) throttle.retryAfterSeconds(`2001:db8:0:${(19_999 - i).toString(16)}::1`, 10_000);
    expect(throttle.size).toBeLessThan(500);
  });
});
