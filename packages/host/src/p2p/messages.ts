import type { MessageRegistry } from '../wire/registry.js';

/** Frame types the host itself speaks on the data plane: the handshake and stream dispatch. */
export const P2P_HELLO = 'P2P_HELLO';
export const P2P_OK = 'P2P_OK';
export const P2P_DENY = 'P2P_DENY';
export const STREAM_OPEN = 'STREAM_OPEN';
export const STREAM_ACCEPT = 'STREAM_ACCEPT';
export const STREAM_REJECT = 'STREAM_REJECT';

const id = { type: 'string', minLength: 1, maxLength: 128 };

export function registerHostMessages(registry: MessageRegistry): void {
  registry.register(P2P_HELLO, {
    type: 'object',
    required: ['session_id', 'token', 'agent_id'],
    additionalProperties: false,
    properties: { session_id: id, token: { type: 'string', minLength: 1, maxLength: 512 }, agent_id: id },
  });
  registry.register(P2P_OK, {
    type: 'object',
    required: ['agent_id'],
    additionalProperties: false,
    properties: { agent_id: id },
  });
  registry.register(P2P_DENY, {
    type: 'object',
    required: ['reason'],
    additionalProperties: false,
    properties: { reason: { type: 'string', maxLength: 256 } },
  });
  // Plugins add their own fields to STREAM_OPEN; their handler validates them.
  registry.register(STREAM_OPEN, {
    type: 'object',
    required: ['stream_type'],
    properties: { stream_type: { type: 'string', pattern: '^[a-z][a-z0-9._-]{0,63}$' } },
  });
  registry.register(STREAM_ACCEPT, { type: 'object', additionalProperties: false, properties: {} });
  registry.register(STREAM_REJECT, {
    type: 'object',
    required: ['reason'],
    additionalProperties: false,
    properties: { reason: { type: 'string', maxLength: 256 } },
  });
}
