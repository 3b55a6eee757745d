import type { MessageRegistry } from '../wire/registry.js';
import { strictHeader } from '../wire/schema-parts.js';

/** Frame types the host itself speaks on the data plane: the handshake and stream dispatch. */
export const P2P_HELLO = 'P2P_HELLO';
export const P2P_OK = 'P2P_OK';
export const P2P_DENY = 'P2P_DENY';
export const STREAM_OPEN = 'STREAM_OPEN';
export const STREAM_ACCEPT = 'STREAM_ACCEPT';
export const STREAM_REJECT = 'STREAM_REJECT';

const id = { type: 'string', minLength: 1, maxLength: 128 };

export function registerHostMessages(registry: MessageRegistry): void {
  const reason = { reason: { type: 'string', maxLength: 256 } };
  registry.register(
    P2P_HELLO,
    strictHeader(['session_id', 'token', 'agent_id'], {
      session_id: id,
      token: { type: 'string', minLength: 1, maxLength: 512 },
      agent_id: id,
    }),
  );
  registry.register(P2P_OK, strictHeader(['agent_id'], { agent_id: id }));
  registry.register(P2P_DENY, strictHeader(['reason'], reason));
  // Plugins add their own fields to STREAM_OPEN; their handler validates them.
  registry.register(STREAM_OPEN, {
    type: 'object',
    required: ['stream_type'],
    properties: { stream_type: { type: 'string', pattern: '^[a-z][a-z0-9._-]{0,63}$' } },
  });
  registry.register(STREAM_ACCEPT, strictHeader([], {}));
  registry.register(STREAM_REJECT, strictHeader(['reason'], reason));
}
