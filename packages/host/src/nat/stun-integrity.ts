import { createHmac, timingSafeEqual } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { DecodedStunMessage } from './stun.js';

const FINGERPRINT_XOR = 0x5354554e;
const MIN_MAC_LENGTH = 16;
const FULL_MAC_LENGTH = 32;

/**
 * The 2-byte message length an integrity attribute at `attrOffset` with a `valueLength`-byte
 * value is computed with (RFC 8489 §14.5, §14.6): as if that attribute ended the message,
 * whatever follows it.
 */
function lengthThrough(attrOffset: number, valueLength: number): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(attrOffset + 4 + valueLength - 20);
  return length;
}

/**
 * The HMAC (RFC 8489 §14.6) of `packet` up to the integrity attribute that starts at `attrOffset`
 * and carries `valueLength` bytes of it. `algorithm` is sha256 for MESSAGE-INTEGRITY-SHA256; sha1
 * would be the legacy MESSAGE-INTEGRITY, which only the RFC 5769 test vectors use here.
 */
export function integrityMac(
  packet: Buffer,
  attrOffset: number,
  valueLength: number,
  key: Uint8Array,
  algorithm: 'sha1' | 'sha256' = 'sha256',
): Buffer {
  return createHmac(algorithm, key)
    .update(packet.subarray(0, 2))
    .update(lengthThrough(attrOffset, valueLength))
    .update(packet.subarray(4, attrOffset))
    .digest();
}

/**
 * The FINGERPRINT value (RFC 8489 §14.7) for one that starts at `attrOffset`. FINGERPRINT is
 * always last, so the header's length already counts it, as the CRC needs.
 */
export function fingerprintOf(packet: Buffer, attrOffset: number): number {
  return (crc32(packet.subarray(0, attrOffset)) ^ FINGERPRINT_XOR) >>> 0;
}

/**
 * Whether `message` carries a MESSAGE-INTEGRITY-SHA256 made with `key`, compared in constant
 * time. A value shorter than 16 bytes or not a multiple of 4 never verifies (§14.6).
 */
export function verifyIntegrity(message: DecodedStunMessage, key: Uint8Array): boolean {
  const offset = message.integrityOffset;
  if (offset === undefined) return false;
  const length = message.packet.readUInt16BE(offset + 2);
  if (length < MIN_MAC_LENGTH || length > FULL_MAC_LENGTH || length % 4 !== 0) return false;
  const expected = integrityMac(message.packet, offset, length, key).subarray(0, length);
  return timingSafeEqual(expected, message.packet.subarray(offset + 4, offset + 4 + length));
}
