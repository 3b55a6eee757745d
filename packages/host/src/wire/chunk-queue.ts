/**
 * The bytes received but not yet consumed, kept as the list of chunks they arrived in.
 * Bytes are copied only when a read spans chunks, so a frame is assembled once, however
 * finely the stream split it; a read inside one chunk is a zero-copy view.
 */
const EMPTY_CHUNK = Buffer.alloc(0);

export class ChunkQueue {
  private chunks: Buffer[] = [];
  /** Index of the first chunk with unread bytes; chunks before it are spent. */
  private head = 0;
  /** Bytes already read from chunks[head]. */
  private offset = 0;
  private unread = 0;

  get length(): number {
    return this.unread;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.unread += chunk.length;
  }

  /** Reads a big-endian unsigned integer of `bytes` (≤ 4) bytes without consuming it. */
  peekUIntBE(bytes: number): number {
    const first = this.chunks[this.head]!;
    if (first.length - this.offset >= bytes) return first.readUIntBE(this.offset, bytes);
    let value = 0;
    let index = this.head;
    let position = this.offset;
    for (let i = 0; i < bytes; i++) {
      let chunk = this.chunks[index]!;
      if (position === chunk.length) {
        index++;
        position = 0;
        chunk = this.chunks[index]!;
      }
      value = value * 256 + chunk[position]!;
      position++;
    }
    return value;
  }

  /**
   * Removes and returns the next `size` bytes; the caller ensures `size <= length`. Bytes inside
   * one chunk come as a view of it; bytes spanning chunks are copied into `allocate(size)`.
   */
  take(size: number, allocate: (size: number) => Buffer = Buffer.allocUnsafe): Buffer {
    const first = this.chunks[this.head]!;
    const available = first.length - this.offset;
    if (available >= size) {
      const view = first.subarray(this.offset, this.offset + size);
      this.advance(size);
      return view;
    }
    const out = allocate(size);
    let written = 0;
    while (written < size) {
      const chunk = this.chunks[this.head]!;
      const count = Math.min(chunk.length - this.offset, size - written);
      chunk.copy(out, written, this.offset, this.offset + count);
      written += count;
      this.advance(count);
    }
    return out;
  }

  /** Drops the next `size` bytes; the caller ensures `size <= length`. */
  skip(size: number): void {
    let left = size;
    while (left > 0) {
      const chunk = this.chunks[this.head]!;
      const count = Math.min(chunk.length - this.offset, left);
      this.advance(count);
      left -= count;
    }
  }

  /** Forgets everything, releasing the chunks. */
  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.offset = 0;
    this.unread = 0;
  }

  /** Consumes `count` bytes that lie within chunks[head]. */
  private advance(count: number): void {
    this.unread -= count;
    this.offset += count;
    const chunk = this.chunks[this.head]!;
    if (this.offset < chunk.length) return;
    // Release the spent chunk now: a queue that never empties (frames spanning chunks keep a
    // tail in it) must not pin every chunk it ever saw until the next compaction.
    this.chunks[this.head] = EMPTY_CHUNK;
    this.head++;
    this.offset = 0;
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.chunks.length) {
      // Compact now and then instead of shift() per chunk, which is quadratic for tiny chunks.
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}
