import type { DriverEvent } from '../protocol.js';
import { WRITE_BUFFER_SIZE } from '../protocol.js';
import type { DriverConnection, DriverStream } from './state.js';

export type Deliver = (events: DriverEvent[], transfer: ArrayBuffer[]) => void;

/** Acknowledged write bytes that are worth a batch of their own (see `flush`). */
const ACK_BATCH_BYTES = 64 * 1024;
/** Longest a write acknowledgement waits for other events. */
const ACK_FLUSH_MS = 2;
/**
 * Datagrams closer together than this mean the peer is streaming: received bytes then wait (up to
 * DELIVERY_HOLD_MS, or until a receive buffer is full) to cross to the main thread in fewer, larger
 * messages. Each message wakes the main thread; at 1350-byte datagrams posting them took a quarter
 * of the receiving driver's time, and holding halves their number (30 KB → 55 KB each at 40 MB/s).
 * A lone message (a keystroke, a reply) comes after a longer gap and is delivered at once.
 */
export const STREAMING_GAP_MS = 0.1;
const DELIVERY_HOLD_MS = 1;

/**
 * What crosses to the main thread, and when: this turn's events go as one batch with their
 * transferred buffers; write acknowledgements, write buffers handed back for reuse and the received
 * bytes of a streaming peer (held in their stream's inbox) wait to ride with a later batch.
 */
export class Outbox {
  private events: DriverEvent[] = [];
  /** 'ack' events not delivered yet: they ride with the next batch (see `flush`). */
  private acks: DriverEvent[] = [];
  private ackBytes = 0;
  private ackTimer: NodeJS.Timeout | null = null;
  private transfer: ArrayBuffer[] = [];
  private recycled: ArrayBuffer[] = [];
  /** Streams whose received bytes wait in their inbox for a larger delivery. */
  private readonly held = new Map<DriverStream, DriverConnection>();
  private holdTimer: NodeJS.Timeout | null = null;

  constructor(private readonly deliver: Deliver) {}

  push(event: DriverEvent): void {
    this.events.push(event);
  }

  /** Events of this turn, or held stream bytes, wait to cross. */
  get pending(): boolean {
    return this.events.length > 0 || this.held.size > 0;
  }

  /** quiche took `n` bytes of the stream's writes. */
  acknowledge(h: number, sid: number, n: number): void {
    this.acks.push({ ev: 'ack', h, sid, n });
    this.ackBytes += n;
  }

  /** A write chunk quiche has fully taken: its pooled buffer goes back to the writer. */
  recycle(chunk: Uint8Array): void {
    if (chunk.buffer.byteLength === WRITE_BUFFER_SIZE) this.recycled.push(chunk.buffer as ArrayBuffer);
  }

  /** The stream's inbox has bytes that may wait for more (see `releaseHeld`). */
  hold(stream: DriverStream, conn: DriverConnection): void {
    this.held.set(stream, conn);
  }

  unhold(stream: DriverStream): void {
    this.held.delete(stream);
  }

  /**
   * Hands the inbox's bytes to the main thread: a full inbox crosses as it is (no copy, the stream
   * takes a new one), a partial one as a copy, and the inbox is reused.
   */
  deliverInbox(conn: DriverConnection, stream: DriverStream): void {
    const inbox = stream.inbox;
    const length = stream.inboxLength;
    this.held.delete(stream);
    if (!inbox || length === 0) return;
    let data: ArrayBuffer;
    if (length === inbox.length) {
      data = inbox.buffer as ArrayBuffer;
      stream.inbox = null;
    } else {
      data = inbox.buffer.slice(inbox.byteOffset, inbox.byteOffset + length) as ArrayBuffer;
    }
    stream.inboxLength = 0;
    this.events.push({ ev: 'data', h: conn.handle, sid: stream.sid, data });
    this.transfer.push(data);
  }

  /**
   * Held bytes go now when a message leaves anyway, when their connection is not streaming, or
   * when they have waited DELIVERY_HOLD_MS (the timer); otherwise they wait for more.
   */
  private releaseHeld(all: boolean): void {
    for (const [stream, conn] of this.held) {
      if (all || !conn.streaming) this.deliverInbox(conn, stream);
    }
    if (this.held.size === 0) {
      if (this.holdTimer) clearTimeout(this.holdTimer);
      this.holdTimer = null;
    } else this.holdTimer ??= setTimeout(this.onHoldTimer, DELIVERY_HOLD_MS);
  }

  private readonly onHoldTimer = (): void => {
    this.holdTimer = null;
    this.releaseHeld(true);
    this.flush();
  };

  /**
   * Delivers the batch. Small write acknowledgements alone do not make a batch: each would wake
   * the API's thread for nothing (the writer's callback already ran, see SEND_WINDOW); they go
   * with the next events, once ACK_BATCH_BYTES are acknowledged, or after ACK_FLUSH_MS.
   */
  flush(): void {
    if (this.recycled.length > 0) {
      const buffers = this.recycled;
      this.recycled = [];
      this.events.push({ ev: 'recycle', buffers });
      this.transfer.push(...buffers);
    }
    if (this.held.size > 0) this.releaseHeld(this.events.length > 0);
    if (this.acks.length > 0) {
      if (this.events.length === 0 && this.ackBytes < ACK_BATCH_BYTES) {
        this.ackTimer ??= setTimeout(this.flushAcks, ACK_FLUSH_MS);
        return;
      }
      // Before the other events: a stream's 'closed' or 'stopped' must find its bytes acknowledged.
      this.events = this.acks.concat(this.events);
      this.acks = [];
      this.ackBytes = 0;
      if (this.ackTimer) clearTimeout(this.ackTimer);
      this.ackTimer = null;
    }
    if (this.events.length === 0) return;
    const events = this.events;
    const transfer = this.transfer;
    this.events = [];
    this.transfer = [];
    this.deliver(events, transfer);
  }

  private readonly flushAcks = (): void => {
    this.ackTimer = null;
    this.ackBytes = ACK_BATCH_BYTES;
    this.flush();
  };
}
