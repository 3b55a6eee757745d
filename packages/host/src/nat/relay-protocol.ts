/**
 * The relay's wire protocol, shared by the hub (signal server) and the agent's relay client.
 *
 * One WebSocket per agent and session. The client's first message is the text
 * `{"type":"relay.bind","grant":"…"}`; the hub answers `relay.bound` (or `relay.error`, then
 * closes). After that every binary message is one QUIC datagram, forwarded verbatim to the other
 * agent of the session, and the only text messages are the hub's `relay.peer` notices.
 */

/** Path the relay listens on, next to the signal server's own WebSocket. */
export const RELAY_PATH = '/relay';

/** Largest message a client may send before it is bound (the bind with its grant). */
export const MAX_RELAY_BIND_BYTES = 4096;

/** Largest UDP payload: nothing a relay forwards can be larger. */
export const MAX_UDP_PAYLOAD_BYTES = 65_527;

/** WebSocket close codes of the relay, so a client can tell "retry" from "give up". */
export const RELAY_CLOSE_CODES = {
  normal: 1000,
  goingAway: 1001,
  /** A datagram (or the bind message) larger than the hub accepts. */
  tooLarge: 1009,
  /** Text after the bind, binary before it, invalid JSON or an unexpected message. */
  protocolError: 4400,
  /** The grant is malformed, forged or expired. */
  grantRefused: 4401,
  /** The grant is valid but its session cannot be joined (other agents, or its byte cap was used up). */
  sessionRefused: 4403,
  /** No bind within the hub's deadline. */
  bindTimeout: 4408,
  /** A newer socket bound the same side of the session. */
  replaced: 4409,
  /** The session relayed as many bytes as the hub allows; both sides are closed. */
  sessionBytesExhausted: 4413,
  /** Too many sessions for this agent, or too many unbound sockets from this address. */
  tooMany: 4429,
} as const;

export type RelayCloseCode = (typeof RELAY_CLOSE_CODES)[keyof typeof RELAY_CLOSE_CODES];

/** `code` of a `relay.error`, and the close code the hub closes with right after it. */
export const RELAY_ERROR_CLOSE_CODES = {
  malformed: RELAY_CLOSE_CODES.grantRefused,
  bad_mac: RELAY_CLOSE_CODES.grantRefused,
  expired: RELAY_CLOSE_CODES.grantRefused,
  session_mismatch: RELAY_CLOSE_CODES.sessionRefused,
  session_closed: RELAY_CLOSE_CODES.sessionRefused,
  too_many_sessions: RELAY_CLOSE_CODES.tooMany,
  too_many_unbound: RELAY_CLOSE_CODES.tooMany,
  bind_timeout: RELAY_CLOSE_CODES.bindTimeout,
} as const satisfies Record<string, RelayCloseCode>;

export type RelayErrorCode = keyof typeof RELAY_ERROR_CLOSE_CODES;

export type RelayPeerState = 'present' | 'gone';

export interface RelayBind {
  type: 'relay.bind';
  grant: string;
}

export interface RelayBound {
  type: 'relay.bound';
  session_id: string;
  peer: 'present' | 'absent';
}

export interface RelayPeer {
  type: 'relay.peer';
  state: RelayPeerState;
}

export interface RelayErrorMessage {
  type: 'relay.error';
  code: RelayErrorCode;
  message: string;
}

export type RelayServerMessage = RelayBound | RelayPeer | RelayErrorMessage;

/** The bind a client sends, or why the text is not one. Unknown fields are refused too. */
export function parseRelayBind(text: string): { ok: true; bind: RelayBind } | { ok: false; reason: string } {
  const value = parseObject(text);
  if (!value) return { ok: false, reason: 'invalid JSON object' };
  const keys = Object.keys(value);
  if (value.type !== 'relay.bind' || typeof value.grant !== 'string' || keys.length !== 2) {
    return { ok: false, reason: 'expected {"type":"relay.bind","grant":"…"}' };
  }
  return { ok: true, bind: { type: 'relay.bind', grant: value.grant } };
}

/** A message from the hub, or undefined for anything this client does not know. */
export function parseRelayServerMessage(text: string): RelayServerMessage | undefined {
  const value = parseObject(text);
  switch (value?.type) {
    case 'relay.bound':
      return typeof value.session_id === 'string' && (value.peer === 'present' || value.peer === 'absent')
        ? { type: 'relay.bound', session_id: value.session_id, peer: value.peer }
        : undefined;
    case 'relay.peer':
      return value.state === 'present' || value.state === 'gone'
        ? { type: 'relay.peer', state: value.state }
        : undefined;
    case 'relay.error':
      return typeof value.code === 'string' &&
        Object.hasOwn(RELAY_ERROR_CLOSE_CODES, value.code) &&
        typeof value.message === 'string'
        ? { type: 'relay.error', code: value.code as RelayErrorCode, message: value.message }
        : undefined;
    default:
      return undefined;
  }
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
