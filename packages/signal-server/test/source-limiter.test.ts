import { describe, expect, it } from 'vitest';
import { rateLimitKey, SourceLimiter } from '../src/source-limiter.js';

function takes(limiter: SourceLimiter, source: string, count: number): number {
  let granted = 0;
  for (let i = 0; i < count; i++) if (limiter.take(source)) granted++;
  return granted;
}

describe('rateLimitKey', () => {
  it('keys IPv4 by address, however the socket spells it', () => {
    expect(rateLimitKey('192.0.2.1')).toBe('192.0.2.1');
    expect(rateLimitKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
  });

  it('keys IPv6 by /64', () => {
    expect(rateLimitKey('2001:db8:1:2:aaaa::1')).toBe(rateLimitKey('2001:db8:1:2:bbbb:cccc:dddd:2'));
    expect(rateLimitKey('2001:db8:1:2::1')).not.toBe(rateLimitKey('2001:db8:1:3::1'));
  });
});

describe('SourceLimiter', () => {
  const rate = { messagesPerSecond: 10, burst: 5 }; // refills from empty in 500 ms

  it('gives each source its own burst and rate', () => {
    let now = 0;
    const limiter = new SourceLimiter(rate, 100, () => now);
    expect(takes(limiter, 'a', 10)).toBe(5);
    expect(takes(limiter, 'b', 10)).toBe(5);
    now += 200;
    expect(takes(limiter, 'a', 10)).toBe(2);
  });

  it('never tracks more than maxSources', () => {
    let now = 0;
    const limiter = new SourceLimiter(rate, 3, () => now);
    for (let i = 0; i < 1000; i++) {
      limiter.take(`spoofed-${i}`);
      now += 1;
    }
    expect(limiter.size).toBe(3);
  });

  it('does not let churn through new sources reset a limited one', () => {
    let now = 0;
    const limiter = new SourceLimiter(rate, 3, () => now);
    expect(takes(limiter, 'victim', 10)).toBe(5);
    for (let i = 0; i < 100; i++) {
      now += 1;
      limiter.take(`spoofed-${i}`); // the victim is now the least recently used, but not refilled
    }
    now += 1; // 101 ms: refilled by one token, where a fresh bucket would hold five
    expect(takes(limiter, 'victim', 10)).toBe(1);
  });

  it('lets new sources share one overflow bucket while the table is full of active ones', () => {
    const now = 0;
    const limiter = new SourceLimiter(rate, 2, () => now);
    limiter.take('a');
    limiter.take('b');
    expect(takes(limiter, 'c', 3) + takes(limiter, 'd', 3)).toBe(5);
    expect(limiter.size).toBe(2);
  });

  it('replaces the least recently used source once it has had time to refill', () => {
    let now = 0;
    const limiter = new SourceLimiter(rate, 2, () => now);
    expect(takes(limiter, 'a', 10)).toBe(5);
    now += 100;
    limiter.take('b');
    now += 450; // 'a' idle for 550 ms: full again
    limiter.take('b');
    expect(takes(limiter, 'c', 10)).toBe(5); // took the place of 'a'
    // 'a', back, finds the table full of active sources and uses up the overflow bucket, which
    // 'c' had not touched.
    expect(takes(limiter, 'a', 10)).toBe(5);
    expect(takes(limiter, 'd', 1)).toBe(0);
  });
});
