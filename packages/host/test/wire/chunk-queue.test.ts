import { describe, expect, it } from 'vitest';
import { ChunkQueue } from '../../src/wire/chunk-queue.js';

describe('ChunkQueue', () => {
  it('does not pin consumed chunks while a partial tail keeps it from emptying', () => {
    const queue = new ChunkQueue();
    const pinned = () =>
      (queue as unknown as { chunks: Buffer[] }).chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    let worst = 0;
    // Reads a byte shorter than a chunk leave a tail behind, as frames that span QUIC chunks do.
    for (let i = 0; i < 3000; i++) {
      queue.push(Buffer.alloc(1024, i % 256));
      if (queue.length >= 1023) expect(queue.take(1023)).toHaveLength(1023);
      worst = Math.max(worst, pinned());
    }
    expect(worst).toBeLessThanOrEqual(4 * 1024);
  });
});
