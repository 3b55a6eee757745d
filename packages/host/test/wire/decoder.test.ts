import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_MAX_FRAME, encodeFrame, type Frame, type FrameHeader } from '../../src/wire/codec.js';
import { FrameDecoder } from '../../src/wire/decoder.js';
import { WireError } from '../../src/wire/errors.js';
import { headerArbitrary, rawFrame, splitAt } from './helpers.js';

function decodeAll(decoder: FrameDecoder, chunks: Buffer[]): Frame[] {
  const frames: Frame[] = [];
  for (const chunk of chunks) frames.push(...decoder.push(chunk));
  decoder.end();
  return frames;
}

function wireErrorOf(action: () => unknown): WireError {
  try {
    action();
  } catch (error) {
    if (error instanceof WireError) return error;
    throw error;
  }
  throw new Error('expected a WireError, nothing was thrown');
}

const lengthPrefix = (length: number): Buffer => {
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(length, 0);
  return prefix;
};

describe('FrameDecoder round trips', () => {
  it('decodes frames split at arbitrary chunk boundaries, many per chunk or one byte at a time', () => {
    const frameArbitrary = fc.tuple(headerArbitrary, fc.uint8Array({ maxLength: 2000 }));
    fc.assert(
      fc.property(
        fc.array(frameArbitrary, { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (input, cuts) => {
          const stream = Buffer.concat(input.map(([header, body]) => encodeFrame(header, body)));
          const frames = decodeAll(new FrameDecoder(), splitAt(stream, cuts));
          expect(frames).toHaveLength(input.length);
          frames.forEach((frame, i) => {
            const [header, body] = input[i]!;
            expect(frame.header).toEqual(JSON.parse(JSON.stringify(header)));
            expect(frame.body.equals(body)).toBe(true);
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('decodes a stream fed one byte at a time', () => {
    const headers: FrameHeader[] = [{ type: 'A' }, { type: 'B', n: [1, 2] }, { type: 'ü' }];
    const stream = Buffer.concat(headers.map((header, i) => encodeFrame(header, Buffer.alloc(i * 3, i))));
    const decoder = new FrameDecoder();
    const frames: Frame[] = [];
    for (let i = 0; i < stream.length; i++) frames.push(...decoder.push(stream.subarray(i, i + 1)));
    decoder.end();
    expect(frames.map((frame) => frame.header)).toEqual(headers);
    expect(frames.map((frame) => frame.body.length)).toEqual([0, 3, 6]);
  });

  it('assembles a 1 MiB body sent in 1-byte chunks in linear time', () => {
    const body = Buffer.alloc(1024 * 1024, 0xab);
    const stream = encodeFrame({ type: 'BIG' }, body);
    const decoder = new FrameDecoder();
    const started = performance.now();
    const frames: Frame[] = [];
    for (let i = 0; i < stream.length; i++) frames.push(...decoder.push(stream.subarray(i, i + 1)));
    const elapsed = performance.now() - started;
    expect(frames).toHaveLength(1);
    expect(frames[0]!.body.equals(body)).toBe(true);
    // Quadratic copying or shifting would take minutes here; linear takes well under a second.
    expect(elapsed).toBeLessThan(5000);
  });

  it('returns a zero-copy view when a frame lies inside one chunk', () => {
    const chunk = encodeFrame({ type: 'X' }, Buffer.from('abc'));
    const [frame] = new FrameDecoder().push(chunk);
    expect(frame!.body.buffer).toBe(chunk.buffer);
  });

  it('accepts a frame of exactly the maximum size', () => {
    const headerJson = '{"type":"B"}';
    const body = Buffer.alloc(DEFAULT_MAX_FRAME - 2 - headerJson.length);
    const [frame] = new FrameDecoder().push(encodeFrame({ type: 'B' }, body));
    expect(frame!.body.length).toBe(body.length);
  });
});

describe('FrameDecoder errors', () => {
  it('rejects a length of 2^32-1 as soon as the 4 length bytes arrive', () => {
    const decoder = new FrameDecoder();
    const error = wireErrorOf(() => decoder.push(Buffer.from([0xff, 0xff, 0xff, 0xff])));
    expect(error.code).toBe('FRAME_TOO_LARGE');
    expect(error.message).toBe('frame of 4294967295 bytes exceeds the 1114112-byte limit');
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('rejects a frame one byte above a configured maximum, also when the length is split', () => {
    const decoder = new FrameDecoder({ maxFrame: 100 });
    expect(decoder.push(Buffer.from([0, 0]))).toEqual([]);
    const error = wireErrorOf(() => decoder.push(Buffer.from([0, 101])));
    expect(error.code).toBe('FRAME_TOO_LARGE');
    expect(error.message).toContain('101 bytes exceeds the 100-byte limit');
  });

  it('rejects lengths too short for the header length field', () => {
    for (const length of [0, 1]) {
      const error = wireErrorOf(() => new FrameDecoder().push(lengthPrefix(length)));
      expect(error.code).toBe('BAD_FRAME');
      expect(error.message).toContain(`frame length ${length}`);
    }
  });

  it('rejects a header length longer than the frame before the header arrives', () => {
    const bytes = Buffer.concat([lengthPrefix(10), Buffer.from([0, 9])]);
    const error = wireErrorOf(() => new FrameDecoder().push(bytes));
    expect(error.code).toBe('BAD_FRAME');
    expect(error.message).toBe('header length 9 exceeds the 8 bytes left in the frame');
  });

  it.each([
    ['an empty header', Buffer.concat([lengthPrefix(2), Buffer.from([0, 0])]), 'frame header is empty'],
    ['invalid UTF-8', rawFrame('{"type":"A"}').fill(0xff, 10, 11), 'not valid UTF-8'],
    ['JSON syntax errors', rawFrame('{"type":'), 'not valid JSON'],
    ['a JSON array', rawFrame('["type"]'), 'must be a JSON object, got an array'],
    ['JSON null', rawFrame('null'), 'must be a JSON object, got null'],
    ['a JSON string', rawFrame('"PING"'), 'must be a JSON object, got string'],
    ['a missing type', rawFrame('{"kind":"A"}'), 'non-empty string "type", got none'],
    ['a numeric type', rawFrame('{"type":7}'), 'non-empty string "type", got number'],
    ['an empty type', rawFrame('{"type":""}'), 'non-empty string "type", got an empty string'],
  ])('rejects %s with BAD_HEADER', (_name, bytes, message) => {
    const error = wireErrorOf(() => new FrameDecoder().push(bytes));
    expect(error.code).toBe('BAD_HEADER');
    expect(error.message).toContain(message);
  });

  it('rejects a bad header before the body arrives', () => {
    const frame = rawFrame('{"nope":1}', Buffer.alloc(1000));
    const error = wireErrorOf(() => new FrameDecoder().push(frame.subarray(0, 20)));
    expect(error.code).toBe('BAD_HEADER');
  });

  it('reports a truncated trailing frame on end()', () => {
    const frame = encodeFrame({ type: 'T' }, Buffer.alloc(100));
    const decoder = new FrameDecoder();
    decoder.push(frame.subarray(0, 50));
    const error = wireErrorOf(() => decoder.end());
    expect(error.code).toBe('FRAME_TRUNCATED');
    expect(error.message).toBe(
      `stream ended in the middle of a frame: 46 of ${frame.length - 4} bytes received`,
    );

    const partialLength = new FrameDecoder();
    partialLength.push(Buffer.from([0, 0]));
    expect(wireErrorOf(() => partialLength.end()).message).toBe(
      'stream ended after 2 of the 4 bytes of a frame length',
    );
  });

  it('ends cleanly on a frame boundary', () => {
    const decoder = new FrameDecoder();
    decoder.push(encodeFrame({ type: 'T' }));
    expect(() => decoder.end()).not.toThrow();
  });

  it('stays failed: later pushes and end() throw the same error', () => {
    const decoder = new FrameDecoder();
    const error = wireErrorOf(() => decoder.push(lengthPrefix(0xffffffff)));
    expect(wireErrorOf(() => decoder.push(encodeFrame({ type: 'OK' })))).toBe(error);
    expect(wireErrorOf(() => decoder.end())).toBe(error);
    expect(decoder.error).toBe(error);
  });

  it('rejects an invalid maxFrame option', () => {
    expect(() => new FrameDecoder({ maxFrame: 2 ** 32 })).toThrow(RangeError);
    expect(() => new FrameDecoder({ maxFrame: 1.5 })).toThrow(RangeError);
  });
});

describe('FrameDecoder on garbage', () => {
  const allocations: number[] = [];
  beforeEach(() => {
    const realAllocUnsafe = Buffer.allocUnsafe.bind(Buffer);
    vi.spyOn(Buffer, 'allocUnsafe').mockImplementation((size: number) => {
      allocations.push(size);
      return realAllocUnsafe(size);
    });
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  /**
   * Decodes arbitrary bytes: only WireError may escape, and no buffer is allocated beyond the
   * limit or beyond the bytes actually received (a claimed length alone allocates nothing).
   */
  function feedGarbage(maxFrame: number, chunks: Buffer[]): void {
    allocations.length = 0;
    const decoder = new FrameDecoder({ maxFrame });
    try {
      decodeAll(decoder, chunks);
    } catch (error) {
      expect(error).toBeInstanceOf(WireError);
    }
    const received = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    for (const size of allocations) expect(size).toBeLessThanOrEqual(Math.min(maxFrame, received));
  }

  it('throws only WireError and never over-allocates for random bytes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 3000 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.oneof(fc.integer({ min: 2, max: 4096 }), fc.constant(DEFAULT_MAX_FRAME)),
        (bytes, cuts, maxFrame) => feedGarbage(maxFrame, splitAt(Buffer.from(bytes), cuts)),
      ),
      { numRuns: 500 },
    );
  });

  it('allocates nothing for a frame that claims 1 MiB but sends a few bytes', () => {
    const claim = Buffer.concat([lengthPrefix(1024 * 1024), Buffer.from([0, 4]), Buffer.from('{"ty')]);
    feedGarbage(DEFAULT_MAX_FRAME, splitAt(claim, [1, 5, 7]));
    expect(allocations.every((size) => size <= claim.length)).toBe(true);
  });

  it('throws only WireError for valid frames with random bytes overwritten', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(headerArbitrary, fc.uint8Array({ maxLength: 200 })), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (input, edits, cuts) => {
          const stream = Buffer.concat(input.map(([header, body]) => encodeFrame(header, body)));
          for (const [position, value] of edits) stream[position % stream.length] = value;
          feedGarbage(DEFAULT_MAX_FRAME, splitAt(stream, cuts));
        },
      ),
      { numRuns: 500 },
    );
  });
});
