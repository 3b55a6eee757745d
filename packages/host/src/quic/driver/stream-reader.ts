import type { DriverEvent } from '../protocol.js';
import type { Outbox } from './outbox.js';
import { quicheError } from './quiche-errors.js';
import { type DriverConnection, DriverStream } from './state.js';

/** Largest stream chunk handed to the main thread at once: a stream's receive buffer. */
const RECV_CHUNK = 256 * 1024;

/** The receive path: reads quiche's readable streams into their inboxes, as far as each reader's credit allows. */
export class StreamReader {
  /** Where discarded bytes go; their content is never looked at. */
  private scratch: Buffer | null = null;

  constructor(private readonly outbox: Outbox) {}

  /**
   * Consumes and drops what quiche holds unread for a stream this side is giving up on. quiche
   * 0.18's read shutdown drops those bytes without counting them consumed, so they would stay
   * charged to the connection's window for good: a few such streams stall every stream on the
   * connection. (Bytes arriving after the shutdown are counted; those dropped by a peer's
   * RESET_STREAM are not, and nothing here can reach them.)
   */
  discard(conn: DriverConnection, sid: number): void {
    this.scratch ??= Buffer.allocUnsafeSlow(RECV_CHUNK);
    try {
      while (conn.q.streamRecv(sid, this.scratch)?.[1] === false);
    } catch {
      // Reset, finished or unknown to quiche: nothing of it is held.
    }
  }

  readStreams(conn: DriverConnection): void {
    const q = conn.q;
    if (!q.isReadable()) return;
    if (conn.hasFewStreams()) {
      for (const stream of conn.streams.values()) {
        if (!stream.recvDone && stream.credit > 0 && q.streamReadable(stream.sid))
          this.readStream(conn, stream);
      }
      // Still readable: a stream the peer just opened, one waiting for credit, or a reset.
      if (!q.isReadable()) return;
    }
    for (const sid of q.readable()) {
      let stream = conn.streams.get(sid);
      if (!stream) {
        if (conn.aborted.has(sid) || !conn.isPeerBidi(sid)) continue;
        stream = new DriverStream(sid);
        stream.known = true;
        conn.streams.set(sid, stream);
        this.outbox.push({ ev: 'stream', h: conn.handle, sid });
      }
      if (!stream.recvDone && stream.credit > 0) this.readStream(conn, stream);
    }
  }

  /** Reads what the stream's credit allows straight into its inbox; a full inbox goes to the main thread. */
  private readStream(conn: DriverConnection, stream: DriverStream): void {
    const q = conn.q;
    let fin = false;
    let got = false;
    try {
      while (stream.credit > 0) {
        stream.inbox ??= Buffer.allocUnsafeSlow(RECV_CHUNK);
        const inbox = stream.inbox;
        const end = Math.min(inbox.length, stream.inboxLength + stream.credit);
        const r = q.streamRecv(stream.sid, inbox.subarray(stream.inboxLength, end));
        if (r === null) break;
        stream.inboxLength += r[0];
        stream.credit -= r[0];
        if (r[0] > 0) conn.delivered = got = true;
        if (stream.inboxLength === inbox.length) this.outbox.deliverInbox(conn, stream);
        if (r[1]) {
          fin = true;
          break;
        }
      }
    } catch (error) {
      this.endReceiving(conn, stream, {
        ev: 'reset',
        h: conn.handle,
        sid: stream.sid,
        code: quicheError(error).code ?? -1,
      });
      return;
    }
    if (fin) {
      this.endReceiving(conn, stream, { ev: 'fin', h: conn.handle, sid: stream.sid });
      return;
    }
    if (stream.inboxLength > 0) this.outbox.hold(stream, conn);
    // Bytes on a stream still open: the rest is owed. Credit goes back in batches, so without this a
    // sender that dies after its last packet would count only from the next keep-alive.
    if (got) conn.expectReply();
  }

  /** The peer's side is over (FIN or RESET): the bytes before it, then the event, and no more inbox. */
  private endReceiving(conn: DriverConnection, stream: DriverStream, event: DriverEvent): void {
    this.outbox.deliverInbox(conn, stream);
    stream.inbox = null;
    stream.recvDone = true;
    this.outbox.push(event);
    conn.forgetIfDone(stream);
  }
}
