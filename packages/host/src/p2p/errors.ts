import { printable } from '../util/printable.js';

/** The peer refused our handshake (bad token, expired, wrong agent …). */
export class HandshakeDeniedError extends Error {
  override name = 'HandshakeDeniedError';
  constructor(readonly reason: string) {
    super(`the peer denied the session: ${printable(reason)}`);
  }
}

/** The peer has no handler for the stream type we asked for. */
export class StreamRejectedError extends Error {
  override name = 'StreamRejectedError';
  constructor(
    readonly streamType: string,
    readonly reason: string,
  ) {
    super(`the peer rejected a ${streamType} stream: ${printable(reason)}`);
  }
}

/** The control plane cannot broker a session with that agent (offline, unknown, lacks the stream type …). */
export class PeerUnavailableError extends Error {
  override name = 'PeerUnavailableError';
  constructor(
    readonly agentId: string,
    readonly code: string,
    reason: string,
  ) {
    super(`cannot reach agent ${agentId}: ${printable(reason)}`);
  }
}
