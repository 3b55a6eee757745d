/** Runtime constants of the control-plane protocol (kept apart from the types so modules can share them without import cycles). */

/** Planes the protocol itself defines; every other plane belongs to a plugin and is relayed. */
export const CORE_PLANES = ['system', 'room', 'p2p'] as const;

export const DEFAULT_ROOM = 'default';
/** TCP port `mesh-agent server` listens on unless told otherwise; the docs and examples use it too. */
export const DEFAULT_SIGNAL_PORT = 7300;
/** The signaling URL of a server started with its defaults on this machine. */
export const LOCAL_SIGNAL_URL = `ws://127.0.0.1:${DEFAULT_SIGNAL_PORT}`;
export const SESSION_TTL_MIN_S = 60;
export const SESSION_TTL_MAX_S = 180;
export const SESSION_TTL_DEFAULT_S = 120;
/** Largest control message the server accepts by default (UTF-8 bytes of the JSON text). */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024;

export const AGENT_ID_PATTERN = '^[A-Za-z0-9._-]{1,128}$';
export const ROOM_PATTERN = '^[A-Za-z0-9._-]{1,64}$';
export const FINGERPRINT_PATTERN = '^[0-9a-f]{64}$';
export const EVENT_TYPE_PATTERN = '^[a-z][a-z0-9_-]{0,31}\\.[a-z][a-z0-9_.-]{0,63}$';
export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';

/** Fields the server owns on relayed plugin events; plugin schemas never see them. */
export const RELAY_FIELDS = ['to', 'to_conn', 'from', 'from_conn'] as const;

/** WebSocket close codes the server uses, so a client can tell "stop retrying" from "retry". */
export const CLOSE_CODES = {
  normal: 1000,
  goingAway: 1001,
  messageTooLarge: 1009,
  unauthorized: 4401,
  helloTimeout: 4408,
  rateLimited: 4429,
  /** The server cannot decide now (its shared store is away): retry with backoff. */
  tryAgainLater: 1013,
} as const;

/** Errors the server sends before closing with `unauthorized`: the agent is refused, retrying cannot help. */
export const REFUSAL_CODES: ReadonlySet<string> = new Set([
  'unauthorized',
  'identity_conflict',
  'room_forbidden',
]);

export const ERROR_CODES = [
  'invalid_json',
  'invalid_envelope',
  'invalid_event',
  'unknown_event',
  'hello_required',
  'already_authenticated',
  'unauthorized',
  'identity_conflict',
  'room_forbidden',
  'not_in_room',
  'too_many_rooms',
  'peer_unknown',
  'peer_offline',
  'peer_is_self',
  'capability_missing',
  'message_too_large',
  'rate_limited',
  'unavailable',
  'internal',
] as const;

/** The plane of an event type: `"p2p.session"` → `"p2p"`. */
export function planeOf(type: string): string {
  const dot = type.indexOf('.');
  return dot === -1 ? type : type.slice(0, dot);
}

export function isCorePlane(type: string): boolean {
  return (CORE_PLANES as readonly string[]).includes(planeOf(type));
}
