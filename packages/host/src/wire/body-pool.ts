/**
 * Memory for large frame bodies that consumers hand back. A receiver assembles every body that
 * spans stream chunks into a new buffer; at 1 MiB per frame that is a gigabyte of allocations per
 * gigabyte received, each one page-faulted in and later unmapped, and V8 frees them only at its
 * next collection. Bodies from this pool go back to it when the consumer releases them
 * (FrameChannel.release), so a streaming receiver cycles through a few buffers instead.
 */
export class BodyPool {
  private readonly spare: ArrayBuffer[] = [];
  /**
   * Buffers handed out and not yet released: a second release of one is ignored, never a double
   * use. Weak: a body its consumer never releases is garbage-collected like any other.
   */
  private readonly lent = new WeakSet<ArrayBuffer>();

  /**
   * @param capacity size of each pooled buffer: the largest body it serves.
   * @param minSize bodies below this are not worth pooling and come from plain allocations.
   * @param keep spare buffers kept at most.
   */
  constructor(
    readonly capacity: number,
    readonly minSize = 64 * 1024,
    private readonly keep = 4,
  ) {}

  /** A buffer of `size` bytes for a body, from the pool when it is worth it. */
  take(size: number): Buffer {
    if (size < this.minSize || size > this.capacity) return Buffer.allocUnsafe(size);
    // Uninitialised, like Buffer.allocUnsafe: the body is written over in full before anyone reads it.
    const memory = this.spare.pop() ?? (Buffer.allocUnsafeSlow(this.capacity).buffer as ArrayBuffer);
    this.lent.add(memory);
    return Buffer.from(memory, 0, size);
  }

  /** Takes a body back; bodies that did not come from the pool are left to the GC. */
  release(body: Uint8Array): void {
    const memory = body.buffer as ArrayBuffer;
    if (!this.lent.delete(memory)) return;
    if (this.spare.length < this.keep) this.spare.push(memory);
  }
}
