import type { Envelope, ServerToAgentEvents } from '../signaling/protocol.js';

/** A control-plane event of a type the protocol defines, with its data typed. */
export function coreEventData<K extends keyof ServerToAgentEvents>(
  envelope: Envelope,
  type: K,
): ServerToAgentEvents[K] {
  if (envelope.type !== type) {
    const reason = envelope.type === 'system.error' ? `: ${String(envelope.data.message)}` : '';
    throw new Error(`expected ${type} from the signaling server, got ${envelope.type}${reason}`);
  }
  // A true boundary: the signaling client checked the data against this type's core schema
  // (signaling/schemas.ts) before any hook or request saw the envelope.
  return envelope.data as unknown as ServerToAgentEvents[K];
}
