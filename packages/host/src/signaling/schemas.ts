import {
  AGENT_ID_PATTERN,
  EVENT_TYPE_PATTERN,
  FINGERPRINT_PATTERN,
  ROOM_PATTERN,
  UUID_PATTERN,
} from './constants.js';

/**
 * JSON schemas (draft-07) of the core event catalogue. What agents send is checked strictly
 * (no unknown fields); what the server sends tolerates extra fields, so an older agent keeps
 * working against a newer server.
 */

const agentId = { type: 'string', pattern: AGENT_ID_PATTERN } as const;
const room = { type: 'string', pattern: ROOM_PATTERN } as const;
const fingerprint = { type: 'string', pattern: FINGERPRINT_PATTERN } as const;
const uuid = { type: 'string', pattern: UUID_PATTERN } as const;
const streamType = { type: 'string', pattern: '^[A-Za-z0-9._/-]{1,64}$' } as const;
const msEpoch = { type: 'integer', minimum: 0 } as const;

const socketAddress = {
  type: 'object',
  required: ['address', 'port'],
  additionalProperties: false,
  properties: {
    address: { type: 'string', format: 'ip', maxLength: 64 },
    port: { type: 'integer', minimum: 1, maximum: 65535 },
  },
} as const;
const addresses = { type: 'array', maxItems: 32, items: socketAddress } as const;
const candidates = {
  type: 'array',
  maxItems: 32,
  items: {
    type: 'object',
    required: ['address', 'port', 'type'],
    additionalProperties: false,
    properties: { ...socketAddress.properties, type: { type: 'string', enum: ['host', 'srflx'] } },
  },
} as const;
const natKind = {
  type: 'string',
  enum: ['none', 'endpoint-independent', 'endpoint-dependent', 'unknown', 'udp-blocked'],
} as const;
const capabilities = { type: 'array', maxItems: 64, uniqueItems: true, items: streamType } as const;

function object(required: readonly string[], properties: Record<string, unknown>, strict: boolean) {
  return { type: 'object', required, additionalProperties: !strict, properties };
}

const helloProperties = {
  agent_id: agentId,
  version: { type: 'string', minLength: 1, maxLength: 64 },
  capabilities,
  addresses,
  fingerprint,
  room,
  token: { type: 'string', minLength: 1, maxLength: 4096 },
  certificate: { type: 'string', pattern: '^[A-Za-z0-9+/=]{64,8192}$' },
  proof: { type: 'string', pattern: '^[A-Za-z0-9+/=]{16,512}$' },
};

const errorProperties = {
  code: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,63}$' },
  message: { type: 'string', maxLength: 2048 },
  ref_id: { type: 'string', maxLength: 128 },
};

const pingProperties = { ts: msEpoch };
const pongProperties = { request_id: uuid, ts: msEpoch };
const roomProperties = { room };

const member = object(
  ['agent_id', 'capabilities', 'addresses', 'fingerprint', 'connected_at'],
  { agent_id: agentId, capabilities, addresses, fingerprint, connected_at: msEpoch, nat: natKind },
  false,
);

export interface CoreEventSchemas {
  to_server?: Record<string, unknown>;
  to_agent?: Record<string, unknown>;
}

export const CORE_EVENT_SCHEMAS: Readonly<Record<string, CoreEventSchemas>> = {
  'system.hello': {
    to_server: object(
      ['agent_id', 'version', 'capabilities', 'addresses', 'fingerprint', 'certificate', 'proof'],
      helloProperties,
      true,
    ),
  },
  'system.challenge': {
    to_agent: object(['nonce'], { nonce: { type: 'string', pattern: '^[A-Za-z0-9_-]{22,128}$' } }, false),
  },
  'system.welcome': {
    to_agent: object(
      ['agent_id', 'server_version', 'session_ttl_s'],
      {
        agent_id: agentId,
        server_version: { type: 'string', maxLength: 64 },
        session_ttl_s: { type: 'integer', minimum: 1 },
        connection_id: { type: 'string', maxLength: 64 },
        stun: {
          type: 'object',
          required: ['ports'],
          properties: {
            ports: {
              type: 'array',
              minItems: 1,
              maxItems: 2,
              items: { type: 'integer', minimum: 1, maximum: 65535 },
            },
          },
        },
      },
      false,
    ),
  },
  'system.error': {
    to_server: object(['code', 'message'], errorProperties, true),
    to_agent: object(['code', 'message'], errorProperties, false),
  },
  'system.ping': {
    to_server: object([], pingProperties, true),
    to_agent: object([], pingProperties, false),
  },
  'system.pong': {
    to_server: object(['request_id'], pongProperties, true),
    to_agent: object(['request_id'], pongProperties, false),
  },
  'room.join': { to_server: object(['room'], roomProperties, true) },
  'room.leave': { to_server: object(['room'], roomProperties, true) },
  'room.members': {
    to_server: object(['room'], roomProperties, true),
    to_agent: object(
      ['room', 'members'],
      { room, members: { type: 'array', items: member }, request_id: uuid },
      false,
    ),
  },
  'room.delta': {
    to_agent: object(
      ['room', 'joined', 'left'],
      { room, joined: { type: 'array', items: member }, left: { type: 'array', items: agentId } },
      false,
    ),
  },
  'p2p.request': {
    to_server: object(
      ['peer_id', 'stream_type'],
      { peer_id: agentId, stream_type: streamType, candidates, nat: natKind },
      true,
    ),
  },
  'p2p.candidates': {
    to_server: object(['candidates', 'nat'], { candidates, nat: natKind }, true),
  },
  'p2p.session': {
    to_agent: object(
      [
        'session_id',
        'token',
        'expires_at',
        'peer_id',
        'peer_addresses',
        'peer_fingerprint',
        'role',
        'stream_type',
        'request_id',
      ],
      {
        session_id: uuid,
        // 22 base64url characters = 128 bits, the floor the design sets.
        token: { type: 'string', pattern: '^[A-Za-z0-9_-]{22,512}$' },
        expires_at: msEpoch,
        peer_id: agentId,
        peer_addresses: addresses,
        peer_fingerprint: fingerprint,
        role: { type: 'string', enum: ['initiator', 'responder'] },
        stream_type: streamType,
        request_id: uuid,
        peer_candidates: candidates,
        peer_nat: natKind,
        relay: {
          type: 'object',
          required: ['grant'],
          properties: {
            grant: { type: 'string', minLength: 16, maxLength: 1024 },
            url: { type: 'string', pattern: '^wss?://', maxLength: 2048 },
          },
        },
      },
      false,
    ),
  },
};

/** The envelope itself, whatever its type. */
export const ENVELOPE_SCHEMA = {
  type: 'object',
  required: ['type', 'id', 'data'],
  additionalProperties: false,
  properties: {
    type: { type: 'string', pattern: EVENT_TYPE_PATTERN },
    id: uuid,
    data: { type: 'object' },
  },
} as const;

/** Routing fields of a plugin event, by direction; the plugin's own fields are checked separately. */
export const RELAY_SCHEMAS: Required<CoreEventSchemas> = {
  to_server: {
    type: 'object',
    required: ['to'],
    properties: { to: agentId, to_conn: { type: 'string', minLength: 1, maxLength: 64 } },
  },
  to_agent: {
    type: 'object',
    required: ['from', 'from_conn'],
    properties: { from: agentId, from_conn: { type: 'string', minLength: 1, maxLength: 64 } },
  },
};
