import { describe, expect, it } from 'vitest';
import { EMPTY_BODY } from '../../src/wire/codec.js';
import { defineMessage, oneOf } from '../../src/wire/message.js';
import { MessageRegistry } from '../../src/wire/registry.js';

type PingHeader = { type: 'PING'; seq: number };
const Ping = defineMessage<PingHeader>('PING', {
  type: 'object',
  additionalProperties: false,
  required: ['seq'],
  properties: { seq: { type: 'integer', minimum: 0 } },
});
const Stop = defineMessage<{ type: 'STOP' }>('STOP', {
  type: 'object',
  additionalProperties: false,
  required: [],
  properties: {},
});

describe('defineMessage', () => {
  it('registers its schema and body rule with the registry', () => {
    const registry = new MessageRegistry();
    registry.add(Ping, Stop);
    expect(registry.types()).toEqual(['PING', 'STOP']);
    expect(() => registry.validate({ header: { type: 'PING', seq: 1 }, body: EMPTY_BODY })).not.toThrow();
    expect(() => registry.validate({ header: { type: 'PING', seq: -1 }, body: EMPTY_BODY })).toThrow(
      /must be >= 0/,
    );
  });

  it('oneOf types a frame of one of the definitions and leaves others out', () => {
    const typed = oneOf({ header: { type: 'PING', seq: 7 }, body: EMPTY_BODY }, [Ping, Stop]);
    if (typed?.header.type !== 'PING') throw new Error('expected a PING');
    const seq: number = typed.header.seq;
    expect(seq).toBe(7);
    expect(oneOf({ header: { type: 'OTHER' }, body: EMPTY_BODY }, [Ping, Stop])).toBeUndefined();
  });
});
