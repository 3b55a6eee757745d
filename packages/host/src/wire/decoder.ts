import { isUtf8 } from 'node:buffer';
import type { BodyPool } from './body-pool.js';
import { ChunkQueue } from './chunk-queue.js';
import { checkMaxFrame, DEFAULT_MAX_FRAME, EMPTY_BODY, type Frame, type FrameHeader } from './codec.js';
import { WireError } from './errors.js';

export interface FrameDecoderOptions {
  /** Largest accepted value of the u32 length field; default DEFAULT_MAX_FRAME. */
  maxFrame?: number;
  /** Where bodies that span chunks are assembled; default: a fresh buffer each. */
  bodies?: BodyPool;
}

/** Where the decoder is inside the current frame. */
type Step = 'length' | 'headerLength' | 'header' | 'body';

/**
 * Streaming frame decoder: feed it chunks as they arrive, split anywhere, and it returns the
 * frames they complete. Lengths are checked as soon as they are readable, so an oversized or
 * inconsistent frame is rejected before its bytes are waited for or allocated. After an error
 * the decoder is dead and rethrows that error, as the connection is going to be closed.
 */
export class FrameDecoder {
  readonly maxFrame: number;
  private readonly queue = new ChunkQueue();
  private step: Step = 'length';
  /** The u32 length of the current frame (bytes after the length field). */
  private frameLength = 0;
  private headerLength = 0;
  private header: FrameHeader | undefined;
  /** Bytes of the current frame consumed so far, for truncation messages. */
  private consumed = 0;
  private failure: WireError | undefined;
  private readonly allocateBody: ((size: number) => Buffer) | undefined;

  constructor(options: FrameDecoderOptions = {}) {
    this.maxFrame = checkMaxFrame(options.maxFrame ?? DEFAULT_MAX_FRAME);
    const bodies = options.bodies;
    this.allocateBody = bodies ? (size) => bodies.take(size) : undefined;
  }

  /** The error that killed the decoder, if any. */
  get error(): WireError | undefined {
    return this.failure;
  }

  /** Bytes received that do not yet form a complete frame. */
  get bufferedBytes(): number {
    return this.queue.length;
  }

  /** Adds received bytes and returns the frames they complete (possibly none). */
  push(chunk: Buffer): Frame[] {
    if (this.failure) throw this.failure;
    this.queue.push(chunk);
    const frames: Frame[] = [];
    try {
      for (let frame = this.nextFrame(); frame; frame = this.nextFrame()) frames.push(frame);
    } catch (error) {
      this.fail(error);
    }
    return frames;
  }

  /** Declares the end of the stream; throws FRAME_TRUNCATED if a frame was left incomplete. */
  end(): void {
    if (this.failure) throw this.failure;
    if (this.step === 'length' && this.queue.length === 0) return;
    const received = this.consumed + this.queue.length;
    const message =
      this.step === 'length'
        ? `stream ended after ${received} of the 4 bytes of a frame length`
        : `stream ended in the middle of a frame: ${received - 4} of ${this.frameLength} bytes received`;
    this.fail(new WireError('FRAME_TRUNCATED', message));
  }

  private fail(error: unknown): never {
    this.failure =
      error instanceof WireError
        ? error
        : new WireError('BAD_FRAME', `frame could not be decoded: ${String(error)}`, { cause: error });
    this.queue.clear();
    throw this.failure;
  }

  /** Advances through as many steps as the buffered bytes allow; returns a frame when one completes. */
  private nextFrame(): Frame | undefined {
    for (;;) {
      switch (this.step) {
        case 'length': {
          if (this.queue.length < 4) return undefined;
          this.frameLength = this.queue.peekUIntBE(4);
          this.checkFrameLength(this.frameLength);
          this.queue.skip(4);
          this.consumed = 4;
          this.step = 'headerLength';
          break;
        }
        case 'headerLength': {
          if (this.queue.length < 2) return undefined;
          this.headerLength = this.queue.peekUIntBE(2);
          if (this.headerLength > this.frameLength - 2) {
            throw new WireError(
              'BAD_FRAME',
              `header length ${this.headerLength} exceeds the ${this.frameLength - 2} bytes left in the frame`,
            );
          }
          if (this.headerLength === 0) throw new WireError('BAD_HEADER', 'frame header is empty');
          this.queue.skip(2);
          this.consumed += 2;
          this.step = 'header';
          break;
        }
        case 'header': {
          if (this.queue.length < this.headerLength) return undefined;
          this.header = parseHeader(this.queue.take(this.headerLength));
          this.consumed += this.headerLength;
          this.step = 'body';
          break;
        }
        case 'body': {
          const bodyLength = this.frameLength - 2 - this.headerLength;
          if (this.queue.length < bodyLength) return undefined;
          const body = bodyLength === 0 ? EMPTY_BODY : this.queue.take(bodyLength, this.allocateBody);
          const frame: Frame = { header: this.header!, body };
          this.header = undefined;
          this.consumed = 0;
          this.step = 'length';
          return frame;
        }
      }
    }
  }

  private checkFrameLength(length: number): void {
    if (length > this.maxFrame) {
      throw new WireError(
        'FRAME_TOO_LARGE',
        `frame of ${length} bytes exceeds the ${this.maxFrame}-byte limit`,
      );
    }
    if (length < 2) {
      throw new WireError(
        'BAD_FRAME',
        `frame length ${length} is too short to hold the 2-byte header length`,
      );
    }
  }
}

/** Parses a header: strict UTF-8 (no silent U+FFFD), a JSON object, a non-empty string type. */
export function parseHeader(bytes: Buffer): FrameHeader {
  if (!isUtf8(bytes)) throw new WireError('BAD_HEADER', 'frame header is not valid UTF-8');
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    // No `cause`: the SyntaxError quotes the peer's raw bytes, and error printers show causes.
    throw new WireError('BAD_HEADER', `frame header is not valid JSON: ${reason}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
    throw new WireError('BAD_HEADER', `frame header must be a JSON object, got ${kind}`);
  }
  const type = (value as { type?: unknown }).type;
  if (typeof type !== 'string' || type.length === 0) {
    const got = type === undefined ? 'none' : typeof type === 'string' ? 'an empty string' : typeof type;
    throw new WireError('BAD_HEADER', `frame header needs a non-empty string "type", got ${got}`);
  }
  return value as FrameHeader;
}
