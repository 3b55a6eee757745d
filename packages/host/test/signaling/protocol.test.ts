import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src/signaling/client.js';
import {
  createEnvelope,
  EventRegistry,
  type HelloData,
  parseEnvelope,
  validateEnvelope,
} from '../../src/signaling/protocol.js';

const hello: HelloData = {
  agent_id: 'agent-1.lab_x',
  version: '0.1.0',
  capabilities: ['file', 'terminal'],
  addresses: [
    { address: '10.0.0.2', port: 4433 },
    { address: 'fe80::1', port: 4433 },
  ],
  fingerprint: 'ab'.repeat(32),
  room: 'default',
  token: 'secret',
  certificate: 'A'.repeat(64),
  proof: 'B'.repeat(16),
};

function codeOf(result: ReturnType<typeof validateEnvelope>): string | undefined {
  return result.ok ? undefined : result.error.code;
}

describe('core event catalogue', () => {
  it('accepts a well-formed hello and refuses each broken field', () => {
    expect(validateEnvelope(createEnvelope('system.hello', hello), 'to_server').ok).toBe(true);
    const broken: Array<[string, Partial<Record<keyof HelloData, unknown>>]> = [
      ['agent_id', { agent_id: 'has space' }],
      ['agent_id', { agent_id: 'x'.repeat(129) }],
      ['fingerprint', { fingerprint: 'AB'.repeat(32) }],
      ['address', { addresses: [{ address: 'not-an-ip', port: 1 }] }],
      ['port', { addresses: [{ address: '10.0.0.1', port: 0 }] }],
      ['port', { addresses: [{ address: '10.0.0.1', port: 65536 }] }],
      ['capabilities', { capabilities: 'file' }],
      ['room', { room: '' }],
      ['certificate', { certificate: 'not base64!' }],
      ['proof', { proof: undefined }],
      ['additional', { extra: true } as Record<string, unknown>],
    ];
    for (const [field, patch] of broken) {
      const result = validateEnvelope(createEnvelope('system.hello', { ...hello, ...patch }), 'to_server');
      expect(codeOf(result), field).toBe('invalid_event');
      if (!result.ok)
        expect(result.error.message, field).toContain(field === 'additional' ? 'additional' : field);
    }
    const { token: _t, room: _r, ...minimal } = hello;
    expect(validateEnvelope(createEnvelope('system.hello', minimal), 'to_server').ok).toBe(true);
  });

  it('knows which side sends what', () => {
    const session = createEnvelope('p2p.session', {});
    expect(codeOf(validateEnvelope(session, 'to_server'))).toBe('unknown_event');
    expect(codeOf(validateEnvelope(createEnvelope('system.hello', hello), 'to_agent'))).toBe('unknown_event');
    expect(codeOf(validateEnvelope(createEnvelope('room.nope', { room: 'a' }), 'to_server'))).toBe(
      'unknown_event',
    );
  });

  it('checks p2p.session, including the token size floor', () => {
    const data = {
      session_id: randomUUID(),
      token: Buffer.alloc(16, 7).toString('base64url'),
      expires_at: Date.now() + 120_000,
      peer_id: 'bob',
      peer_addresses: [{ address: '192.0.2.1', port: 9000 }],
      peer_fingerprint: 'cd'.repeat(32),
      role: 'initiator',
      stream_type: 'file',
      request_id: randomUUID(),
    };
    expect(validateEnvelope(createEnvelope('p2p.session', data), 'to_agent').ok).toBe(true);
    const short = { ...data, token: Buffer.alloc(15).toString('base64url') };
    expect(codeOf(validateEnvelope(createEnvelope('p2p.session', short), 'to_agent'))).toBe('invalid_event');
    const role = { ...data, role: 'observer' };
    expect(codeOf(validateEnvelope(createEnvelope('p2p.session', role), 'to_agent'))).toBe('invalid_event');
  });

  it('tells bad JSON from a bad envelope, and echoes usable ids as ref_id', () => {
    expect(codeOf(parseEnvelope('{', 'to_server'))).toBe('invalid_json');
    expect(codeOf(parseEnvelope('[]', 'to_server'))).toBe('invalid_envelope');
    expect(codeOf(parseEnvelope('{"type":"system.ping","id":"1","data":{}}', 'to_server'))).toBe(
      'invalid_envelope',
    );
    const id = randomUUID();
    const result = validateEnvelope({ type: 'system.ping', id, data: { ts: -1 } }, 'to_server');
    expect(result).toEqual({
      ok: false,
      error: { code: 'invalid_event', message: expect.any(String), ref_id: id },
    });
  });

  it('never throws, whatever arrives', () => {
    fc.assert(
      fc.property(
        fc.jsonValue(),
        fc.constantFrom('to_server', 'to_agent') as fc.Arbitrary<'to_server' | 'to_agent'>,
        (value, dir) => {
          const result = parseEnvelope(JSON.stringify(value), dir);
          expect(typeof result.ok).toBe('boolean');
        },
      ),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.string(), fc.dictionary(fc.string(), fc.jsonValue()), (type, data) => {
        const result = validateEnvelope({ type, id: randomUUID(), data }, 'to_server');
        expect(typeof result.ok).toBe('boolean');
      }),
      { numRuns: 300 },
    );
  });
});

describe('plugin events', () => {
  it('pass with routing fields only until a plugin registers a schema', () => {
    const registry = new EventRegistry();
    const invite = createEnvelope('term.invite', { to: 'bob', cols: 'eighty' });
    expect(registry.validate(invite, 'to_server').ok).toBe(true);
    expect(codeOf(registry.validate(createEnvelope('term.invite', { cols: 80 }), 'to_server'))).toBe(
      'invalid_event',
    );
    expect(codeOf(registry.validate(createEnvelope('term.invite', { to: 'bob' }), 'to_agent'))).toBe(
      'invalid_event',
    );

    registry.register('term.invite', {
      type: 'object',
      required: ['cols'],
      additionalProperties: false,
      properties: { cols: { type: 'integer', minimum: 1 } },
    });
    expect(registry.has('term.invite')).toBe(true);
    expect(codeOf(registry.validate(invite, 'to_server'))).toBe('invalid_event');
    expect(registry.validate(createEnvelope('term.invite', { to: 'bob', cols: 80 }), 'to_server').ok).toBe(
      true,
    );
    const delivered = createEnvelope('term.invite', { to: 'bob', from: 'alice', from_conn: 'c1', cols: 80 });
    expect(registry.validate(delivered, 'to_agent').ok).toBe(true);
  });

  it('cannot take over core planes, register twice, or bring a broken schema', () => {
    const registry = new EventRegistry();
    expect(() => registry.register('p2p.custom', { type: 'object' })).toThrow(/core plane/);
    expect(() => registry.register('Bad', { type: 'object' })).toThrow(/invalid event type/);
    registry.register('term.x', { type: 'object' });
    expect(() => registry.register('term.x', { type: 'object' })).toThrow(/already registered/);
    expect(() => registry.register('term.y', { type: 'no-such-type' })).toThrow(/invalid schema/);
  });
});

describe('backoffDelay', () => {
  it('doubles from the initial delay up to the cap, with half of it jittered', () => {
    const options = { initialMs: 250, maxMs: 10_000 };
    expect(backoffDelay(1, options, () => 0)).toBe(125);
    expect(backoffDelay(1, options, () => 1)).toBe(250);
    expect(backoffDelay(3, options, () => 1)).toBe(1000);
    expect(backoffDelay(50, options, () => 1)).toBe(10_000);
    expect(backoffDelay(50, options, () => 0)).toBe(5_000);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), fc.double({ min: 0, max: 1, noNaN: true }), (n, r) => {
        const delay = backoffDelay(n, options, () => r);
        expect(delay).toBeGreaterThanOrEqual(125);
        expect(delay).toBeLessThanOrEqual(10_000);
      }),
    );
  });
});
