import type { Duplex } from 'node:stream';
import { finished } from 'node:stream/promises';
import { withTimeout } from '../util/timeout.js';
import { BodyPool } from './body-pool.js';
import {
  assertFrameHeader,
  DEFAULT_MAX_FRAME,
  EMPTY_BODY,
  encodeFrameParts,
  type Frame,
  type FrameHeader,
} from './codec.js';
import { FrameDecoder } from './decoder.js';
import { WireError } from './errors.js';
import type { HeaderOf, MessageDefinition, TypedFrame } from './message.js';
import type { MessageRegistry } from './registry.js';

export interface FrameChannelOptions {
  /** The message types accepted from the peer (and, by default, checked before sending). */
  registry: MessageRegistry;
  /** Largest u32 frame length in either direction; default DEFAULT_MAX_FRAME. */
  maxFrame?: number;
  /** Validate outgoing frames against the registry too, to catch our own bugs early; default true. */
  validateOutgoing?: boolean;
}

interface Waiter {
  resolve(frame: Frame | undefined): void;
  reject(error: WireError): void;
}

/**
 * Frames over any Node Duplex (a QUIC stream, a socket). Sending waits for 'drain' when the
 * duplex is full, and reading pauses the duplex while decoded frames wait for the consumer,
 * so neither side buffers more than about one chunk and one frame. Anything invalid from the
 * peer fails the reader with a WireError and destroys the duplex.
 */
export class FrameChannel implements AsyncIterable<Frame> {
  readonly duplex: Duplex;
  readonly registry: MessageRegistry;
  readonly maxFrame: number;
  private readonly validateOutgoing: boolean;
  private readonly decoder: FrameDecoder;
  private readonly bodies: BodyPool;
  /** Decoded, validated frames the consumer has not taken yet. */
  private readonly inbox: Frame[] = [];
  private readonly waiters: Waiter[] = [];
  /** The peer ended its side cleanly and every frame was complete. */
  private readEnded = false;
  /** Why no more frames will come (delivered after the frames already in the inbox). */
  private readError: WireError | undefined;
  /** Why sending is no longer possible. */
  private writeError: WireError | undefined;
  private ending: Promise<void> | undefined;
  private drain: Promise<void> | undefined;

  constructor(duplex: Duplex, options: FrameChannelOptions) {
    this.duplex = duplex;
    this.registry = options.registry;
    this.maxFrame = options.maxFrame ?? DEFAULT_MAX_FRAME;
    this.validateOutgoing = options.validateOutgoing ?? true;
    this.bodies = new BodyPool(this.maxFrame);
    this.decoder = new FrameDecoder({ maxFrame: this.maxFrame, bodies: this.bodies });
    duplex.on('data', (chunk: Buffer | string) => this.onData(chunk));
    duplex.on('end', () => this.onEnd());
    duplex.on('error', (error: Error) => this.onError(error));
    duplex.on('close', () => this.onClose());
  }

  /**
   * Sends one frame. Resolves once the duplex has accepted it and, if its buffer is full,
   * has drained; so `for await (...) await channel.send(...)` keeps memory flat.
   * The body is written without copying: do not modify it after calling send.
   */
  async send(header: FrameHeader, body?: Uint8Array): Promise<void> {
    this.checkWritable();
    assertFrameHeader(header);
    const parts = encodeFrameParts(header, body, this.maxFrame);
    if (this.validateOutgoing) this.registry.validate({ header, body: parts[1] ?? EMPTY_BODY });
    const duplex = this.duplex;
    if (parts.length === 2) {
      // One writev for prefix + body instead of two writes or a copy.
      duplex.cork();
      duplex.write(parts[0]);
      duplex.write(parts[1]);
      duplex.uncork();
    } else {
      duplex.write(parts[0]);
    }
    if (duplex.writableNeedDrain) await this.drained();
  }

  /**
   * Hands a received frame's body back once nothing refers to it any more (hashed, written): its
   * memory may then hold a later frame's body. Optional: bodies never released are simply left to
   * the GC, but a streaming receiver that releases them allocates almost nothing per frame.
   */
  release(frame: Frame): void {
    this.bodies.release(frame.body);
  }

  /**
   * Reads the next frame; throws STREAM_ENDED at the end, UNEXPECTED_TYPE (and closes) on a wrong
   * type. Given message definitions (`defineMessage`), the frame's header comes typed: the
   * registry validated it against the schema those definitions registered.
   */
  async next<const D extends readonly MessageDefinition[]>(
    expected: D,
  ): Promise<TypedFrame<HeaderOf<D[number]>>>;
  async next(expectedTypes?: readonly string[]): Promise<Frame>;
  async next(expected?: readonly (string | MessageDefinition)[]): Promise<Frame> {
    const expectedTypes = expected?.map((e) => (typeof e === 'string' ? e : e.type));
    const frame = await this.pull();
    const wanted = expectedTypes && expectedTypes.length > 0 ? expectedTypes.join(' or ') : 'a frame';
    if (!frame) throw new WireError('STREAM_ENDED', `stream ended while waiting for ${wanted}`);
    if (expectedTypes && expectedTypes.length > 0 && !expectedTypes.includes(frame.header.type)) {
      const error = new WireError('UNEXPECTED_TYPE', `expected ${wanted}, got ${frame.header.type}`);
      this.fail(error);
      throw error;
    }
    return frame;
  }

  /** Frames in order until the peer ends the stream; throws the WireError that stopped it otherwise. */
  [Symbol.asyncIterator](): AsyncIterator<Frame> {
    return {
      next: async (): Promise<IteratorResult<Frame>> => {
        const frame = await this.pull();
        return frame ? { value: frame, done: false } : { value: undefined, done: true };
      },
      // Leaving a for-await loop does not close the channel: protocols switch between loops and next().
      return: async (): Promise<IteratorResult<Frame>> => ({ value: undefined, done: true }),
    };
  }

  /** Half-closes: no more frames will be sent. Resolves when everything written has been flushed. */
  end(): Promise<void> {
    if (!this.ending) {
      this.checkWritable();
      this.ending = finished(this.duplex, { readable: false }).catch((error: unknown) => {
        throw this.writeError ?? lost(error);
      });
      this.duplex.end();
    }
    return this.ending;
  }

  /**
   * A lingering close after our last word (a verdict, a refusal): ends our side, then waits, at
   * most `graceMs` per step, for the peer to end its side, dropping whatever it still sends, and
   * destroys the channel. Never throws: a peer that is gone or slow has nothing left to hear.
   */
  async linger(graceMs: number): Promise<void> {
    try {
      await withTimeout(this.end(), graceMs);
      while (
        await withTimeout(
          this.next().then(
            () => true,
            () => false,
          ),
          graceMs,
        )
      );
    } catch {
      // Gone or too slow.
    } finally {
      this.destroy();
    }
  }

  /** Closes both directions at once; pending and later reads and sends fail. */
  destroy(error?: Error): void {
    const reason =
      error instanceof WireError
        ? error
        : new WireError(
            'CHANNEL_CLOSED',
            error ? `channel destroyed: ${error.message}` : 'channel destroyed',
            {
              cause: error,
            },
          );
    this.inbox.length = 0;
    this.stopReading(reason);
    this.writeError ??= reason;
    this.duplex.destroy(error);
  }

  private checkWritable(): void {
    if (this.writeError) throw this.writeError;
    if (this.ending || this.duplex.writableEnded) {
      throw new WireError('CHANNEL_CLOSED', 'cannot send: this side of the channel has ended');
    }
    if (this.duplex.destroyed) throw new WireError('CHANNEL_CLOSED', 'cannot send: the channel is closed');
  }

  private drained(): Promise<void> {
    this.drain ??= new Promise<void>((resolve, reject) => {
      const settle = (error?: WireError): void => {
        this.duplex.off('drain', onDrain);
        this.duplex.off('close', onClose);
        this.drain = undefined;
        if (error) reject(error);
        else resolve();
      };
      const onDrain = (): void => settle();
      const onClose = (): void =>
        settle(this.writeError ?? new WireError('CHANNEL_CLOSED', 'channel closed while waiting to send'));
      this.duplex.on('drain', onDrain);
      this.duplex.on('close', onClose);
    });
    return this.drain;
  }

  private pull(): Promise<Frame | undefined> {
    const frame = this.inbox.shift();
    if (frame) {
      if (this.inbox.length === 0) this.resumeReading();
      return Promise.resolve(frame);
    }
    if (this.readError) return Promise.reject(this.readError);
    if (this.readEnded) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.resumeReading();
    });
  }

  private onData(chunk: Buffer | string): void {
    if (this.readError) return;
    let frames: Frame[];
    try {
      if (typeof chunk === 'string')
        throw new WireError('BAD_FRAME', 'the stream delivers strings, not bytes');
      frames = this.decoder.push(chunk);
      for (const frame of frames) this.registry.validate(frame);
    } catch (error) {
      // Frames that were complete before the bad one are still lost: the stream is dropped anyway.
      this.fail(error instanceof WireError ? error : lost(error));
      return;
    }
    for (const frame of frames) {
      const waiter = this.waiters.shift();
      if (waiter) waiter.resolve(frame);
      else this.inbox.push(frame);
    }
    // Stop reading while the consumer has frames to go through: this is the read backpressure.
    if (this.inbox.length > 0) this.duplex.pause();
  }

  private onEnd(): void {
    if (this.readError) return;
    try {
      this.decoder.end();
    } catch (error) {
      this.fail(error instanceof WireError ? error : lost(error));
      return;
    }
    this.readEnded = true;
    for (const waiter of this.waiters.splice(0)) waiter.resolve(undefined);
  }

  private onError(error: Error): void {
    const reason = error instanceof WireError ? error : lost(error);
    this.writeError ??= reason;
    if (!this.readEnded) this.stopReading(reason);
  }

  private onClose(): void {
    const reason = new WireError('CONNECTION_LOST', 'stream closed before the peer ended it');
    this.writeError ??= new WireError('CHANNEL_CLOSED', 'the channel is closed');
    if (!this.readEnded) this.stopReading(reason);
  }

  /** Fails reading with a protocol error and drops the connection, as the stream cannot be resynchronised. */
  private fail(error: WireError): void {
    this.stopReading(error);
    this.writeError ??= error;
    if (!this.duplex.destroyed) this.duplex.destroy(error);
  }

  private stopReading(error: WireError): void {
    this.readError ??= error;
    for (const waiter of this.waiters.splice(0)) waiter.reject(this.readError);
  }

  private resumeReading(): void {
    if (this.readError || this.readEnded || !this.duplex.isPaused()) return;
    this.duplex.resume();
  }
}

function lost(error: unknown): WireError {
  const reason = error instanceof Error ? error.message : String(error);
  return new WireError('CONNECTION_LOST', `stream failed: ${reason}`, { cause: error });
}
