import type { RateLimitOptions } from './rate-limit.js';

/** What one signaling node allows its clients; every field has a default, see `DEFAULT_SIGNAL_LIMITS`. */
export interface SignalLimits {
  /** WebSocket connections this node holds at once; more get HTTP 503 before the upgrade. */
  maxConnections: number;
  /** Connections one source (IPv4 address or IPv6 /64) may hold; more get HTTP 503. */
  maxConnectionsPerAddress: number;
  /** A client holding more than this unsent (it does not read) is dropped. */
  maxBufferedBytes: number;
  /**
   * Session requests one agent id may make: each mints a token the peer must keep, so a flood
   * would push other agents' sessions out of the peer's bounded token cache.
   */
  sessionRequests: RateLimitOptions;
}

export const DEFAULT_SIGNAL_LIMITS: Readonly<SignalLimits> = Object.freeze({
  maxConnections: 10_000,
  // A NAT or an office shares one address: room for many agents, not for a flood.
  maxConnectionsPerAddress: 64,
  // A full member list of a large room is a few MB; a client this far behind is not reading.
  maxBufferedBytes: 16 * 1024 * 1024,
  sessionRequests: Object.freeze({ messagesPerSecond: 5, burst: 20 }),
});

/** Raised for limits that cannot work. */
export class LimitsError extends Error {
  override readonly name = 'LimitsError';
}

/** Throws unless every numeric field of `limits` (nested ones too) is positive and finite. */
export function checkPositive(what: string, limits: object, prefix = ''): void {
  for (const [name, value] of Object.entries(limits)) {
    if (typeof value === 'object' && value !== null) {
      checkPositive(what, value, `${prefix}${name}.`);
    } else if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new LimitsError(
        `${what} limit ${prefix}${name} must be a positive finite number, got ${String(value)}`,
      );
    }
  }
}

/** The defaults with `overrides` applied, after checking every value. */
export function resolveSignalLimits(overrides: Partial<SignalLimits> = {}): SignalLimits {
  const limits = { ...DEFAULT_SIGNAL_LIMITS, ...overrides };
  checkPositive('signaling', limits);
  return limits;
}
