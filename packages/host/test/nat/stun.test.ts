import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BINDING,
  type DecodedStunMessage,
  decodeStun,
  encodeStun,
  isStunPacket,
  StunAttr,
  type StunAttribute,
  type StunClass,
  type StunMessage,
} from '../../src/nat/stun.js';
import {
  readSoftware,
  readUsername,
  readXorMappedAddress,
  xorMappedAddressAttribute,
} from '../../src/nat/stun-attributes.js';
import { fingerprintOf, integrityMac, verifyIntegrity } from '../../src/nat/stun-integrity.js';
import {
  PASSWORD,
  SAMPLE_IPV4_RESPONSE,
  SAMPLE_IPV6_RESPONSE,
  SAMPLE_REQUEST,
  TRANSACTION_ID,
} from './rfc5769.js';

function decoded(packet: Buffer): DecodedStunMessage {
  const result = decodeStun(packet);
  if (!result.ok) throw new Error(`expected a STUN message, got ${result.reason}`);
  return result.message;
}

function failure(packet: Buffer): string | undefined {
  const result = decodeStun(packet);
  return result.ok ? undefined : result.reason;
}

const KEY = Buffer.from('session-secret-derived-key');

function request(attributes: StunAttribute[] = []): StunMessage {
  return { method: BINDING, class: 'request', transactionId: randomBytes(12), attributes };
}

describe('RFC 5769 test vectors', () => {
  it('decodes the sample IPv4 response: XOR-MAPPED-ADDRESS, SOFTWARE and FINGERPRINT', () => {
    const message = decoded(SAMPLE_IPV4_RESPONSE);
    expect(message).toMatchObject({ method: BINDING, class: 'success', fingerprint: true });
    expect(message.transactionId).toEqual(TRANSACTION_ID);
    expect(readXorMappedAddress(message)).toEqual({ address: '192.0.2.1', port: 32853 });
    expect(readSoftware(message)).toBe('test vector');
    expect(fingerprintOf(SAMPLE_IPV4_RESPONSE, 72)).toBe(0xc07d4c96);
  });

  it('decodes the sample IPv6 response', () => {
    const message = decoded(SAMPLE_IPV6_RESPONSE);
    expect(message.fingerprint).toBe(true);
    expect(readXorMappedAddress(message)).toEqual({
      address: '2001:db8:1234:5678:11:2233:4455:6677',
      port: 32853,
    });
  });

  it('encodes XOR-MAPPED-ADDRESS exactly as the samples do', () => {
    const v4 = xorMappedAddressAttribute({ address: '192.0.2.1', port: 32853 }, TRANSACTION_ID);
    expect(v4.value.toString('hex')).toBe('0001a147e112a643');
    const v6 = xorMappedAddressAttribute(
      { address: '2001:db8:1234:5678:11:2233:4455:6677', port: 32853 },
      TRANSACTION_ID,
    );
    expect(v6.value.toString('hex')).toBe('0002a1470113a9faa5d3f179bc25f4b5bed2b9d9');
  });

  it('decodes the sample request, its ICE attributes kept opaque', () => {
    const message = decoded(SAMPLE_REQUEST);
    expect(message).toMatchObject({ method: BINDING, class: 'request', fingerprint: true });
    expect(readUsername(message)).toBe('evtj:h6vY');
    expect(readSoftware(message)).toBe('STUN test client');
    expect(message.attributes.map((a) => a.type)).toEqual([
      StunAttr.Software,
      0x0024,
      0x8029,
      StunAttr.Username,
      StunAttr.MessageIntegrity,
    ]);
  });

  // The samples carry SHA-1 MESSAGE-INTEGRITY, not the SHA-256 one this package signs with; the
  // HMAC span and length adjustment are the same for both, so check those against the samples.
  it.each([
    ['request', SAMPLE_REQUEST, 76],
    ['IPv4 response', SAMPLE_IPV4_RESPONSE, 48],
    ['IPv6 response', SAMPLE_IPV6_RESPONSE, 60],
  ])('computes the %s MESSAGE-INTEGRITY over the right span', (_, packet, offset) => {
    const mac = integrityMac(packet, offset, 20, PASSWORD, 'sha1');
    expect(mac).toEqual(packet.subarray(offset + 4, offset + 24));
  });

  it('refuses a sample with any byte before its FINGERPRINT changed', () => {
    for (let i = 0; i < 72; i++) {
      const bad = Buffer.from(SAMPLE_IPV4_RESPONSE);
      bad[i]! ^= 0x10;
      expect(decodeStun(bad).ok, `byte ${i}`).toBe(false);
    }
  });
});

describe('isStunPacket', () => {
  const valid = encodeStun(request());

  it('accepts a well-formed header', () => {
    expect(isStunPacket(valid)).toBe(true);
  });

  it.each([
    ['a short datagram', valid.subarray(0, 19)],
    ['a QUIC long header', Buffer.concat([Buffer.from([0xc0]), valid.subarray(1)])],
    ['a QUIC short header', Buffer.concat([Buffer.from([0x40]), valid.subarray(1)])],
    ['a wrong magic cookie', Buffer.from(valid).fill(0, 4, 5)],
    ['a length not a multiple of 4', Buffer.concat([valid, Buffer.alloc(2)])],
    ['trailing bytes', Buffer.concat([valid, Buffer.alloc(4)])],
  ])('refuses %s', (_, packet) => {
    expect(isStunPacket(packet)).toBe(false);
    expect(failure(packet)).toBe('not-stun');
  });
});

describe('encodeStun / decodeStun', () => {
  it('lays out the header: type bits, length, cookie, transaction id', () => {
    const message = request([{ type: 0x8001, value: Buffer.from('abcde') }]);
    const packet = encodeStun(message);
    expect(packet.subarray(0, 8).toString('hex')).toBe('0001000c2112a442');
    expect(packet.subarray(8, 20)).toEqual(message.transactionId);
    expect(packet.subarray(20).toString('hex')).toBe('800100056162636465000000');
  });

  it.each<[StunClass, number, number]>([
    ['request', BINDING, 0x0001],
    ['indication', BINDING, 0x0011],
    ['success', BINDING, 0x0101],
    ['error', BINDING, 0x0111],
    ['request', 0xfff, 0x3eef],
    ['error', 0xfff, 0x3fff],
  ])('maps class %s of method %d to type %d', (cls, method, type) => {
    const packet = encodeStun({ method, class: cls, transactionId: Buffer.alloc(12), attributes: [] });
    expect(packet.readUInt16BE(0)).toBe(type);
    expect(decoded(packet)).toMatchObject({ method, class: cls });
  });

  const attributeArbitrary = fc.record({
    type: fc
      .integer({ min: 0, max: 0xffff })
      .filter(
        (t) =>
          t !== StunAttr.MessageIntegrity &&
          t !== StunAttr.MessageIntegritySha256 &&
          t !== StunAttr.Fingerprint,
      ),
    value: fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes)),
  });
  const messageArbitrary = fc.record({
    method: fc.integer({ min: 0, max: 0xfff }),
    class: fc.constantFrom<StunClass>('request', 'indication', 'success', 'error'),
    transactionId: fc.uint8Array({ minLength: 12, maxLength: 12 }).map((bytes) => Buffer.from(bytes)),
    attributes: fc.array(attributeArbitrary, { maxLength: 6 }),
  });

  it('round-trips any message, with or without integrity and fingerprint', () => {
    fc.assert(
      fc.property(messageArbitrary, fc.boolean(), fc.boolean(), (message, signed, fingerprint) => {
        const packet = encodeStun(message, { integrityKey: signed ? KEY : undefined, fingerprint });
        expect(packet.length % 4).toBe(0);
        const back = decoded(packet);
        expect(back).toMatchObject({ ...message, fingerprint });
        expect(back.integrityOffset !== undefined).toBe(signed);
        expect(verifyIntegrity(back, KEY)).toBe(signed);
        expect(verifyIntegrity(back, Buffer.from('another key'))).toBe(false);
      }),
    );
  });

  it('never throws on garbage, and whatever decodes passes isStunPacket', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const packet = Buffer.from(bytes);
        const result = decodeStun(packet);
        if (result.ok) expect(isStunPacket(packet)).toBe(true);
      }),
    );
  });

  it('never throws on a valid header followed by garbage', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 120 }).map((b) => b.subarray(0, b.length & ~3)),
        (body) => {
          const packet = Buffer.concat([encodeStun(request()), body]);
          packet.writeUInt16BE(body.length, 2);
          const result = decodeStun(packet);
          if (result.ok) {
            for (const { value } of result.message.attributes) {
              expect(value.byteOffset + value.length).toBeLessThanOrEqual(packet.byteOffset + packet.length);
            }
          }
        },
      ),
    );
  });

  it('survives truncation and extension of valid messages', () => {
    fc.assert(
      fc.property(messageArbitrary, fc.integer({ min: -64, max: 64 }), (message, change) => {
        const packet = encodeStun(message, { integrityKey: KEY, fingerprint: true });
        const mangled =
          change < 0
            ? packet.subarray(0, Math.max(0, packet.length + change))
            : Buffer.concat([packet, Buffer.alloc(change)]);
        expect(decodeStun(mangled).ok).toBe(change === 0);
      }),
    );
  });

  it('refuses an attribute running past the end', () => {
    const packet = encodeStun(request([{ type: 0x8001, value: Buffer.alloc(8) }]));
    packet.writeUInt16BE(9, 22);
    expect(failure(packet)).toBe('truncated-attribute');
    packet.writeUInt16BE(0xffff, 22);
    expect(failure(packet)).toBe('truncated-attribute');
  });

  it('refuses a FINGERPRINT that is wrong, misplaced or of the wrong size', () => {
    const packet = encodeStun(request(), { fingerprint: true });
    const wrong = Buffer.from(packet);
    wrong[wrong.length - 1]! ^= 1;
    expect(failure(wrong)).toBe('bad-fingerprint');

    const notLast = encodeStun(request([{ type: 0x8001, value: Buffer.alloc(4) }]));
    notLast.writeUInt16BE(StunAttr.Fingerprint, 20);
    expect(failure(notLast)).toBe('bad-fingerprint');

    const long = encodeStun(request([{ type: 0x8001, value: Buffer.alloc(8) }]));
    long.writeUInt16BE(StunAttr.Fingerprint, 20);
    expect(failure(long)).toBe('bad-fingerprint');
  });

  it('leaves out what follows MESSAGE-INTEGRITY-SHA256, which it does not cover', () => {
    const signed = encodeStun(request([{ type: StunAttr.Username, value: Buffer.from('a:b') }]), {
      integrityKey: KEY,
    });
    // An on-path attacker appends a SOFTWARE after the integrity attribute.
    const appended = Buffer.concat([signed, Buffer.from('80220004', 'hex'), Buffer.from('evil')]);
    appended.writeUInt16BE(appended.length - 20, 2);
    const message = decoded(appended);
    expect(message.attributes.map((a) => a.type)).toEqual([StunAttr.Username]);
    expect(verifyIntegrity(message, KEY)).toBe(true);
  });

  it('keeps only the integrity attributes and FINGERPRINT after a legacy MESSAGE-INTEGRITY', () => {
    const message = decoded(
      encodeStun(
        request([
          { type: StunAttr.MessageIntegrity, value: Buffer.alloc(20) },
          { type: StunAttr.Software, value: Buffer.from('ignored') },
        ]),
        { integrityKey: KEY, fingerprint: true },
      ),
    );
    expect(message.attributes.map((a) => a.type)).toEqual([StunAttr.MessageIntegrity]);
    expect(verifyIntegrity(message, KEY)).toBe(true);
  });

  it.each([
    ['a short transaction id', { ...request(), transactionId: Buffer.alloc(11) }, /12 bytes/],
    ['a 13-bit method', { ...request(), method: 0x1000 }, /12-bit/],
    ['an unknown class', { ...request(), class: 'toString' as StunClass }, /class/],
    ['an oversized attribute', request([{ type: 1, value: Buffer.alloc(0x10000) }]), /too long/],
    ['a 17-bit attribute type', request([{ type: 0x10000, value: Buffer.alloc(0) }]), /16-bit/],
    ['a hand-made FINGERPRINT', request([{ type: StunAttr.Fingerprint, value: Buffer.alloc(4) }]), /options/],
    [
      'a hand-made MESSAGE-INTEGRITY-SHA256',
      request([{ type: StunAttr.MessageIntegritySha256, value: Buffer.alloc(32) }]),
      /options/,
    ],
    [
      'a message over 64 KiB',
      request([0, 1].map(() => ({ type: 1, value: Buffer.alloc(0xfff0) }))),
      /too long/,
    ],
  ])('refuses to encode %s', (_, message, error) => {
    expect(() => encodeStun(message)).toThrow(error);
  });
});

describe('MESSAGE-INTEGRITY-SHA256', () => {
  it('matches an HMAC-SHA256 computed independently over the adjusted message', async () => {
    const { createHmac } = await import('node:crypto');
    const message = request([{ type: StunAttr.Username, value: Buffer.from('alice:bob') }]);
    const packet = encodeStun(message, { integrityKey: KEY, fingerprint: true });
    const integrityAt = packet.length - 8 - 36;
    const covered = Buffer.from(packet.subarray(0, integrityAt));
    covered.writeUInt16BE(integrityAt + 36 - 20, 2); // as if the message ended after it
    const expected = createHmac('sha256', KEY).update(covered).digest();
    expect(packet.subarray(integrityAt + 4, integrityAt + 36)).toEqual(expected);
  });

  /** Flips bits everywhere up to the end of the integrity attribute, all that it covers. */
  function flipsAllFail(packet: Buffer): void {
    const integrityEnd = decoded(packet).integrityOffset! + 36;
    for (let i = 0; i < integrityEnd; i++) {
      for (const bit of [0x01, 0x80]) {
        const bad = Buffer.from(packet);
        bad[i]! ^= bit;
        const result = decodeStun(bad);
        expect(result.ok && verifyIntegrity(result.message, KEY), `byte ${i} bit ${bit}`).toBe(false);
      }
    }
  }

  it('fails on any flipped bit, fingerprint or not', () => {
    const message = request([
      { type: StunAttr.Username, value: Buffer.from('alice:b') }, // padded: the padding is covered too
      xorMappedAddressAttribute({ address: '2001:db8::1', port: 4242 }, Buffer.alloc(12)),
    ]);
    flipsAllFail(encodeStun(message, { integrityKey: KEY }));
    flipsAllFail(encodeStun(message, { integrityKey: KEY, fingerprint: true }));
  });

  /** A message signed with an HMAC cut to `length` bytes, as §14.6 allows senders to. */
  function truncatedMac(length: number): DecodedStunMessage {
    const base = encodeStun(request());
    const packet = Buffer.concat([base, Buffer.alloc(4 + length + ((4 - (length % 4)) % 4))]);
    packet.writeUInt16BE(packet.length - 20, 2);
    packet.writeUInt16BE(StunAttr.MessageIntegritySha256, 20);
    packet.writeUInt16BE(length, 22);
    integrityMac(packet, 20, length, KEY).copy(packet, 24, 0, length);
    return decoded(packet);
  }

  it('accepts an HMAC truncated to 16–32 bytes in steps of 4, nothing shorter or uneven', () => {
    expect([16, 20, 24, 28, 32].map((n) => verifyIntegrity(truncatedMac(n), KEY))).toEqual([
      true,
      true,
      true,
      true,
      true,
    ]);
    expect([4, 12, 18, 30].map((n) => verifyIntegrity(truncatedMac(n), KEY))).toEqual([
      false,
      false,
      false,
      false,
    ]);
  });

  it('is absent from an unsigned message', () => {
    expect(verifyIntegrity(decoded(encodeStun(request())), KEY)).toBe(false);
  });
});
