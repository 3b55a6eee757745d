import { Duplex } from 'node:stream';
import { QuicStreamResetError, QuicStreamStoppedError } from './errors.js';
import { WRITE_BUFFER_SIZE } from './protocol.js';

/** What a stream needs from its connection: commands to the driver for this stream id. */
export interface StreamSink {
  /** Hands `len` bytes of `data` (which the sink now owns) to the driver. */
  write(sid: number, data: ArrayBuffer, len: number, fin: boolean): void;
  /** A buffer of at least `size` bytes for a write. */
  allocate(size: number): ArrayBuffer;
  end(sid: number): void;
  credit(sid: number, n: number): void;
  abort(sid: number, code: number): void;
}

/**
 * Bytes a writer may have handed to the driver that quiche has not yet taken. Past it, write
 * callbacks wait, so `write()` returns false and pipes pause: the sender's memory stays flat.
 */
const SEND_WINDOW = 4 * 1024 * 1024;
/** Room for a whole 1 MiB frame while the previous one is processed, so the driver keeps reading. */
const READ_HIGH_WATER = 1024 * 1024;
const WRITE_HIGH_WATER = 256 * 1024;
/** Consumed bytes returned to the driver at once; well below STREAM_RECV_CREDIT. */
const CREDIT_BATCH = 64 * 1024;

/** Application error code sent with RESET_STREAM / STOP_SENDING when a stream is destroyed early. */
export const STREAM_ABORTED = 1;

/**
 * One bidirectional QUIC stream as a Node Duplex with backpressure both ways: writes wait for the
 * driver to hand bytes to quiche (bounded by QUIC flow control), and the driver reads from quiche
 * only as far as this stream's consumer returns credit.
 */
export class QuicStream extends Duplex {
  private unacked = 0;
  private pendingWriteCallback: ((error?: Error | null) => void) | null = null;
  /** Bytes delivered while the readable buffer was full; returned to the driver when `_read` asks for more. */
  private heldCredit = 0;
  /** Bytes consumed but not yet returned: credit goes back in CREDIT_BATCH steps, not per chunk. */
  private unreturnedCredit = 0;
  private readEnded = false;
  private writeEnded = false;
  private finReceived = false;
  private connectionError: Error | null = null;

  constructor(
    readonly id: number,
    private readonly sink: StreamSink,
  ) {
    super({
      allowHalfOpen: true,
      readableHighWaterMark: READ_HIGH_WATER,
      writableHighWaterMark: WRITE_HIGH_WATER,
    });
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this.send(
      chunks.map((c) => c.chunk),
      callback,
    );
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.send([chunk], callback);
  }

  /**
   * Copies the chunks into buffers the driver can own (the caller's buffers stay untouched and may
   * be pooled): small writes into one exact-size buffer, larger ones into pooled write buffers.
   */
  private send(chunks: Buffer[], callback: (error?: Error | null) => void): void {
    if (this.connectionError) {
      callback(this.connectionError);
      return;
    }
    let total = 0;
    for (const chunk of chunks) total += chunk.length;
    if (total === 0) {
      callback();
      return;
    }
    let buffer: Uint8Array | null = null;
    let filled = 0;
    for (const chunk of chunks) {
      let offset = 0;
      while (offset < chunk.length) {
        if (!buffer) {
          buffer = new Uint8Array(this.sink.allocate(Math.min(total, WRITE_BUFFER_SIZE)));
          filled = 0;
        }
        const n = Math.min(chunk.length - offset, buffer.length - filled);
        buffer.set(n === chunk.length ? chunk : chunk.subarray(offset, offset + n), filled);
        offset += n;
        filled += n;
        total -= n;
        if (filled === buffer.length || total === 0) {
          this.sink.write(this.id, buffer.buffer as ArrayBuffer, filled, false);
          this.unacked += filled;
          buffer = null;
        }
      }
    }
    if (this.unacked <= SEND_WINDOW) callback();
    else this.pendingWriteCallback = callback;
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.writeEnded = true;
    this.sink.end(this.id);
    callback();
  }

  override _read(): void {
    if (this.heldCredit > 0) {
      this.returnCredit(this.heldCredit);
      this.heldCredit = 0;
    }
  }

  /**
   * Each credit message costs the driver's thread a wake-up; with STREAM_RECV_CREDIT of room, the
   * driver never waits for a batch's worth to come back.
   */
  private returnCredit(n: number): void {
    this.unreturnedCredit += n;
    if (this.unreturnedCredit < CREDIT_BATCH) return;
    this.sink.credit(this.id, this.unreturnedCredit);
    this.unreturnedCredit = 0;
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.readEnded || !this.writeEnded) {
      this.readEnded = true;
      this.writeEnded = true;
      this.sink.abort(this.id, STREAM_ABORTED);
    }
    const pending = this.pendingWriteCallback;
    this.pendingWriteCallback = null;
    pending?.(error);
    callback(error);
  }

  /** @internal The driver delivered stream bytes. */
  onData(data: ArrayBuffer): void {
    if (this.destroyed) return;
    if (this.push(Buffer.from(data))) this.returnCredit(data.byteLength);
    else this.heldCredit += data.byteLength;
  }

  /** @internal The peer finished its side. */
  onFin(): void {
    this.readEnded = true;
    this.finReceived = true;
    this.push(null);
  }

  /** @internal quiche took `n` more bytes of this stream's writes. */
  onAck(n: number): void {
    this.unacked -= n;
    if (this.pendingWriteCallback && this.unacked <= SEND_WINDOW) {
      const callback = this.pendingWriteCallback;
      this.pendingWriteCallback = null;
      callback();
    }
  }

  /** @internal RESET_STREAM from the peer. */
  onReset(code: number): void {
    this.readEnded = true;
    this.destroy(new QuicStreamResetError(this.id, code));
  }

  /** @internal STOP_SENDING from the peer. */
  onStopped(code: number): void {
    this.writeEnded = true;
    this.destroy(new QuicStreamStoppedError(this.id, code));
  }

  /**
   * @internal The connection is gone; a stream that had not finished fails with `error`, or is
   * destroyed without an error event when we closed the connection ourselves (`quiet`).
   */
  onConnectionClosed(error: Error, quiet: boolean): void {
    this.readEnded = true;
    this.writeEnded = true;
    this.connectionError = error;
    if (this.destroyed) return;
    // Everything the peer sent has arrived and nothing of ours is pending: let the reader drain it.
    const writeSettled = this.writableFinished || (this.unacked === 0 && this.writableLength === 0);
    if (this.finReceived && writeSettled) {
      if (!this.writableEnded) this.end();
      return;
    }
    if (quiet) this.destroy();
    else this.destroy(error);
  }
}
