import { WireError } from './errors.js';

/** Default cap on a frame's u32 length: a 1 MiB body plus room for the header. */
export const DEFAULT_MAX_FRAME = 1024 * 1024 + 64 * 1024;
/** The header length is a u16. */
export const MAX_HEADER = 65535;
/** Bytes before the header: u32 frame length + u16 header length. */
export const PREFIX_BYTES = 6;
/** Largest value the u32 length field can carry. */
export const MAX_U32 = 0xffff_ffff;

export type FrameHeader = { type: string; [field: string]: unknown };

/** A decoded frame; `body` is an empty Buffer when the frame has none. */
export type Frame = { header: FrameHeader; body: Buffer };

/** Shared empty body: frames without a body all point at it instead of allocating. */
export const EMPTY_BODY: Buffer = Buffer.alloc(0);

/**
 * Encodes a frame as [prefix, body]: the prefix holds both lengths and the header, the body is
 * the caller's buffer untouched. Writing the two parts (writev/cork) avoids copying large
 * bodies. The caller must not modify `body` until the stream has flushed it.
 */
export function encodeFrameParts(
  header: FrameHeader,
  body?: Uint8Array,
  maxFrame: number = DEFAULT_MAX_FRAME,
): [Buffer] | [Buffer, Buffer] {
  const json = serializeHeader(header);
  const headerBytes = Buffer.byteLength(json, 'utf8');
  const bodyBuffer = toBuffer(body);
  const frameLength = checkLengths(header.type, headerBytes, bodyBuffer.length, maxFrame);
  const prefix = Buffer.allocUnsafe(PREFIX_BYTES + headerBytes);
  prefix.writeUInt32BE(frameLength, 0);
  prefix.writeUInt16BE(headerBytes, 4);
  prefix.write(json, PREFIX_BYTES, 'utf8');
  return bodyBuffer.length === 0 ? [prefix] : [prefix, bodyBuffer];
}

/** Encodes a frame into one contiguous Buffer (one allocation, the body copied once). */
export function encodeFrame(
  header: FrameHeader,
  body?: Uint8Array,
  maxFrame: number = DEFAULT_MAX_FRAME,
): Buffer {
  const json = serializeHeader(header);
  const headerBytes = Buffer.byteLength(json, 'utf8');
  const bodyBuffer = toBuffer(body);
  const frameLength = checkLengths(header.type, headerBytes, bodyBuffer.length, maxFrame);
  const out = Buffer.allocUnsafe(4 + frameLength);
  out.writeUInt32BE(frameLength, 0);
  out.writeUInt16BE(headerBytes, 4);
  out.write(json, PREFIX_BYTES, 'utf8');
  bodyBuffer.copy(out, PREFIX_BYTES + headerBytes);
  return out;
}

/** Checks that a value may be used as a frame header: a plain object with a non-empty string type. */
export function assertFrameHeader(value: unknown): asserts value is FrameHeader {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new WireError('BAD_HEADER', `frame header must be a JSON object, got ${describe(value)}`);
  }
  const type = (value as { type?: unknown }).type;
  if (typeof type !== 'string' || type.length === 0) {
    throw new WireError('BAD_HEADER', `frame header needs a non-empty string "type", got ${describe(type)}`);
  }
}

/** Validates a configured maximum frame size once, so the hot paths can trust it. */
export function checkMaxFrame(maxFrame: number): number {
  if (!Number.isInteger(maxFrame) || maxFrame < 2 || maxFrame > MAX_U32) {
    throw new RangeError(`maxFrame must be an integer between 2 and ${MAX_U32}, got ${maxFrame}`);
  }
  return maxFrame;
}

function serializeHeader(header: FrameHeader): string {
  assertFrameHeader(header);
  let json: string;
  try {
    json = JSON.stringify(header);
  } catch (error) {
    throw new WireError(
      'BAD_HEADER',
      `${header.type}: header cannot be serialized as JSON: ${message(error)}`,
      {
        cause: error,
      },
    );
  }
  // A toJSON() on the header could turn it into something the decoder would reject.
  if (typeof json !== 'string' || json[0] !== '{') {
    throw new WireError('BAD_HEADER', `${header.type}: header does not serialize to a JSON object`);
  }
  return json;
}

function checkLengths(type: string, headerBytes: number, bodyBytes: number, maxFrame: number): number {
  if (headerBytes > MAX_HEADER) {
    throw new WireError(
      'BAD_HEADER',
      `${type}: header of ${headerBytes} bytes exceeds the ${MAX_HEADER}-byte limit`,
    );
  }
  const frameLength = 2 + headerBytes + bodyBytes;
  if (frameLength > maxFrame) {
    throw new WireError(
      'FRAME_TOO_LARGE',
      `${type}: frame of ${frameLength} bytes exceeds the ${maxFrame}-byte limit (body ${bodyBytes} bytes)`,
    );
  }
  return frameLength;
}

function toBuffer(body: Uint8Array | undefined): Buffer {
  if (body === undefined || body.byteLength === 0) return EMPTY_BODY;
  if (Buffer.isBuffer(body)) return body;
  if (!(body instanceof Uint8Array)) {
    throw new WireError('INVALID_MESSAGE', `frame body must be a Uint8Array, got ${describe(body)}`);
  }
  // A view on the same memory: no copy.
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value.length === 0 ? 'an empty string' : 'a string';
  return typeof value;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
