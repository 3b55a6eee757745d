import { createHash } from 'node:crypto';
import type { Outbox } from './outbox.js';
import type { PacketSender } from './packet-sender.js';
import type { DriverConnection } from './state.js';
import type { DriverTurn } from './turn.js';

/** TLS alerts as QUIC transport error codes (0x100 + alert). */
const BAD_CERTIFICATE = 0x100 + 42;
const CERTIFICATE_REQUIRED = 0x100 + 116;

/**
 * A connection's way to the main thread: the handshake deadline, the peer's certificate checked
 * against the pinned fingerprint, connected / accepted, then keep-alive probes.
 */
export class Handshake {
  constructor(
    private readonly outbox: Outbox,
    private readonly sender: PacketSender,
    private readonly turn: DriverTurn,
  ) {}

  startTimer(conn: DriverConnection, timeoutMs: number): void {
    conn.handshakeTimer = setTimeout(() => this.handshakeTimedOut(conn), timeoutMs);
  }

  onEstablished(conn: DriverConnection, keepAliveMs: number): void {
    conn.established = true;
    if (conn.handshakeTimer) clearTimeout(conn.handshakeTimer);
    conn.handshakeTimer = null;
    const leaf = conn.q.peerCertChain()?.[0];
    if (!leaf) {
      this.failHandshake(conn, CERTIFICATE_REQUIRED, 'peer presented no certificate');
      return;
    }
    conn.peerFingerprint = createHash('sha256').update(leaf).digest('hex');
    if (conn.role === 'client') {
      const req = conn.connectReq!;
      const expected = conn.expectedFingerprint;
      if (expected !== null && expected !== conn.peerFingerprint) {
        this.outbox.push({
          ev: 'connectFailed',
          req,
          error: 'certificate fingerprint mismatch',
          expected,
          actual: conn.peerFingerprint,
        });
        conn.connectReq = null;
        // Send our Finished first: once closing, quiche only emits CONNECTION_CLOSE, and the server
        // would never learn that the handshake completed (nor whose certificate it saw).
        this.sender.drainSend(conn, Number.POSITIVE_INFINITY);
        this.failHandshake(conn, BAD_CERTIFICATE, 'certificate fingerprint mismatch');
        return;
      }
      conn.connectReq = null;
      this.outbox.push({
        ev: 'connected',
        req,
        h: conn.handle,
        remote: conn.remote,
        peerFingerprint: conn.peerFingerprint,
      });
    } else {
      this.outbox.push({
        ev: 'accepted',
        h: conn.handle,
        remote: conn.remote,
        peerFingerprint: conn.peerFingerprint,
      });
    }
    conn.reported = true;
    if (keepAliveMs > 0) {
      conn.keepAlive = setInterval(() => {
        conn.q.sendAckEliciting();
        conn.expectReply();
        conn.outbound = true;
        this.turn.markDirty(conn);
      }, keepAliveMs);
    }
  }

  private failHandshake(conn: DriverConnection, code: number, reason: string): void {
    if (conn.connectReq !== null) {
      this.outbox.push({ ev: 'connectFailed', req: conn.connectReq, error: reason });
      conn.connectReq = null;
    }
    try {
      conn.q.close(false, code, Buffer.from(reason));
    } catch {
      // Already closing.
    }
  }

  private handshakeTimedOut(conn: DriverConnection): void {
    conn.handshakeTimer = null;
    if (conn.established || conn.gone) return;
    this.failHandshake(conn, 0x1, 'handshake timed out');
    this.turn.process(conn);
    this.outbox.flush();
  }
}
