import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_FRAME,
  encodeFrame,
  encodeFrameParts,
  type FrameHeader,
  MAX_HEADER,
} from '../../src/wire/codec.js';
import { FrameDecoder } from '../../src/wire/decoder.js';
import { WireError } from '../../src/wire/errors.js';
import { headerArbitrary } from './helpers.js';

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(WireError);
    return (error as WireError).code;
  }
  return undefined;
}

describe('encodeFrame', () => {
  it('lays out u32 length, u16 header length, JSON header and raw body', () => {
    const body = Buffer.from([0, 1, 2, 255]);
    const frame = encodeFrame({ type: 'PING', n: 1 }, body);
    const json = '{"type":"PING","n":1}';
    expect(frame.readUInt32BE(0)).toBe(2 + json.length + body.length);
    expect(frame.readUInt16BE(4)).toBe(json.length);
    expect(frame.subarray(6, 6 + json.length).toString()).toBe(json);
    expect(frame.subarray(6 + json.length)).toEqual(body);
    expect(frame.length).toBe(4 + frame.readUInt32BE(0));
  });

  it('counts header bytes, not characters, for non-ASCII headers', () => {
    const frame = encodeFrame({ type: 'NAME', name: 'é🙂' });
    const headerLength = frame.readUInt16BE(4);
    expect(headerLength).toBe(Buffer.byteLength('{"type":"NAME","name":"é🙂"}'));
    expect(JSON.parse(frame.subarray(6, 6 + headerLength).toString('utf8')).name).toBe('é🙂');
  });

  it('encodeFrameParts returns the body itself, uncopied, next to the prefix', () => {
    const body = Buffer.alloc(256 * 1024, 7);
    const parts = encodeFrameParts({ type: 'CHUNK' }, body);
    expect(parts).toHaveLength(2);
    expect(parts[1]).toBe(body);
    expect(Buffer.concat(parts).equals(encodeFrame({ type: 'CHUNK' }, body))).toBe(true);
    expect(encodeFrameParts({ type: 'EMPTY' })).toHaveLength(1);
  });

  it('accepts a Uint8Array body as a view without copying', () => {
    const bytes = new Uint8Array([9, 8, 7, 6]).subarray(1, 3);
    const parts = encodeFrameParts({ type: 'X' }, bytes);
    expect([...parts[1]!]).toEqual([8, 7]);
    expect(parts[1]!.buffer).toBe(bytes.buffer);
  });

  it('rejects headers that are not objects with a non-empty string type', () => {
    for (const header of [null, [], 'PING', { type: '' }, { type: 3 }, {}]) {
      expect(codeOf(() => encodeFrame(header as unknown as FrameHeader))).toBe('BAD_HEADER');
    }
    expect(codeOf(() => encodeFrame({ type: 'BIG', n: 1n }))).toBe('BAD_HEADER');
    const cyclic: FrameHeader = { type: 'CYCLE' };
    cyclic.self = cyclic;
    expect(codeOf(() => encodeFrame(cyclic))).toBe('BAD_HEADER');
    expect(codeOf(() => encodeFrame({ type: 'ODD', toJSON: () => 'text' }))).toBe('BAD_HEADER');
  });

  it('rejects a header above 65535 bytes and a frame above the maximum', () => {
    expect(codeOf(() => encodeFrame({ type: 'H', pad: 'x'.repeat(MAX_HEADER) }))).toBe('BAD_HEADER');
    const fits = Buffer.alloc(DEFAULT_MAX_FRAME - 2 - '{"type":"B"}'.length);
    expect(encodeFrame({ type: 'B' }, fits).length).toBe(4 + DEFAULT_MAX_FRAME);
    expect(codeOf(() => encodeFrame({ type: 'B' }, Buffer.alloc(fits.length + 1)))).toBe('FRAME_TOO_LARGE');
    expect(codeOf(() => encodeFrameParts({ type: 'B' }, Buffer.alloc(100), 50))).toBe('FRAME_TOO_LARGE');
  });

  it('round-trips random headers and bodies through the decoder', () => {
    fc.assert(
      fc.property(headerArbitrary, fc.uint8Array({ maxLength: 300 }), (header, body) => {
        const [frame] = new FrameDecoder().push(encodeFrame(header, body));
        expect(frame!.header).toEqual(JSON.parse(JSON.stringify(header)));
        expect([...frame!.body]).toEqual([...body]);
      }),
      { numRuns: 300 },
    );
  });
});
