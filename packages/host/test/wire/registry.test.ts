import { describe, expect, it } from 'vitest';
import { EMPTY_BODY, type Frame, type FrameHeader } from '../../src/wire/codec.js';
import { WireError } from '../../src/wire/errors.js';
import { MessageRegistry } from '../../src/wire/registry.js';
import { failureHeader } from '../../src/wire/schema-parts.js';

const chunkSchema = {
  type: 'object',
  properties: { offset: { type: 'integer', minimum: 0 }, last: { type: 'boolean' } },
  required: ['offset'],
  additionalProperties: false,
};

function frame(header: FrameHeader, body: Buffer = EMPTY_BODY): Frame {
  return { header, body };
}

function validationError(registry: MessageRegistry, input: Frame): WireError {
  try {
    registry.validate(input);
  } catch (error) {
    if (error instanceof WireError) return error;
    throw error;
  }
  throw new Error('expected validate() to throw');
}

function fileRegistry(): MessageRegistry {
  const registry = new MessageRegistry();
  registry.register('FILE_CHUNK', chunkSchema, { body: 'required', maxBody: 8 });
  registry.register('FILE_END', { type: 'object', properties: { sha: { type: 'string' } } });
  registry.register('NOTE', {}, { body: 'optional' });
  return registry;
}

describe('MessageRegistry', () => {
  it('accepts valid frames and lists its types in registration order', () => {
    const registry = fileRegistry();
    expect(() =>
      registry.validate(frame({ type: 'FILE_CHUNK', offset: 0 }, Buffer.from('abc'))),
    ).not.toThrow();
    expect(() => registry.validate(frame({ type: 'FILE_END', sha: 'x' }))).not.toThrow();
    expect(() => registry.validate(frame({ type: 'NOTE' }))).not.toThrow();
    expect(() => registry.validate(frame({ type: 'NOTE' }, Buffer.from('hi')))).not.toThrow();
    expect(registry.types()).toEqual(['FILE_CHUNK', 'FILE_END', 'NOTE']);
    expect(registry.has('FILE_END')).toBe(true);
    expect(registry.has('FILE_START')).toBe(false);
  });

  it('rejects unregistered types with UNKNOWN_TYPE', () => {
    const error = validationError(fileRegistry(), frame({ type: 'FILE_START' }));
    expect(error.code).toBe('UNKNOWN_TYPE');
    expect(error.message).toBe('unknown message type "FILE_START"');
  });

  it.each([
    [{ type: 'FILE_CHUNK', offset: 1.5 }, 'FILE_CHUNK: /offset must be integer'],
    [{ type: 'FILE_CHUNK', offset: -1 }, 'FILE_CHUNK: /offset must be >= 0'],
    [{ type: 'FILE_CHUNK' }, "FILE_CHUNK: (header) must have required property 'offset'"],
    [
      { type: 'FILE_CHUNK', offset: 0, extra: 1 },
      "FILE_CHUNK: (header) must NOT have additional property 'extra'",
    ],
    [{ type: 'FILE_CHUNK', offset: 0, last: 'yes' }, 'FILE_CHUNK: /last must be boolean'],
  ])('names the failing path and rule for %j', (header, message) => {
    const error = validationError(fileRegistry(), frame(header, Buffer.from('a')));
    expect(error.code).toBe('INVALID_MESSAGE');
    expect(error.message).toBe(message);
  });

  it('keeps `type` allowed when the schema forbids additional properties', () => {
    // chunkSchema does not list `type`, yet valid headers carry it.
    expect(() =>
      fileRegistry().validate(frame({ type: 'FILE_CHUNK', offset: 3 }, Buffer.from('a'))),
    ).not.toThrow();
  });

  it('enforces the body rules', () => {
    const registry = fileRegistry();
    expect(validationError(registry, frame({ type: 'FILE_CHUNK', offset: 0 })).message).toBe(
      'FILE_CHUNK: a body is required',
    );
    expect(validationError(registry, frame({ type: 'FILE_CHUNK', offset: 0 }, Buffer.alloc(9))).message).toBe(
      'FILE_CHUNK: body of 9 bytes exceeds the 8-byte limit',
    );
    expect(validationError(registry, frame({ type: 'FILE_END' }, Buffer.alloc(1))).message).toBe(
      'FILE_END: takes no body, got 1 bytes',
    );
  });

  it("keeps the author's own rule on `type` next to the added const", () => {
    const registry = new MessageRegistry();
    registry.register('LONG_NAME', {
      type: 'object',
      properties: { type: { type: 'string', maxLength: 4 } },
    });
    expect(validationError(registry, frame({ type: 'LONG_NAME' })).message).toBe(
      'LONG_NAME: /type must NOT have more than 4 characters',
    );
  });

  it('refuses duplicate registrations, bad schemas and bad options', () => {
    const registry = fileRegistry();
    expect(() => registry.register('FILE_END', {})).toThrow('message type FILE_END is already registered');
    expect(() => registry.register('', {})).toThrow(TypeError);
    expect(() => registry.register('ARR', { type: 'array' })).toThrow('must have type "object"');
    expect(() => registry.register('BROKEN', { properties: { n: { type: 'integr' } } })).toThrow(
      'BROKEN: schema does not compile',
    );
    expect(() => registry.register('BODY', {}, { body: 'maybe' as 'none' })).toThrow(TypeError);
    expect(() => registry.register('MAX', {}, { maxBody: -1 })).toThrow(RangeError);
    expect(registry.has('BROKEN')).toBe(false);
  });
});

describe('failureHeader', () => {
  it('takes a known code and a bounded reason, nothing else', () => {
    const registry = new MessageRegistry();
    registry.register('FAILED', failureHeader(['NO_SPACE', 'PROTOCOL']));
    const failed = (fields: Record<string, unknown>) => frame({ type: 'FAILED', ...fields });
    expect(() => registry.validate(failed({ code: 'NO_SPACE', reason: 'disk full' }))).not.toThrow();
    expect(validationError(registry, failed({ code: 'OTHER', reason: 'x' })).message).toMatch(/\/code/);
    expect(validationError(registry, failed({ code: 'PROTOCOL' })).message).toMatch(/reason/);
    expect(validationError(registry, failed({ code: 'PROTOCOL', reason: 'x'.repeat(1025) })).message).toMatch(
      /\/reason must NOT have more than 1024 characters/,
    );
    expect(validationError(registry, failed({ code: 'PROTOCOL', reason: 'x', extra: 1 })).message).toMatch(
      /additional property 'extra'/,
    );
  });
});
