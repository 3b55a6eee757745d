import type { Connection } from '@matrixai/quic/native/index.js';
import type { Outbox } from './outbox.js';
import { quicheError } from './quiche-errors.js';
import { type DriverConnection, DriverStream } from './state.js';

const EMPTY = new Uint8Array(0);

/**
 * The stream side of the send path: queues the main thread's writes, feeds them to quiche as far
 * as flow control allows, and notices when the peer stopped a stream we send on.
 */
export class StreamWriter {
  constructor(private readonly outbox: Outbox) {}

  /** Queues bytes and / or a FIN; false when the stream takes no more writes (aborted or done). */
  queue(conn: DriverConnection, sid: number, data: Uint8Array | null, fin: boolean): boolean {
    if (conn.aborted.has(sid)) return false;
    let stream = conn.streams.get(sid);
    if (!stream) {
      stream = new DriverStream(sid);
      conn.streams.set(sid, stream);
    }
    if (stream.sendDone) return false;
    if (data && data.length > 0) stream.sendQueue.push(data);
    if (fin) stream.finQueued = true;
    conn.pendingSend.add(stream);
    return true;
  }

  feedSends(conn: DriverConnection): void {
    const q = conn.q;
    for (const stream of conn.pendingSend) {
      let accepted = 0;
      try {
        while (stream.sendQueue.length > 0) {
          const chunk = stream.sendQueue[0]!;
          const last = stream.finQueued && stream.sendQueue.length === 1;
          const rest = stream.sendOffset === 0 ? chunk : chunk.subarray(stream.sendOffset);
          const n = q.streamSend(stream.sid, rest, last);
          if (n === null) {
            // quiche forgets a stream once both sides are done (e.g. stopped, then reset by quiche
            // itself); writes to it then return Done forever, so ask whether quiche still has it.
            if (stream.known && !streamExists(q, stream.sid)) this.stopStream(conn, stream, -1);
            break;
          }
          stream.known = true;
          accepted += n;
          if (n < rest.length) {
            stream.sendOffset += n;
            break;
          }
          this.outbox.recycle(stream.sendQueue.shift()!);
          stream.sendOffset = 0;
          if (last) stream.sendDone = true;
        }
        if (stream.sendQueue.length === 0 && stream.finQueued && !stream.sendDone) {
          if (q.streamSend(stream.sid, EMPTY, true) !== null) stream.sendDone = true;
        }
      } catch (error) {
        const { name, code } = quicheError(error);
        // StreamLimit: the peer has not granted another stream yet; retried on a later turn.
        if (name !== 'StreamLimit') this.stopStream(conn, stream, code ?? -1);
      }
      if (accepted > 0) {
        conn.outbound = true;
        conn.expectReply();
        this.outbox.acknowledge(conn.handle, stream.sid, accepted);
      }
      if (stream.sendDone) {
        conn.outbound = true;
        conn.expectReply();
      }
      // Pending: bytes or a FIN quiche has not taken yet (no room, or no stream credit from the peer).
      if (stream.sendDone || (stream.sendQueue.length === 0 && !stream.finQueued))
        conn.pendingSend.delete(stream);
      conn.forgetIfDone(stream);
    }
  }

  /** The peer stopped our sending side: drop what is queued and tell the writer. */
  private stopStream(conn: DriverConnection, stream: DriverStream, code: number): void {
    if (stream.sendDone) return;
    stream.sendDone = true;
    for (const chunk of stream.sendQueue.splice(0)) this.outbox.recycle(chunk);
    conn.pendingSend.delete(stream);
    this.outbox.push({ ev: 'stopped', h: conn.handle, sid: stream.sid, code });
  }

  /**
   * STOP_SENDING on a stream with nothing queued would only show at its next write, and quiche may
   * have forgotten the stream by then: ask about each stream we still send on (quiche also lists
   * stopped streams as writable, which is how many streams are checked).
   */
  checkStopped(conn: DriverConnection): void {
    const q = conn.q;
    if (conn.hasFewStreams()) {
      for (const stream of conn.streams.values()) {
        if (!stream.known || stream.sendDone || conn.pendingSend.has(stream)) continue;
        this.checkStreamStopped(conn, stream, true);
      }
      return;
    }
    for (const sid of q.writable()) {
      const stream = conn.streams.get(sid);
      if (!stream || stream.sendDone || conn.pendingSend.has(stream)) continue;
      this.checkStreamStopped(conn, stream, false);
    }
  }

  /** `maybeGone`: the stream was not found through `writable()`, so quiche may have dropped it. */
  private checkStreamStopped(conn: DriverConnection, stream: DriverStream, maybeGone: boolean): void {
    try {
      conn.q.streamWritable(stream.sid, 0);
    } catch (error) {
      const { name, code } = quicheError(error);
      if (name === 'StreamStopped') this.stopStream(conn, stream, code ?? -1);
      // Gone from quiche while our side still sends: stopped and reset by quiche itself.
      else if (maybeGone && name === 'InvalidStreamState') this.stopStream(conn, stream, -1);
    }
    conn.forgetIfDone(stream);
  }
}

function streamExists(q: Connection, sid: number): boolean {
  try {
    q.streamCapacity(sid);
    return true;
  } catch (error) {
    return quicheError(error).name !== 'InvalidStreamState';
  }
}
