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

/** Token bucket: holds up to `burst` tokens, refilled at `messagesPerSecond`; each message takes one. */
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

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    const now = this.now();
    const refill = ((now - this.#updatedAt) / 1000) * this.options.messagesPerSecond;
    this.#tokens = Math.min(this.options.burst, this.#tokens + refill);
    this.#updatedAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
