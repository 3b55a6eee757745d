import { ipToBytes, unmapIpv4 } from '@mesh-agent/host/nat';
import { type RateLimitOptions, TokenBucket } from './rate-limit.js';

/**
 * What a source is rate-limited as: its IPv4 address (also when a dual-stack socket reports it
 * IPv4-mapped), or its IPv6 /64, since one host commonly holds a whole /64 and could otherwise
 * multiply its allowance, or a spoofer spread a flood over one victim's addresses.
 */
export function rateLimitKey(address: string): string {
  const parsed = ipToBytes(address);
  if (parsed === undefined) return address;
  const ip = unmapIpv4(parsed);
  return ip.length === 4 ? ip.join('.') : `${ip.subarray(0, 8).toString('hex')}/64`;
}

interface Entry {
  bucket: TokenBucket;
  usedAt: number;
}

/**
 * A token bucket per source in bounded memory. The table keeps sources in least-recently-used
 * order; a new source may take the place of the oldest only if that one has been idle long enough
 * to refill, as dropping a full bucket forgets nothing. While the table is full of active
 * sources, new ones share a single overflow bucket, so churning through spoofed addresses can
 * neither grow memory nor reset the bucket of a source that is being limited.
 */
export class SourceLimiter {
  readonly #entries = new Map<string, Entry>();
  readonly #overflow: TokenBucket;
  readonly #refillMs: number;

  constructor(
    private readonly rateLimit: RateLimitOptions,
    private readonly maxSources: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.#overflow = new TokenBucket(rateLimit, now);
    this.#refillMs = (rateLimit.burst / rateLimit.messagesPerSecond) * 1000;
  }

  /** Sources tracked now; never more than maxSources. */
  get size(): number {
    return this.#entries.size;
  }

  /** Takes one token for `source`; false when it is over its rate. */
  take(source: string): boolean {
    const now = this.now();
    let entry = this.#entries.get(source);
    if (entry) {
      this.#entries.delete(source);
    } else if (this.#entries.size >= this.maxSources && !this.#evictIdle(now)) {
      return this.#overflow.take();
    }
    entry ??= { bucket: new TokenBucket(this.rateLimit, this.now), usedAt: now };
    entry.usedAt = now;
    this.#entries.set(source, entry);
    return entry.bucket.take();
  }

  /** Drops the least recently used source if its bucket is full again; whether it did. */
  #evictIdle(now: number): boolean {
    const oldest = this.#entries.entries().next().value;
    if (oldest === undefined || now - oldest[1].usedAt < this.#refillMs) return false;
    this.#entries.delete(oldest[0]);
    return true;
  }
}
