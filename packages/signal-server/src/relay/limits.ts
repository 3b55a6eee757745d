import { checkPositive, LimitsError } from '../limits.js';

/** What one relay hub allows; every field has a default, see `DEFAULT_RELAY_LIMITS`. */
export interface RelayLimits {
  /** Largest datagram (binary message); a larger one closes its socket with 1009. */
  maxDatagramBytes: number;
  /** A socket must bind within this time, else it is closed (4408). */
  bindTimeoutMs: number;
  /** Sustained rate of one session, both directions together; datagrams over it are dropped. */
  sessionBytesPerSecond: number;
  /** Bytes a session may send at once on top of the sustained rate. */
  sessionBurstBytes: number;
  /** Bytes one session may send in all; past it both sides are closed (4413) and rebinds refused. */
  sessionMaxBytes: number;
  /** Sessions one agent id may have bound at once; binds beyond are refused (4429). */
  maxSessionsPerAgent: number;
  /** Sockets one remote address may hold open before binding; more are refused (4429). */
  maxUnboundPerAddress: number;
  /** Datagrams to a socket holding more than this unsent are dropped, as a full UDP queue would. */
  maxBufferedBytes: number;
  /** A socket that holds more than `maxBufferedBytes` for this long (it does not read) is terminated. */
  stalledTimeoutMs: number;
  /** Bound sockets are pinged this often; one silent for a whole period is terminated. */
  heartbeatIntervalMs: number;
}

const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;

export const DEFAULT_RELAY_LIMITS: Readonly<RelayLimits> = Object.freeze({
  // QUIC packets fit in 1500-byte paths; 16 KiB leaves room for jumbo frames plus headroom.
  maxDatagramBytes: 16 * KIB + 512,
  bindTimeoutMs: 5_000,
  // 64 MiB/s ≈ 540 Mbit/s per session: a fallback path, shared by every session on the relay.
  sessionBytesPerSecond: 64 * MIB,
  sessionBurstBytes: 8 * MIB,
  sessionMaxBytes: 8 * GIB,
  maxSessionsPerAgent: 8,
  maxUnboundPerAddress: 16,
  // About 10 ms at 1 Gbit/s: queueing more only adds latency that QUIC would read as congestion.
  maxBufferedBytes: 1 * MIB,
  stalledTimeoutMs: 10_000,
  heartbeatIntervalMs: 30_000,
});

/** The defaults with `overrides` applied, after checking every value. */
export function resolveRelayLimits(overrides: Partial<RelayLimits> = {}): RelayLimits {
  const limits = { ...DEFAULT_RELAY_LIMITS, ...overrides };
  checkPositive('relay', limits);
  if (limits.sessionBurstBytes < limits.maxDatagramBytes) {
    throw new LimitsError('relay limit sessionBurstBytes must be at least maxDatagramBytes');
  }
  return limits;
}
