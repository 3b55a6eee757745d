import { Flags } from '@oclif/core';
import { DEFAULT_SIGNAL_LIMITS, type SignalLimits } from '../limits.js';
import { DEFAULT_RELAY_LIMITS, type RelayLimits } from '../relay/limits.js';

/** The relay limits an operator tunes; `mesh-agent relay` and the server's built-in relay share them. */
export const relayLimitFlags = {
  sessionRate: () =>
    Flags.integer({
      description: 'bytes per second one session may relay, both directions together; more is dropped',
      default: DEFAULT_RELAY_LIMITS.sessionBytesPerSecond,
      min: 1,
    }),
  sessionMaxBytes: () =>
    Flags.integer({
      description: 'bytes one session may relay in all; then both sides are closed',
      default: DEFAULT_RELAY_LIMITS.sessionMaxBytes,
      min: 1,
    }),
  maxSessionsPerAgent: () =>
    Flags.integer({
      description: 'relayed sessions one agent may have at once',
      default: DEFAULT_RELAY_LIMITS.maxSessionsPerAgent,
      min: 1,
    }),
};

export function relayLimitsOf(values: {
  sessionRate: number;
  sessionMaxBytes: number;
  maxSessionsPerAgent: number;
}): Partial<RelayLimits> {
  return {
    sessionBytesPerSecond: values.sessionRate,
    // A burst of an eighth of a second, and never less than one datagram.
    sessionBurstBytes: Math.max(DEFAULT_RELAY_LIMITS.maxDatagramBytes, Math.ceil(values.sessionRate / 8)),
    sessionMaxBytes: values.sessionMaxBytes,
    maxSessionsPerAgent: values.maxSessionsPerAgent,
  };
}

/** The signaling server's connection limits. */
export const signalLimitFlags = {
  'max-connections': Flags.integer({
    description: 'WebSocket connections the server holds at once; more are refused (HTTP 503)',
    default: DEFAULT_SIGNAL_LIMITS.maxConnections,
    min: 1,
  }),
  'max-connections-per-address': Flags.integer({
    description: 'connections one IPv4 address or IPv6 /64 may hold; more are refused (HTTP 503)',
    default: DEFAULT_SIGNAL_LIMITS.maxConnectionsPerAddress,
    min: 1,
  }),
  'session-requests-per-second': Flags.integer({
    description:
      'session requests one agent may make per second, in bursts of four times that; more get rate_limited',
    default: DEFAULT_SIGNAL_LIMITS.sessionRequests.messagesPerSecond,
    min: 1,
  }),
};

export function signalLimitsOf(flags: {
  'max-connections': number;
  'max-connections-per-address': number;
  'session-requests-per-second': number;
}): Partial<SignalLimits> {
  const perSecond = flags['session-requests-per-second'];
  return {
    maxConnections: flags['max-connections'],
    maxConnectionsPerAddress: flags['max-connections-per-address'],
    sessionRequests: { messagesPerSecond: perSecond, burst: perSecond * 4 },
  };
}
