/**
 * The control-plane protocol shared by the signaling client (host) and the signal server:
 * envelope, event data types, limits, error codes, and (re-exported) the ajv schema registry.
 */

/** Control-plane envelope: `{ type: "<plane>.<name>", id, data }`. */
export interface Envelope<D = Record<string, unknown>> {
  type: string;
  id: string;
  data: D;
}

import type { NatKind } from '../nat/nat-kind.js';
import type { CORE_PLANES, ERROR_CODES } from './constants.js';

export type CorePlane = (typeof CORE_PLANES)[number];
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface SocketAddress {
  /** IPv4 or IPv6 literal. */
  address: string;
  port: number;
}

export interface HelloData {
  agent_id: string;
  version: string;
  /** Stream types the agent's enabled plugins handle. */
  capabilities: string[];
  /** QUIC listen addresses. */
  addresses: SocketAddress[];
  /** SHA-256 of the agent's certificate, lowercase hex. */
  fingerprint: string;
  /** Room to join on arrival; `DEFAULT_ROOM` when omitted. */
  room?: string;
  /** Bearer token; may be omitted only when the server runs `--open`. */
  token?: string;
  /** The certificate whose fingerprint is claimed, DER as base64. */
  certificate: string;
  /** The challenge's nonce, signed with the certificate's key (see `signHelloProof`). */
  proof: string;
}

/** The server's first message: a one-time nonce the agent signs to prove it holds its key. */
export interface ChallengeData {
  nonce: string;
}

export interface WelcomeData {
  agent_id: string;
  server_version: string;
  session_ttl_s: number;
  /** Opaque id of this connection; relayed events carry it as `from_conn`. */
  connection_id?: string;
  /** UDP ports on the server's host that answer STUN Binding requests (two: NAT kind discovery). */
  stun?: { ports: number[] };
}

export type { NatKind } from '../nat/nat-kind.js';

/** Where an agent's QUIC socket may be reached: an interface address, or its NAT's mapping. */
export interface Candidate extends SocketAddress {
  type: 'host' | 'srflx';
}

/** An agent's current candidates and NAT kind (agent → server), for sessions brokered to it. */
export interface CandidatesData {
  candidates: Candidate[];
  nat: NatKind;
}

export interface ErrorData {
  code: ErrorCode;
  message: string;
  /** Id of the envelope this error answers. */
  ref_id?: string;
}

export interface RoomData {
  room: string;
}

export interface Member {
  agent_id: string;
  capabilities: string[];
  addresses: SocketAddress[];
  fingerprint: string;
  /** Ms epoch since when the agent has been present (its oldest live connection). */
  connected_at: number;
  nat?: NatKind;
}

export interface MembersData {
  room: string;
  members: Member[];
  /** Id of the `room.join` / `room.leave` / `room.members` request this answers, if any. */
  request_id?: string;
}

/**
 * A change to a room's member list the agent already holds (it got the whole list when it
 * joined): `joined` entries are new or replace the agent's entry, `left` agents are gone.
 */
export interface MembersDeltaData {
  room: string;
  joined: Member[];
  left: string[];
}

export interface P2pRequestData {
  peer_id: string;
  stream_type: string;
  /** The initiator's candidates, for the peer's probes. */
  candidates?: Candidate[];
  nat?: NatKind;
}

export type P2pRole = 'initiator' | 'responder';

export interface P2pSessionData {
  session_id: string;
  /** ≥128 bits of randomness, base64url. A secret: never log it. */
  token: string;
  /** Ms epoch. */
  expires_at: number;
  peer_id: string;
  peer_addresses: SocketAddress[];
  peer_fingerprint: string;
  role: P2pRole;
  stream_type: string;
  /** Id of the `p2p.request` envelope that caused the session. */
  request_id: string;
  /** Where to send hole-punching probes; both sides start when this event arrives. */
  peer_candidates?: Candidate[];
  peer_nat?: NatKind;
  /** The relay for this session: a grant naming this agent and its peer, and the relay's URL (default: the signaling URL's `/relay`). */
  relay?: { grant: string; url?: string };
}

export interface PingData {
  ts?: number;
}

export interface PongData {
  request_id: string;
  ts?: number;
}

/** A plugin event on its way to another agent (agent → server). */
export interface RelayOutData {
  to: string;
  /** Target one connection of the agent (a `from_conn` seen earlier); the newest one otherwise. */
  to_conn?: string;
  [field: string]: unknown;
}

/** A plugin event as delivered by the server (server → agent). */
export interface RelayInData {
  from: string;
  from_conn: string;
  [field: string]: unknown;
}

/** Data an agent sends, by event type. */
export interface AgentToServerEvents {
  'system.hello': HelloData;
  'system.ping': PingData;
  'system.pong': PongData;
  'system.error': ErrorData;
  'room.join': RoomData;
  'room.leave': RoomData;
  'room.members': RoomData;
  'p2p.request': P2pRequestData;
  'p2p.candidates': CandidatesData;
}

/** Data the server sends, by event type. */
export interface ServerToAgentEvents {
  'system.challenge': ChallengeData;
  'system.welcome': WelcomeData;
  'system.ping': PingData;
  'system.pong': PongData;
  'system.error': ErrorData;
  'room.members': MembersData;
  'room.delta': MembersDeltaData;
  'p2p.session': P2pSessionData;
}

/**
 * The logging the signaling code needs; a pino `Logger` fits. Never pass tokens in the
 * objects: the server and client only ever log ids.
 */
export interface SignalingLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** A logger that drops everything, for when none is given. */
export const SILENT_LOGGER: SignalingLogger = Object.freeze({
  debug() {},
  info() {},
  warn() {},
  error() {},
});

/** `'to_server'` for what agents send, `'to_agent'` for what the server sends. */
export type EventDirection = 'to_server' | 'to_agent';

export * from './constants.js';
export {
  createEnvelope,
  EventRegistry,
  type EventSchemas,
  type JsonSchema,
  parseEnvelope,
  type ValidationResult,
  validateEnvelope,
} from './registry.js';
