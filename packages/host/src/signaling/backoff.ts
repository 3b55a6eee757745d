export interface BackoffOptions {
  /** Delay ceiling of the first retry. */
  initialMs: number;
  /** The ceiling never grows past this. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = Object.freeze({ initialMs: 250, maxMs: 10_000 });

/**
 * Delay before retry number `attempt` (1-based): exponential growth capped at `maxMs`, with
 * "equal jitter" — half fixed, half random — so agents that lost the same server do not all
 * come back in the same millisecond, yet none retries in a tight loop.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(attempt, 1) - 1, 30);
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** exponent);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
