import { ZipError } from './limits.js';

/**
 * Where archive bytes come from: the next piece, or undefined at the end of the stream. It may
 * throw EntryWithdrawn instead of a piece.
 */
export interface ByteSource {
  next(): Promise<Buffer | undefined>;
}

/**
 * The producer gave up the entry whose local header is at `offset` while streaming its data (the
 * file changed under it): the bytes since that header are void and the next entry follows.
 * Thrown by a ByteSource; the reader accepts it only for the entry whose data it is reading.
 */
export class EntryWithdrawn extends Error {
  override name = 'EntryWithdrawn';
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`the sender withdrew the entry at offset ${offset} (${reason})`);
  }
}

/** Buffered, pull-based reading of a ByteSource: exact reads for headers, zero-copy pieces for data. */
export class ByteInput {
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  /** Bytes of the archive consumed so far (the offset of the next byte). */
  position = 0;

  constructor(private readonly source: ByteSource) {}

  /** Exactly `n` bytes, or TRUNCATED naming `what` was being read. */
  async take(n: number, what: string): Promise<Buffer> {
    await this.ensure(n, what);
    return this.consume(n);
  }

  /** Between 1 and `max` bytes (whatever is buffered first), or TRUNCATED. */
  async some(max: number, what: string): Promise<Buffer> {
    await this.ensure(1, what);
    const first = this.chunks[0]!;
    return this.consume(Math.min(max, first.length));
  }

  /** The next u32 (little-endian) without consuming it. */
  async peekU32(what: string): Promise<number> {
    await this.ensure(4, what);
    const first = this.chunks[0]!;
    if (first.length >= 4) return first.readUInt32LE(0);
    return Buffer.concat(this.chunks).readUInt32LE(0);
  }

  /** Puts bytes read too far back in front (the inflater reads past the end of its data). */
  unshift(data: Buffer): void {
    if (data.length === 0) return;
    this.chunks.unshift(data);
    this.buffered += data.length;
    this.position -= data.length;
  }

  /** Drops what is buffered (the rest of a withdrawn entry): the next byte is the source's next one. */
  discardBuffered(): void {
    this.position += this.buffered;
    this.buffered = 0;
    this.chunks.length = 0;
  }

  /** True once every byte was consumed and the source has ended. */
  async atEnd(): Promise<boolean> {
    while (this.buffered === 0) if (!(await this.fill())) return true;
    return false;
  }

  private async ensure(n: number, what: string): Promise<void> {
    while (this.buffered < n)
      if (!(await this.fill()))
        throw new ZipError(
          'TRUNCATED',
          `the archive ends after ${this.position + this.buffered} bytes, in the middle of ${what}`,
        );
  }

  private async fill(): Promise<boolean> {
    if (this.ended) return false;
    const chunk = await this.source.next();
    if (!chunk) {
      this.ended = true;
      return false;
    }
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    return true;
  }

  private consume(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    this.buffered -= n;
    this.position += n;
    const first = this.chunks[0]!;
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const chunk = this.chunks[0]!;
      const part = Math.min(chunk.length, n - at);
      chunk.copy(out, at, 0, part);
      at += part;
      if (part === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(part);
    }
    return out;
  }
}
