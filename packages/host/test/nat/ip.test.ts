import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesToIp, canonicalIp, ipToBytes, sameEndpoint } from '../../src/nat/ip.js';

describe('ipToBytes / bytesToIp', () => {
  it.each([
    ['192.0.2.1', 'c0000201'],
    ['::', '00000000000000000000000000000000'],
    ['::1', '00000000000000000000000000000001'],
    ['2001:db8:1234:5678:11:2233:4455:6677', '20010db8123456780011223344556677'],
    ['2001:DB8::1', '20010db8000000000000000000000001'],
    ['fe80::1%eth0', 'fe800000000000000000000000000001'],
    ['::ffff:192.0.2.1', '00000000000000000000ffffc0000201'],
    ['64:ff9b::10.0.0.1', '0064ff9b00000000000000000a000001'],
  ])('reads %s', (text, hex) => {
    expect(ipToBytes(text)?.toString('hex')).toBe(hex);
  });

  it.each(['', 'localhost', '1.2.3', '256.0.0.1', '1::2::3', 'g::1', '::1 '])('refuses %j', (text) => {
    expect(ipToBytes(text)).toBeUndefined();
  });

  it.each([
    ['20010db8000000000000000000000001', '2001:db8::1'],
    ['20010db8000000010000000000000001', '2001:db8:0:1::1'], // the longer run of zeros wins
    ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'], // on a tie, the first
    ['20010db8000100010001000100010001', '2001:db8:1:1:1:1:1:1'],
    ['20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'], // one zero group stays
    ['00000000000000000000000000000000', '::'],
    ['00000000000000000000ffff7f000001', '::ffff:127.0.0.1'],
  ])('writes %s as %s (RFC 5952)', (hex, text) => {
    expect(bytesToIp(Buffer.from(hex, 'hex'))).toBe(text);
  });

  it('refuses byte counts other than 4 and 16', () => {
    expect(() => bytesToIp(Buffer.alloc(5))).toThrow(/4 or 16 bytes/);
  });

  it('round-trips any address', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ minLength: 4, maxLength: 4 }),
          fc.uint8Array({ minLength: 16, maxLength: 16 }),
        ),
        (bytes) => {
          expect(ipToBytes(bytesToIp(bytes))).toEqual(Buffer.from(bytes));
        },
      ),
    );
  });
});

describe('canonicalIp / sameEndpoint', () => {
  it('spells an address one way', () => {
    expect(canonicalIp('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(canonicalIp('2001:DB8:0:0::1')).toBe('2001:db8::1');
    expect(canonicalIp('10.0.0.1')).toBe('10.0.0.1');
    expect(canonicalIp('example.org')).toBeUndefined();
  });

  it('compares address and port', () => {
    expect(sameEndpoint({ address: '::ffff:10.0.0.1', port: 5 }, { address: '10.0.0.1', port: 5 })).toBe(
      true,
    );
    expect(sameEndpoint({ address: '10.0.0.1', port: 5 }, { address: '10.0.0.1', port: 6 })).toBe(false);
    expect(sameEndpoint({ address: '10.0.0.1', port: 5 }, { address: '10.0.0.2', port: 5 })).toBe(false);
    expect(sameEndpoint({ address: 'a.example', port: 5 }, { address: 'b.example', port: 5 })).toBe(false);
  });
});
