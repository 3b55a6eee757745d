export interface RateLimitOptions {
  /** Sustained rate. */
  messagesPerSecond: number;
  /** Messages allowed in a burst on top of the sustained rate. */
  burst: number;
}

export const DEFAULT_RATE_LIMIT: Readonly<RateLimitOptions> = Object.freeze({
  messagesPerSecond: 20,
  burst: 40,
});

/**
 * Token bucket: holds up to `burst` tokens, refilled at `messagesPerSecond`; each message takes one
 * (or `cost`, when the tokens stand for bytes).
 */
export class TokenBucket {
  #tokens: number;
  #updatedAt: number;

  constructor(
    private readonly options: RateLimitOptions,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.#tokens = options.burst;
    this.#updatedAt = now();
  }

  /** Takes `cost` tokens; false (taking none) when the bucket holds fewer. */
  take(cost = 1): boolean {
    const now = this.now();
    const refill = ((now - this.#updatedAt) / 1000) * this.options.messagesPerSecond;
    this.#tokens = Math.min(this.options.burst, this.#tokens + refill);
    this.#updatedAt = now;
    if (this.#tokens < cost) return false;
    this.#tokens -= cost;
    return true;
  }
}
