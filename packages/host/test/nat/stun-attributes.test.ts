import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesToIp } from '../../src/nat/ip.js';
import { BINDING, StunAttr, type StunAttribute, type StunMessage } from '../../src/nat/stun.js';
import {
  errorCodeAttribute,
  readErrorCode,
  readMappedAddress,
  readSoftware,
  readUnknownAttributes,
  readUsername,
  readXorMappedAddress,
  softwareAttribute,
  unknownAttributesAttribute,
  unknownRequiredAttributes,
  usernameAttribute,
  xorMappedAddressAttribute,
} from '../../src/nat/stun-attributes.js';

const transactionId = randomBytes(12);

function message(...attributes: StunAttribute[]): StunMessage {
  return { method: BINDING, class: 'success', transactionId, attributes };
}

function raw(type: number, hex: string): StunAttribute {
  return { type, value: Buffer.from(hex, 'hex') };
}

describe('XOR-MAPPED-ADDRESS and MAPPED-ADDRESS', () => {
  it('round-trips any IPv4 or IPv6 endpoint', () => {
    const address = fc
      .oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 16, maxLength: 16 }))
      .map(bytesToIp)
      .filter((a) => !a.startsWith('::ffff:'));
    fc.assert(
      fc.property(address, fc.integer({ min: 0, max: 0xffff }), (address, port) => {
        const attribute = xorMappedAddressAttribute({ address, port }, transactionId);
        expect(readXorMappedAddress(message(attribute))).toEqual({ address, port });
      }),
    );
  });

  it('writes an IPv4-mapped IPv6 source as IPv4, as the client knows itself', () => {
    const attribute = xorMappedAddressAttribute({ address: '::ffff:203.0.113.9', port: 1 }, transactionId);
    expect(attribute.value[1]).toBe(0x01);
    expect(readXorMappedAddress(message(attribute))).toEqual({ address: '203.0.113.9', port: 1 });
  });

  it('takes the first of repeated attributes', () => {
    const first = xorMappedAddressAttribute({ address: '10.0.0.1', port: 1 }, transactionId);
    const second = xorMappedAddressAttribute({ address: '10.0.0.2', port: 2 }, transactionId);
    expect(readXorMappedAddress(message(first, second))).toEqual({ address: '10.0.0.1', port: 1 });
  });

  it('reads a plain MAPPED-ADDRESS', () => {
    expect(readMappedAddress(message(raw(StunAttr.MappedAddress, '0001a1477f000001')))).toEqual({
      address: '127.0.0.1',
      port: 0xa147,
    });
  });

  it.each([
    ['an unknown family', '0003a147e112a643'],
    ['an IPv4 value too short', '0001a147e112a6'],
    ['an IPv4 value too long', '0001a147e112a64300'],
    ['an IPv6 family with 4 bytes', '0002a147e112a643'],
    ['no address at all', '0001'],
    ['nothing', ''],
  ])('gives undefined for %s', (_, hex) => {
    expect(readXorMappedAddress(message(raw(StunAttr.XorMappedAddress, hex)))).toBeUndefined();
    expect(readMappedAddress(message(raw(StunAttr.MappedAddress, hex)))).toBeUndefined();
  });

  it('is undefined when absent', () => {
    expect(readXorMappedAddress(message())).toBeUndefined();
  });

  it.each([
    [{ address: 'example.org', port: 1 }, /not an IP address/],
    [{ address: '10.0.0.1', port: 65536 }, /not a port/],
    [{ address: '10.0.0.1', port: 1.5 }, /not a port/],
  ])('refuses to encode %o', (endpoint, error) => {
    expect(() => xorMappedAddressAttribute(endpoint, transactionId)).toThrow(error);
  });
});

describe('USERNAME and SOFTWARE', () => {
  it('round-trip UTF-8 text', () => {
    expect(readUsername(message(usernameAttribute('ローカル:peer')))).toBe('ローカル:peer');
    expect(readSoftware(message(softwareAttribute('mesh-agent 0.1.0')))).toBe('mesh-agent 0.1.0');
  });

  it('refuse text over the limits when encoding (509 bytes; 128 characters for SOFTWARE)', () => {
    expect(usernameAttribute('u'.repeat(508)).value.length).toBe(508);
    expect(() => usernameAttribute('u'.repeat(509))).toThrow(/USERNAME is too long/);
    expect(softwareAttribute('é'.repeat(127)).value.length).toBe(254);
    expect(() => softwareAttribute('s'.repeat(128))).toThrow(/SOFTWARE is too long/);
  });

  it('read up to 763 bytes, and only valid UTF-8', () => {
    const read = (value: Buffer) => readUsername(message({ type: StunAttr.Username, value }));
    expect(read(Buffer.alloc(763, 'a'))).toHaveLength(763);
    expect(read(Buffer.alloc(764, 'a'))).toBeUndefined();
    expect(read(Buffer.from([0x61, 0xff, 0x62]))).toBeUndefined();
    expect(read(Buffer.from([0xe3, 0x83]))).toBeUndefined();
  });
});

describe('ERROR-CODE', () => {
  it('round-trips a code and reason', () => {
    const attribute = errorCodeAttribute({ code: 420, reason: 'Unknown Attribute' });
    expect(attribute.value.subarray(0, 4).toString('hex')).toBe('00000414');
    expect(readErrorCode(message(attribute))).toEqual({ code: 420, reason: 'Unknown Attribute' });
    expect(readErrorCode(message(errorCodeAttribute({ code: 699, reason: '' })))).toEqual({
      code: 699,
      reason: '',
    });
  });

  it.each([299, 700, 400.5])('refuses to encode code %d', (code) => {
    expect(() => errorCodeAttribute({ code, reason: 'x' })).toThrow(/300–699/);
  });

  it.each([
    ['a class below 3', '00000214'],
    ['a class above 6', '00000714'],
    ['a number above 99', '00000464'],
    ['no room for the code', '000004'],
    ['a reason that is not UTF-8', '00000414ff'],
  ])('gives undefined for %s', (_, hex) => {
    expect(readErrorCode(message(raw(StunAttr.ErrorCode, hex)))).toBeUndefined();
  });

  it('ignores the reserved bits around the class', () => {
    expect(readErrorCode(message(raw(StunAttr.ErrorCode, 'fffffc14')))).toEqual({ code: 420, reason: '' });
  });
});

describe('UNKNOWN-ATTRIBUTES', () => {
  it('round-trips a list of types', () => {
    expect(readUnknownAttributes(message(unknownAttributesAttribute([0x0024, 0x7fff])))).toEqual([
      0x0024, 0x7fff,
    ]);
    expect(readUnknownAttributes(message(raw(StunAttr.UnknownAttributes, '002400')))).toBeUndefined();
  });

  it('lists the comprehension-required types not understood, once each', () => {
    const m = message(
      raw(0x0024, '00000000'),
      raw(0x0024, '00000000'),
      raw(0x8029, '0000000000000000'),
      usernameAttribute('a'),
      raw(0x7fff, ''),
    );
    expect(unknownRequiredAttributes(m)).toEqual([0x0024, 0x7fff]);
    expect(unknownRequiredAttributes(m, new Set([0x0024, 0x7fff, StunAttr.Username]))).toEqual([]);
  });
});
