import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { BodyPool } from '../../src/wire/body-pool.js';
import { encodeFrame } from '../../src/wire/codec.js';
import { FrameDecoder } from '../../src/wire/decoder.js';

const KIB = 1024;

/** `frame` cut into pieces of `size` bytes, as a stream would deliver it. */
function pieces(frame: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < frame.length; at += size) out.push(Buffer.from(frame.subarray(at, at + size)));
  return out;
}

function body(size: number, seed: number): Buffer {
  return Buffer.from(Array.from({ length: size }, (_, i) => (i * 13 + seed) & 0xff));
}

describe('BodyPool', () => {
  it('reuses a released buffer for the next large body, and lends each buffer once at a time', () => {
    const pool = new BodyPool(256 * KIB);
    const first = pool.take(200 * KIB);
    const second = pool.take(200 * KIB);
    expect(first.buffer).not.toBe(second.buffer);
    pool.release(first);
    pool.release(first); // a second release must not put it in the pool twice
    const third = pool.take(100 * KIB);
    const fourth = pool.take(100 * KIB);
    expect(third.buffer).toBe(first.buffer);
    expect(fourth.buffer).not.toBe(first.buffer);
    expect(fourth.buffer).not.toBe(second.buffer);
  });

  it('serves small and oversized bodies with plain allocations and ignores their release', () => {
    const pool = new BodyPool(256 * KIB, 64 * KIB);
    const small = pool.take(1 * KIB);
    const huge = pool.take(300 * KIB);
    expect(small.buffer.byteLength).not.toBe(256 * KIB);
    expect(huge.length).toBe(300 * KIB);
    pool.release(small);
    pool.release(huge);
    pool.release(Buffer.alloc(100 * KIB));
    expect(pool.take(100 * KIB).buffer.byteLength).toBe(256 * KIB);
  });
});

describe('FrameDecoder with a BodyPool', () => {
  it('assembles bodies that span chunks in pooled memory, byte for byte, across reuse', () => {
    const pool = new BodyPool(512 * KIB);
    const decoder = new FrameDecoder({ bodies: pool });
    const memories = new Set<ArrayBufferLike>();
    for (let n = 0; n < 6; n++) {
      const sent = body(300 * KIB, n);
      const frames = pieces(encodeFrame({ type: 'CHUNK', n }, sent), 64 * KIB).flatMap((p) =>
        decoder.push(p),
      );
      expect(frames).toHaveLength(1);
      const frame = frames[0]!;
      expect(frame.header).toEqual({ type: 'CHUNK', n });
      expect(frame.body.equals(sent)).toBe(true);
      memories.add(frame.body.buffer);
      pool.release(frame.body);
    }
    // Released after each frame: one buffer served all six.
    expect(memories.size).toBe(1);
  });

  it('leaves a body inside one chunk as a view of it (no copy, nothing lent)', () => {
    const pool = new BodyPool(512 * KIB);
    const decoder = new FrameDecoder({ bodies: pool });
    const wire = encodeFrame({ type: 'CHUNK' }, body(100 * KIB, 1));
    const [frame] = decoder.push(wire);
    expect(frame!.body.buffer).toBe(wire.buffer);
    // Releasing a view of a chunk must not hand the chunk's memory out as a body later.
    pool.release(frame!.body);
    expect(pool.take(100 * KIB).buffer).not.toBe(wire.buffer);
  });
});

describe('BodyPool without releases', () => {
  it('keeps no reference to bodies the consumer never releases', async () => {
    const pool = new BodyPool(256 * KIB);
    let done = false;
    // Held by the test: a registry that is itself collected never calls back.
    const registry = new FinalizationRegistry(() => {
      done = true;
    });
    registry.register(pool.take(200 * KIB).buffer, 'body');
    // V8's gc() from a fresh context (the flag only reaches contexts created afterwards).
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    for (let i = 0; i < 50 && !done; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(done).toBe(true);
  });
});
