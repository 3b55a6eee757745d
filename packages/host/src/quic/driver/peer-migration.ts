import type { Connection, Host } from '@matrixai/quic/native/index.js';

/**
 * The peer address of a connection's active path, when quiche reported path events since the last
 * look (else null: nothing can have moved). quiche, as the server (RFC 9000 §9.3), moves the active
 * path to the address the peer's newest packet came from, validates it with PATH_CHALLENGE, and
 * until then sends there at most three times what it received from it. The active path, not the
 * events, is the answer: it also covers a move back after a failed validation.
 */
export function activePeerAfterPathEvents(q: Pick<Connection, 'pathEventNext' | 'pathStats'>): Host | null {
  if (!q.pathEventNext()) return null;
  while (q.pathEventNext()) {
    // Drained: quiche queues them until read.
  }
  return q.pathStats().find((path) => path.active)?.peerHost ?? null;
}
